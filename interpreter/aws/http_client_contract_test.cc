// The HttpClient contract (http_client.h), checked against each
// implementation: CurlHttpClient (libcurl, loaded on first use) and
// HttplibHttpClient (cpp-httplib), on real cpp-httplib servers on 127.0.0.1,
// plain and TLS (a self-signed certificate made for the test).
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <vector>

#include "aws/curl_http_client.h"
#include "aws/httplib_http_client.h"
#include "aws/test_servers.h"

namespace cairn::aws {
namespace {

using std::chrono::milliseconds;
using testing::LocalHttpServer;

// One implementation under test, with its own counter of opened connections.
struct Client {
  std::unique_ptr<HttpClient> http;
  std::function<int64_t()> connections_opened;
};

Client MakeClient(const std::string& kind, size_t max_response_bytes = 64u << 20,
                  std::string ca_bundle = {}) {
  Client c;
  if (kind == "curl") {
    auto curl = std::make_unique<CurlHttpClient>(CurlHttpClient::Options{
        .max_idle_handles = 16, .max_response_bytes = max_response_bytes, .ca_bundle = ca_bundle});
    CurlHttpClient* raw = curl.get();
    c.connections_opened = [raw] { return raw->connections_opened(); };
    c.http = std::move(curl);
  } else {
    auto httplib = std::make_unique<HttplibHttpClient>(HttplibHttpClient::Options{
        .max_idle_per_host = 8, .max_response_bytes = max_response_bytes, .ca_bundle = ca_bundle});
    HttplibHttpClient* raw = httplib.get();
    c.connections_opened = [raw] { return raw->connections_opened(); };
    c.http = std::move(httplib);
  }
  return c;
}

nlohmann::json RequestAsJson(const httplib::Request& req) {
  nlohmann::json headers = nlohmann::json::object();
  for (const auto& [name, value] : req.headers) headers[name] = value;
  return {{"method", req.method},
          {"path", req.path},
          {"target", req.target},
          {"body", req.body},
          {"headers", headers},
          {"query", req.params.count("a") ? req.get_param_value("a") : ""}};
}

void AddRoutes(httplib::Server& server, LocalHttpServer* stallable) {
  auto echo = [](const httplib::Request& req, httplib::Response& res) {
    res.set_header("X-Amzn-RequestId", "req-123");
    res.set_content(RequestAsJson(req).dump(), "application/json");
  };
  server.Get("/echo", echo);
  server.Post("/echo", echo);
  server.Put("/echo", echo);
  server.Delete("/echo", echo);
  server.Get("/status/500", [](const httplib::Request&, httplib::Response& res) {
    res.status = 500;
    res.set_content("{\"message\":\"boom\"}", "application/json");
  });
  server.Get("/status/429", [](const httplib::Request&, httplib::Response& res) {
    res.status = 429;
    res.set_header("Retry-After", "2");
    res.set_content("slow down", "text/plain");
  });
  server.Get("/big", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string(4096, 'x'), "text/plain");
  });
  server.Get("/slow", [](const httplib::Request&, httplib::Response& res) {
    std::this_thread::sleep_for(milliseconds(300));
    res.set_content("patient", "text/plain");
  });
  if (stallable != nullptr) {
    server.Get("/stall", [stallable](const httplib::Request&, httplib::Response& res) {
      stallable->WaitForRelease(10);
      res.set_content("late", "text/plain");
    });
  }
}

class HttpClientContractTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    AddRoutes(server_.server(), &server_);
    ASSERT_TRUE(server_.Start());
    client_ = MakeClient(GetParam());
  }

  HttpRequest Request(std::string method, std::string path, std::string body = {}) {
    HttpRequest request;
    request.method = std::move(method);
    request.path = std::move(path);
    request.headers.push_back({"Host", "127.0.0.1:" + std::to_string(server_.port())});
    request.body = std::move(body);
    return request;
  }

  Result<HttpResponse> Send(const HttpRequest& request, HttpCallOptions options = {}) {
    return client_.http->Send(server_.url(), request, options);
  }

  LocalHttpServer server_;
  Client client_;
};

INSTANTIATE_TEST_SUITE_P(Implementations, HttpClientContractTest,
                         ::testing::Values("curl", "httplib"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

TEST_P(HttpClientContractTest, SendsTheRequestAndCapturesTheResponse) {
  HttpRequest request = Request("POST", "/echo", std::string(5000, 'b'));
  request.query = "a=1%202";
  request.headers.push_back({"X-Amz-Target", "DynamoDB_20120810.PutItem"});
  Result<HttpResponse> response = Send(request);
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
  // What was sent beyond the request's headers, Content-Length and
  // cpp-httplib's server-side bookkeeping: nothing for libcurl; for
  // cpp-httplib exactly the defaults its header documents.
  std::set<std::string> extra;
  for (const auto& [name, value] : seen["headers"].items()) {
    if (name == "Host" || name == "X-Amz-Target" || name == "Content-Length" ||
        name.starts_with("REMOTE_") || name.starts_with("LOCAL_")) {
      continue;
    }
    extra.insert(name);
  }
  if (GetParam() == "curl") {
    EXPECT_TRUE(extra.empty()) << seen["headers"].dump();
  } else {
    EXPECT_EQ(extra, (std::set<std::string>{"Accept", "Content-Type", "User-Agent"}))
        << seen["headers"].dump();
  }
}

TEST_P(HttpClientContractTest, HeadersTheRequestSetsAreSentAsTheyAre) {
  HttpRequest request = Request("POST", "/echo", "{}");
  request.query = "a=1+2&b=%2F";  // sent as given: not re-encoded
  request.headers.push_back({"Content-Type", "application/x-amz-json-1.0"});
  request.headers.push_back({"Accept", "application/json"});
  request.headers.push_back({"User-Agent", "cairn-test"});
  Result<HttpResponse> response = Send(request);
  ASSERT_TRUE(response.ok()) << response.error().ToString();
  nlohmann::json seen = nlohmann::json::parse(response->body);
  EXPECT_EQ(seen["target"], "/echo?a=1+2&b=%2F");
  EXPECT_EQ(seen["headers"]["Content-Type"], "application/x-amz-json-1.0");
  EXPECT_EQ(seen["headers"]["Accept"], "application/json");
  EXPECT_EQ(seen["headers"]["User-Agent"], "cairn-test");
  EXPECT_FALSE(seen["headers"].contains("Expect"));
  EXPECT_FALSE(seen["headers"].contains("Accept-Encoding"));
}

TEST_P(HttpClientContractTest, MethodsAndEmptyBodies) {
  for (std::string method : {"GET", "PUT", "DELETE", "POST"}) {
    Result<HttpResponse> response = Send(Request(method, "/echo"));
    ASSERT_TRUE(response.ok()) << method << ": " << response.error().ToString();
    nlohmann::json seen = nlohmann::json::parse(response->body);
    EXPECT_EQ(seen["method"], method);
    EXPECT_EQ(seen["body"], "");
  }
  Result<HttpResponse> put = Send(Request("PUT", "/echo", "v"));
  ASSERT_TRUE(put.ok());
  EXPECT_EQ(nlohmann::json::parse(put->body)["body"], "v");
}

TEST_P(HttpClientContractTest, ErrorStatusesAreResponses) {
  Result<HttpResponse> r500 = Send(Request("GET", "/status/500"));
  ASSERT_TRUE(r500.ok());
  EXPECT_EQ(r500->status, 500);
  EXPECT_EQ(r500->body, "{\"message\":\"boom\"}");
  Result<HttpResponse> r429 = Send(Request("GET", "/status/429"));
  ASSERT_TRUE(r429.ok());
  EXPECT_EQ(r429->status, 429);
  ASSERT_NE(r429->FindHeader("retry-after"), nullptr);
  EXPECT_EQ(*r429->FindHeader("retry-after"), "2");
  Result<HttpResponse> r404 = Send(Request("GET", "/nowhere"));
  ASSERT_TRUE(r404.ok());
  EXPECT_EQ(r404->status, 404);
}

TEST_P(HttpClientContractTest, ReusesOneConnectionForSequentialRequests) {
  for (int i = 0; i < 20; ++i) {
    Result<HttpResponse> response = Send(Request(i % 2 ? "GET" : "POST", "/echo", "x"));
    ASSERT_TRUE(response.ok()) << response.error().ToString();
  }
  EXPECT_EQ(client_.connections_opened(), 1);
}

TEST_P(HttpClientContractTest, KeepsAConnectionPerHost) {
  LocalHttpServer other;
  AddRoutes(other.server(), nullptr);
  ASSERT_TRUE(other.Start());
  for (int i = 0; i < 10; ++i) {
    LocalHttpServer& server = i % 2 ? other : server_;
    HttpRequest request = Request("GET", "/echo");
    request.headers[0].value = "127.0.0.1:" + std::to_string(server.port());
    Result<HttpResponse> response = client_.http->Send(server.url(), request, HttpCallOptions{});
    ASSERT_TRUE(response.ok()) << response.error().ToString();
  }
  EXPECT_EQ(client_.connections_opened(), 2);
}

TEST_P(HttpClientContractTest, ConcurrentSendsAllSucceed) {
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        Result<HttpResponse> response =
            Send(Request("POST", "/echo", std::to_string(t * 100 + i)));
        if (response.ok() &&
            nlohmann::json::parse(response->body)["body"] == std::to_string(t * 100 + i)) {
          ++ok;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(ok.load(), 40);
  // Each thread holds one connection at a time, so at most ~4 connections.
  EXPECT_LE(client_.connections_opened(), 8);
}

TEST_P(HttpClientContractTest, StallHitsTheTimeout) {
  HttpCallOptions options;
  options.timeout = milliseconds(300);
  auto start = std::chrono::steady_clock::now();
  Result<HttpResponse> response = Send(Request("GET", "/stall"), options);
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().code, "http.timeout") << response.error().message;
  EXPECT_NE(response.error().message.find("127.0.0.1:" + std::to_string(server_.port())),
            std::string::npos)
      << response.error().message;
  EXPECT_GE(elapsed, milliseconds(250));
  EXPECT_LT(elapsed, std::chrono::seconds(3));
  server_.Release();
}

TEST_P(HttpClientContractTest, ZeroTimeoutsMeanNoLimit) {
  HttpCallOptions options;
  options.timeout = milliseconds(0);
  options.connect_timeout = milliseconds(0);
  Result<HttpResponse> response = Send(Request("GET", "/slow"), options);
  ASSERT_TRUE(response.ok()) << response.error().ToString();
  EXPECT_EQ(response->body, "patient");
}

TEST_P(HttpClientContractTest, ResponseLargerThanTheLimitFails) {
  Client small = MakeClient(GetParam(), 1000);
  Result<HttpResponse> response =
      small.http->Send(server_.url(), Request("GET", "/big"), HttpCallOptions{});
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().code, "http.transport");
  EXPECT_NE(response.error().message.find("larger than 1000 bytes"), std::string::npos)
      << response.error().message;
}

TEST_P(HttpClientContractTest, IgnoresProxyVariables) {
  // A proxy that does not exist: if the client used it, the request would fail.
  std::string dead = "http://127.0.0.1:" + std::to_string(testing::UnusedPort());
  setenv("http_proxy", dead.c_str(), 1);
  setenv("ALL_PROXY", dead.c_str(), 1);
  Result<HttpResponse> response = Send(Request("GET", "/echo"));
  unsetenv("http_proxy");
  unsetenv("ALL_PROXY");
  ASSERT_TRUE(response.ok()) << response.error().ToString();
  EXPECT_EQ(response->status, 200);
}

TEST_P(HttpClientContractTest, HeaderValuesNeverAppearInErrors) {
  HttpRequest request = Request("GET", "/echo");
  request.headers.push_back(
      {"Authorization", "AWS4-HMAC-SHA256 Credential=SECRETISH\r\nX-Injected: 1"});
  Result<HttpResponse> response = Send(request);
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().code, "http.transport");
  EXPECT_EQ(response.error().message.find("SECRETISH"), std::string::npos);
  EXPECT_NE(response.error().message.find("Authorization"), std::string::npos);
}

TEST_P(HttpClientContractTest, ConnectionResetIsATransportError) {
  testing::ResettingServer server;
  HttpRequest request{
      .method = "POST", .path = "/", .headers = {{"Host", "127.0.0.1"}}, .body = "{}"};
  Result<HttpResponse> response = client_.http->Send(server.url(), request, HttpCallOptions{});
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().code, "http.transport") << response.error().message;
  EXPECT_NE(response.error().message.find("127.0.0.1:" + std::to_string(server.port())),
            std::string::npos)
      << response.error().message;
  EXPECT_GE(server.connections(), 1);
}

TEST_P(HttpClientContractTest, NothingListeningIsAConnectError) {
  int port = testing::UnusedPort();
  HttpRequest request{.method = "GET", .path = "/", .headers = {{"Host", "127.0.0.1"}}};
  Result<HttpResponse> response = client_.http->Send("http://127.0.0.1:" + std::to_string(port),
                                                     request, HttpCallOptions{});
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().code, "http.connect") << response.error().message;
  EXPECT_NE(response.error().message.find("127.0.0.1:" + std::to_string(port)), std::string::npos);
}

TEST_P(HttpClientContractTest, TlsToAPlainServerIsATlsError) {
  Result<HttpResponse> response = client_.http->Send(
      "https://127.0.0.1:" + std::to_string(server_.port()), Request("GET", "/echo"),
      HttpCallOptions{});
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().code, "http.tls") << response.error().message;
}

// ---- TLS -----------------------------------------------------------------------

// A self-signed certificate (its own CA) for `subject_alt_name`, in PEM.
struct Certificate {
  std::string cert_pem;
  std::string key_pem;
};

Certificate MakeCertificate(const std::string& common_name, const std::string& subject_alt_name) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), static_cast<long>(std::hash<std::string>{}(common_name) & 0x7fffffff));
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 24 * 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  const std::pair<int, std::string> extensions[] = {
      {NID_basic_constraints, "critical,CA:TRUE"},
      {NID_subject_key_identifier, "hash"},
      {NID_subject_alt_name, subject_alt_name}};
  for (const auto& [nid, value] : extensions) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
  }
  X509_sign(cert, key, EVP_sha256());
  auto pem = [](auto write) {
    BIO* bio = BIO_new(BIO_s_mem());
    write(bio);
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<size_t>(n));
    BIO_free(bio);
    return out;
  };
  Certificate out{pem([&](BIO* bio) { PEM_write_bio_X509(bio, cert); }),
                  pem([&](BIO* bio) {
                    PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
                  })};
  X509_free(cert);
  EVP_PKEY_free(key);
  return out;
}

// An httplib::SSLServer on 127.0.0.1 presenting `certificate`.
class TlsServer {
 public:
  explicit TlsServer(const Certificate& certificate) {
    BIO* cert_bio = BIO_new_mem_buf(certificate.cert_pem.data(),
                                    static_cast<int>(certificate.cert_pem.size()));
    BIO* key_bio = BIO_new_mem_buf(certificate.key_pem.data(),
                                   static_cast<int>(certificate.key_pem.size()));
    X509* cert = PEM_read_bio_X509(cert_bio, nullptr, nullptr, nullptr);
    EVP_PKEY* key = PEM_read_bio_PrivateKey(key_bio, nullptr, nullptr, nullptr);
    server_ = std::make_unique<httplib::SSLServer>(cert, key);
    X509_free(cert);
    EVP_PKEY_free(key);
    BIO_free(cert_bio);
    BIO_free(key_bio);
    AddRoutes(*server_, nullptr);
    server_->set_tcp_nodelay(true);
    server_->set_keep_alive_max_count(1000);
    port_ = server_->bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    for (int i = 0; i < 500 && !server_->is_running(); ++i) {
      std::this_thread::sleep_for(milliseconds(2));
    }
  }
  ~TlsServer() {
    server_->stop();
    thread_.join();
  }
  bool ok() const { return server_->is_valid() && port_ > 0; }
  int port() const { return port_; }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(port_); }

 private:
  std::unique_ptr<httplib::SSLServer> server_;
  int port_ = 0;
  std::thread thread_;
};

class HttpClientTlsTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    for_ip_ = MakeCertificate("cairn test 127.0.0.1", "IP:127.0.0.1");
    for_other_name_ = MakeCertificate("cairn test elsewhere", "DNS:elsewhere.invalid");
    ca_file_ = std::filesystem::temp_directory_path() /
               ("cairn-http-ca-" + std::to_string(getpid()) + "-" + GetParam() + ".pem");
    FILE* f = std::fopen(ca_file_.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs((for_ip_.cert_pem + for_other_name_.cert_pem).c_str(), f);
    std::fclose(f);
  }
  void TearDown() override { std::filesystem::remove(ca_file_); }

  static HttpRequest Request(int port) {
    return HttpRequest{.method = "POST",
                       .path = "/echo",
                       .headers = {{"Host", "127.0.0.1:" + std::to_string(port)},
                                   {"Content-Type", "application/json"}},
                       .body = "{\"tls\":true}"};
  }

  Certificate for_ip_, for_other_name_;
  std::filesystem::path ca_file_;
};

INSTANTIATE_TEST_SUITE_P(Implementations, HttpClientTlsTest, ::testing::Values("curl", "httplib"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

TEST_P(HttpClientTlsTest, TrustsTheCaBundleAndReusesTheConnection) {
  TlsServer server(for_ip_);
  ASSERT_TRUE(server.ok());
  Client client = MakeClient(GetParam(), 64u << 20, ca_file_.string());
  for (int i = 0; i < 3; ++i) {
    Result<HttpResponse> response =
        client.http->Send(server.url(), Request(server.port()), HttpCallOptions{});
    ASSERT_TRUE(response.ok()) << response.error().ToString();
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(nlohmann::json::parse(response->body)["body"], "{\"tls\":true}");
  }
  EXPECT_EQ(client.connections_opened(), 1);
}

TEST_P(HttpClientTlsTest, AnUntrustedCertificateIsATlsError) {
  TlsServer server(for_ip_);
  ASSERT_TRUE(server.ok());
  Client client = MakeClient(GetParam());  // the system's CAs: the test's is not among them
  Result<HttpResponse> response =
      client.http->Send(server.url(), Request(server.port()), HttpCallOptions{});
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().code, "http.tls") << response.error().message;
  EXPECT_NE(response.error().message.find("127.0.0.1:" + std::to_string(server.port())),
            std::string::npos)
      << response.error().message;
}

TEST_P(HttpClientTlsTest, ACertificateForAnotherNameIsATlsError) {
  TlsServer server(for_other_name_);
  ASSERT_TRUE(server.ok());
  Client client = MakeClient(GetParam(), 64u << 20, ca_file_.string());
  Result<HttpResponse> response =
      client.http->Send(server.url(), Request(server.port()), HttpCallOptions{});
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().code, "http.tls") << response.error().message;
}

}  // namespace
}  // namespace cairn::aws
