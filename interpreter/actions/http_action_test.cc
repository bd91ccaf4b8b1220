// http.request against a scripted HttpClient: what is sent, how responses,
// statuses and transport failures map to outcomes, and signing.
#include "actions/http_action.h"

#include <gtest/gtest.h>

#include <deque>
#include <mutex>

namespace cairn::actions {
namespace {

using nlohmann::json;

class ScriptedHttpClient final : public aws::HttpClient {
 public:
  Result<aws::HttpResponse> Send(std::string_view base_url, const aws::HttpRequest& request,
                                 const aws::HttpCallOptions& options) override {
    std::lock_guard<std::mutex> lock(mu_);
    sent.push_back({std::string(base_url), request, options});
    if (answers.empty()) return aws::HttpResponse{200, {}, ""};
    auto a = std::move(answers.front());
    answers.pop_front();
    return a;
  }
  struct Sent {
    std::string base;
    aws::HttpRequest request;
    aws::HttpCallOptions options;
  };
  std::vector<Sent> sent;
  std::deque<Result<aws::HttpResponse>> answers;

 private:
  std::mutex mu_;
};

class HttpActionTest : public ::testing::Test {
 protected:
  ActionOutcome Run(const char* params, RequestSigner signer = nullptr,
                    std::optional<Duration> step_timeout = std::nullopt) {
    HttpRequestAction action(client_, std::move(signer));
    ActionRequest request;
    request.type = "http.request";
    request.params = json::parse(params);
    request.timeout = step_timeout;
    return action.Run(request);
  }
  std::shared_ptr<ScriptedHttpClient> client_ = std::make_shared<ScriptedHttpClient>();
};

TEST_F(HttpActionTest, SendsJsonBodyQueryAndHeaders) {
  client_->answers.push_back(aws::HttpResponse{
      201,
      {{"Content-Type", "application/json; charset=utf-8"}, {"X-A", "1"}, {"x-a", "2"}},
      R"j({"id": 7})j"});
  auto out = Run(R"j({"url": "https://api.example.com:8443/orders/a b?x=1#frag",
      "query": {"q": "a&b", "n": 5, "tag": ["x", "y"]},
      "headers": {"X-Trace": "t1"}, "body": {"item": 1}, "timeout": "5s"})j");
  ASSERT_TRUE(out.ok) << out.error.message;
  ASSERT_EQ(client_->sent.size(), 1u);
  const auto& s = client_->sent[0];
  EXPECT_EQ(s.base, "https://api.example.com:8443");
  EXPECT_EQ(s.request.method, "POST");
  EXPECT_EQ(s.request.path, "/orders/a%20b");
  EXPECT_EQ(s.request.query, "x=1&n=5&q=a%26b&tag=x&tag=y");
  EXPECT_EQ(s.request.body, R"j({"item":1})j");
  EXPECT_EQ(s.request.headers, (std::vector<aws::HttpHeader>{
                                   {"X-Trace", "t1"}, {"Content-Type", "application/json"}}));
  EXPECT_EQ(s.options.timeout, std::chrono::milliseconds(5000));
  EXPECT_EQ(out.result, json::parse(R"j({"status": 201,
      "headers": {"content-type": "application/json; charset=utf-8", "x-a": "1, 2"},
      "body": {"id": 7}})j"));
}

TEST_F(HttpActionTest, StatusOutsideExpectedIsHttpError) {
  client_->answers.push_back(aws::HttpResponse{503, {{"Content-Type", "text/plain"}}, "busy"});
  auto out = Run(R"j({"url": "http://127.0.0.1:9/x"})j");
  ASSERT_FALSE(out.ok);
  EXPECT_EQ(out.error.name, "HTTP.503");
  EXPECT_EQ(out.error.data["body"], "busy");
  EXPECT_EQ(client_->sent[0].request.method, "GET");

  client_->answers.push_back(aws::HttpResponse{404, {}, ""});
  auto expected = Run(R"j({"url": "http://h/x", "expectStatus": [200, 404], "method": "DELETE"})j");
  ASSERT_TRUE(expected.ok);
  EXPECT_EQ(expected.result["status"], 404);
  EXPECT_TRUE(expected.result["body"].is_null());
}

TEST_F(HttpActionTest, TransportFailures) {
  client_->answers.push_back(MakeError("http.timeout", "timed out talking to h"));
  auto timeout = Run(R"j({"url": "http://h/x", "timeout": 60})j", nullptr, Duration::Seconds(2));
  EXPECT_EQ(timeout.error.name, "Cairn.Timeout");
  EXPECT_EQ(client_->sent[0].options.timeout, std::chrono::milliseconds(2000));
  client_->answers.push_back(MakeError("http.connect", "connection refused by h"));
  EXPECT_EQ(Run(R"j({"url": "http://h/x"})j").error.name, "Cairn.Transient");
}

TEST_F(HttpActionTest, TextBodyInvalidUtf8IsReplaced) {
  client_->answers.push_back(aws::HttpResponse{200,
                                               {},
                                               std::string("a\xff"
                                                           "b")});
  auto out = Run(R"j({"url": "http://h/"})j");
  ASSERT_TRUE(out.ok);
  EXPECT_EQ(out.result["body"],
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_NO_THROW(out.result.dump());
}

TEST_F(HttpActionTest, SigV4UsesTheSigner) {
  std::string seen_service, seen_region;
  RequestSigner signer = [&](const aws::HttpRequest& r, const std::string& service,
                             const std::string& region) -> Result<aws::HttpRequest> {
    seen_service = service;
    seen_region = region;
    aws::HttpRequest out = r;
    out.headers.push_back({"Authorization", "AWS4-HMAC-SHA256 test"});
    return out;
  };
  auto out = Run(R"j({"url": "https://abc.execute-api.us-east-1.amazonaws.com/prod/x",
      "sigv4": {"service": "execute-api", "region": "us-east-1"}})j",
                 signer);
  ASSERT_TRUE(out.ok) << out.error.message;
  EXPECT_EQ(seen_service, "execute-api");
  EXPECT_EQ(seen_region, "us-east-1");
  const auto& headers = client_->sent[0].request.headers;
  ASSERT_EQ(headers.size(), 2u);
  EXPECT_EQ(headers[0], (aws::HttpHeader{"Host", "abc.execute-api.us-east-1.amazonaws.com"}));
  EXPECT_EQ(headers[1].name, "Authorization");

  auto unsigned_out = Run(R"j({"url": "https://h/x", "sigv4": {"service": "s"}})j");
  EXPECT_EQ(unsigned_out.error.name, "Cairn.Configuration");
}

TEST_F(HttpActionTest, BadParametersSendNothing) {
  for (const char* params : {R"j({"url": "/relative"})j", R"j({"url": "ftp://h/x"})j",
                             R"j({"url": "http://user:pw@h/x"})j", R"j({"url": "http:///x"})j",
                             R"j({"url": "http://h", "method": "TRACE"})j",
                             R"j({"url": "http://h", "headers": {"X": 1}})j",
                             R"j({"url": "http://h", "headers": {"X": "a\r\nB: c"}})j",
                             R"j({"url": "http://h", "expectStatus": [700]})j",
                             R"j({"url": "http://h", "timeout": "soon"})j",
                             R"j({"url": "http://h", "sigv4": {"region": "r"}})j"}) {
    auto out = Run(params);
    EXPECT_EQ(out.error.name, "Cairn.InvalidParameters") << params;
  }
  EXPECT_TRUE(client_->sent.empty());
}

}  // namespace
}  // namespace cairn::actions
