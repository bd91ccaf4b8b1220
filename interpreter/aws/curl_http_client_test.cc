#include "aws/curl_http_client.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "aws/test_servers.h"

namespace cairn::aws {
namespace {

using std::chrono::milliseconds;
using testing::LocalHttpServer;

nlohmann::json RequestAsJson(const httplib::Request& req) {
  nlohmann::json headers = nlohmann::json::object();
  for (const auto& [name, value] : req.headers) headers[name] = value;
  return {{"method", req.method},
          {"path", req.path},
          {"body", req.body},
          {"headers", headers},
          {"query", req.params.count("a") ? req.get_param_value("a") : ""}};
}

class CurlHttpClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto echo = [](const httplib::Request& req, httplib::Response& res) {
      res.set_header("X-Amzn-RequestId", "req-123");
      res.set_content(RequestAsJson(req).dump(), "application/json");
    };
    server_.server().Get("/echo", echo);
    server_.server().Post("/echo", echo);
    server_.server().Put("/echo", echo);
    server_.server().Delete("/echo", echo);
    server_.server().Get("/status/500", [](const httplib::Request&, httplib::Response& res) {
      res.status = 500;
      res.set_content("{\"message\":\"boom\"}", "application/json");
    });
    server_.server().Get("/status/429", [](const httplib::Request&, httplib::Response& res) {
      res.status = 429;
      res.set_header("Retry-After", "2");
      res.set_content("slow down", "text/plain");
    });
    server_.server().Get("/stall", [this](const httplib::Request&, httplib::Response& res) {
      server_.WaitForRelease(10);
      res.set_content("late", "text/plain");
    });
    server_.server().Get("/big", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(std::string(4096, 'x'), "text/plain");
    });
    ASSERT_TRUE(server_.Start());
  }

  HttpRequest Request(std::string method, std::string path, std::string body = {}) {
    HttpRequest request;
    request.method = std::move(method);
    request.path = std::move(path);
    request.headers.push_back({"Host", "127.0.0.1:" + std::to_string(server_.port())});
    request.body = std::move(body);
    return request;
  }

  LocalHttpServer server_;
  CurlHttpClient client_;
  HttpCallOptions options_;
};

TEST_F(CurlHttpClientTest, SendsExactlyTheRequestAndCapturesTheResponse) {
  HttpRequest request = Request("POST", "/echo", std::string(5000, 'b'));
  request.query = "a=1%202";
  request.headers.push_back({"X-Amz-Target", "DynamoDB_20120810.PutItem"});
  Result<HttpResponse> response = client_.Send(server_.url(), request, options_);
  ASSERT_TRUE(response.ok()) << response.error().ToString();
  EXPECT_EQ(response->status, 200);
  ASSERT_NE(response->FindHeader("x-amzn-requestid"), nullptr);
  EXPECT_EQ(*response->FindHeader("x-amzn-requestid"), "req-123");
  EXPECT_EQ(response->FindHeader("X-Not-There"), nullptr);
  nlohmann::json seen = nlohmann::json::parse(response->body);
  EXPECT_EQ(seen["method"], "POST");
  EXPECT_EQ(seen["path"], "/echo");
  EXPECT_EQ(seen["query"], "1 2");
  EXPECT_EQ(seen["body"], std::string(5000, 'b'));
  EXPECT_EQ(seen["headers"]["X-Amz-Target"], "DynamoDB_20120810.PutItem");
  EXPECT_EQ(seen["headers"]["Content-Length"], "5000");
  // Nothing that was not asked for (and so not signed) is added, except
  // Content-Length and cpp-httplib's own bookkeeping.
  EXPECT_FALSE(seen["headers"].contains("Expect"));
  EXPECT_FALSE(seen["headers"].contains("Content-Type"));
  EXPECT_FALSE(seen["headers"].contains("Accept"));
  EXPECT_FALSE(seen["headers"].contains("User-Agent"));
}

TEST_F(CurlHttpClientTest, MethodsAndEmptyBodies) {
  for (std::string method : {"GET", "PUT", "DELETE", "POST"}) {
    Result<HttpResponse> response = client_.Send(server_.url(), Request(method, "/echo"), options_);
    ASSERT_TRUE(response.ok()) << method << ": " << response.error().ToString();
    nlohmann::json seen = nlohmann::json::parse(response->body);
    EXPECT_EQ(seen["method"], method);
    EXPECT_EQ(seen["body"], "");
  }
  Result<HttpResponse> put = client_.Send(server_.url(), Request("PUT", "/echo", "v"), options_);
  ASSERT_TRUE(put.ok());
  EXPECT_EQ(nlohmann::json::parse(put->body)["body"], "v");
}

TEST_F(CurlHttpClientTest, ErrorStatusesAreResponses) {
  Result<HttpResponse> r500 = client_.Send(server_.url(), Request("GET", "/status/500"), options_);
  ASSERT_TRUE(r500.ok());
  EXPECT_EQ(r500->status, 500);
  EXPECT_EQ(r500->body, "{\"message\":\"boom\"}");
  Result<HttpResponse> r429 = client_.Send(server_.url(), Request("GET", "/status/429"), options_);
  ASSERT_TRUE(r429.ok());
  EXPECT_EQ(r429->status, 429);
  ASSERT_NE(r429->FindHeader("retry-after"), nullptr);
  EXPECT_EQ(*r429->FindHeader("retry-after"), "2");
  Result<HttpResponse> r404 = client_.Send(server_.url(), Request("GET", "/nowhere"), options_);
  ASSERT_TRUE(r404.ok());
  EXPECT_EQ(r404->status, 404);
}

TEST_F(CurlHttpClientTest, ReusesOneConnectionForSequentialRequests) {
  for (int i = 0; i < 20; ++i) {
    Result<HttpResponse> response = client_.Send(server_.url(), Request("GET", "/echo"), options_);
    ASSERT_TRUE(response.ok()) << response.error().ToString();
  }
  EXPECT_EQ(client_.connections_opened(), 1);
}

TEST_F(CurlHttpClientTest, ConcurrentSendsAllSucceed) {
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        Result<HttpResponse> response = client_.Send(
            server_.url(), Request("POST", "/echo", std::to_string(t * 100 + i)), options_);
        if (response.ok() &&
            nlohmann::json::parse(response->body)["body"] == std::to_string(t * 100 + i)) {
          ++ok;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(ok.load(), 40);
  // Each thread holds one handle at a time, so at most ~4 connections.
  EXPECT_LE(client_.connections_opened(), 8);
}

TEST_F(CurlHttpClientTest, StallHitsTheTimeout) {
  HttpCallOptions options;
  options.timeout = milliseconds(300);
  auto start = std::chrono::steady_clock::now();
  Result<HttpResponse> response = client_.Send(server_.url(), Request("GET", "/stall"), options);
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().code, "http.timeout");
  EXPECT_NE(response.error().message.find("127.0.0.1:" + std::to_string(server_.port())),
            std::string::npos)
      << response.error().message;
  EXPECT_LT(elapsed, std::chrono::seconds(3));
  server_.Release();
}

TEST_F(CurlHttpClientTest, ResponseLargerThanTheLimitFails) {
  CurlHttpClient small(CurlHttpClient::Options{.max_idle_handles = 1, .max_response_bytes = 1000});
  Result<HttpResponse> response = small.Send(server_.url(), Request("GET", "/big"), options_);
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().code, "http.transport");
  EXPECT_NE(response.error().message.find("larger than 1000 bytes"), std::string::npos);
}

TEST_F(CurlHttpClientTest, IgnoresProxyVariables) {
  // A proxy that does not exist: if libcurl used it, the request would fail.
  std::string dead = "http://127.0.0.1:" + std::to_string(testing::UnusedPort());
  setenv("http_proxy", dead.c_str(), 1);
  setenv("ALL_PROXY", dead.c_str(), 1);
  Result<HttpResponse> response = client_.Send(server_.url(), Request("GET", "/echo"), options_);
  unsetenv("http_proxy");
  unsetenv("ALL_PROXY");
  ASSERT_TRUE(response.ok()) << response.error().ToString();
  EXPECT_EQ(response->status, 200);
}

TEST_F(CurlHttpClientTest, HeaderValuesNeverAppearInErrors) {
  HttpRequest request = Request("GET", "/echo");
  request.headers.push_back(
      {"Authorization", "AWS4-HMAC-SHA256 Credential=SECRETISH\r\nX-Injected: 1"});
  Result<HttpResponse> response = client_.Send(server_.url(), request, options_);
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().code, "http.transport");
  EXPECT_EQ(response.error().message.find("SECRETISH"), std::string::npos);
  EXPECT_NE(response.error().message.find("Authorization"), std::string::npos);
}

TEST(CurlHttpClientFaultTest, ConnectionResetIsATransportError) {
  testing::ResettingServer server;
  CurlHttpClient client;
  HttpRequest request{
      .method = "POST", .path = "/", .headers = {{"Host", "127.0.0.1"}}, .body = "{}"};
  Result<HttpResponse> response = client.Send(server.url(), request, HttpCallOptions{});
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().code, "http.transport") << response.error().message;
  EXPECT_NE(response.error().message.find("127.0.0.1:" + std::to_string(server.port())),
            std::string::npos)
      << response.error().message;
  EXPECT_GE(server.connections(), 1);
}

TEST(CurlHttpClientFaultTest, NothingListeningIsAConnectError) {
  CurlHttpClient client;
  int port = testing::UnusedPort();
  HttpRequest request{.method = "GET", .path = "/", .headers = {{"Host", "127.0.0.1"}}};
  Result<HttpResponse> response =
      client.Send("http://127.0.0.1:" + std::to_string(port), request, HttpCallOptions{});
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().code, "http.connect");
  EXPECT_NE(response.error().message.find("127.0.0.1:" + std::to_string(port)), std::string::npos);
}

TEST_F(CurlHttpClientTest, TlsToAPlainServerIsATlsError) {
  HttpRequest request = Request("GET", "/echo");
  Result<HttpResponse> response =
      client_.Send("https://127.0.0.1:" + std::to_string(server_.port()), request, options_);
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().code, "http.tls") << response.error().message;
}

}  // namespace
}  // namespace cairn::aws
