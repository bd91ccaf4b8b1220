#include "lambda/runtime_loop.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <deque>
#include <thread>

#include "aws/curl_http_client.h"
#include "lambda/runtime_api.h"

namespace cairn::lambda {
namespace {

// A Runtime API that hands out scripted invocations and records every post.
class ScriptedRuntimeApi final : public RuntimeApi {
 public:
  Result<NextInvocation> Next() override {
    if (next.empty()) return MakeError("runtime.api", "no more invocations");
    auto n = std::move(next.front());
    next.pop_front();
    calls.push_back("next");
    return n;
  }
  Status PostResponse(const std::string& id, const std::string& body) override {
    calls.push_back("response " + id + " " + body);
    if (reject_responses) return MakeError("runtime.rejected", "HTTP 413: too large");
    return {};
  }
  Status PostError(const std::string& id, const RuntimeError& e) override {
    calls.push_back("error " + id + " " + e.type + ": " + e.message);
    return {};
  }
  Status PostInitError(const RuntimeError& e) override {
    calls.push_back("init-error " + e.type + ": " + e.message);
    return {};
  }
  void Add(std::string id, std::string body) {
    next.push_back(NextInvocation{std::move(id), 1'764'000'000'000, "", "", std::move(body)});
  }

  std::deque<Result<NextInvocation>> next;
  std::vector<std::string> calls;
  bool reject_responses = false;
};

class EchoHandler final : public InvocationHandler {
 public:
  Status Init() override {
    ++inits;
    return init_status;
  }
  HandlerReply Handle(const NextInvocation& n) override {
    seen_deadlines.push_back(n.deadline_ms);
    if (n.body == "fail") return HandlerReply{false, {}, {"Boom", "it failed"}};
    return HandlerReply{true, "{\"echo\":\"" + n.body + "\"}", {}};
  }
  int inits = 0;
  Status init_status;
  std::vector<int64_t> seen_deadlines;
};

TEST(RuntimeLoopTest, PostsEachReplyOrErrorInOrder) {
  ScriptedRuntimeApi api;
  EchoHandler handler;
  api.Add("r1", "a");
  api.Add("r2", "fail");
  api.Add("r3", "b");
  std::vector<std::string> logs;
  RuntimeLoopOptions options;
  options.max_invocations = 3;
  options.log = [&](const std::string& l) { logs.push_back(l); };
  auto s = RunRuntimeLoop(api, handler, options);
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_EQ(handler.inits, 1);
  EXPECT_EQ(api.calls, (std::vector<std::string>{"next", "response r1 {\"echo\":\"a\"}", "next",
                                                 "error r2 Boom: it failed", "next",
                                                 "response r3 {\"echo\":\"b\"}"}));
  EXPECT_EQ(handler.seen_deadlines, (std::vector<int64_t>(3, 1'764'000'000'000)));
  ASSERT_EQ(logs.size(), 1u);
  EXPECT_NE(logs[0].find("r2 failed"), std::string::npos);
}

TEST(RuntimeLoopTest, InitFailureIsReportedAndNothingIsFetched) {
  ScriptedRuntimeApi api;
  EchoHandler handler;
  handler.init_status = MakeError("bundle", "the workflow folder /var/task/workflows does not exist");
  api.Add("r1", "a");
  auto s = RunRuntimeLoop(api, handler);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(api.calls, (std::vector<std::string>{
                           "init-error bundle: the workflow folder /var/task/workflows does not exist"}));
}

TEST(RuntimeLoopTest, EndsWhenTheRuntimeApiFails) {
  ScriptedRuntimeApi api;
  EchoHandler handler;
  api.Add("r1", "a");
  auto s = RunRuntimeLoop(api, handler);  // no limit: runs until Next fails
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, "runtime.api");
  EXPECT_EQ(api.calls.size(), 2u);  // next, response; the failed next ends the loop
}

TEST(RuntimeLoopTest, ARejectedReplyBecomesAnInvocationError) {
  ScriptedRuntimeApi api;
  api.reject_responses = true;
  EchoHandler handler;
  api.Add("r1", "a");
  RuntimeLoopOptions options;
  options.max_invocations = 1;
  ASSERT_TRUE(RunRuntimeLoop(api, handler, options).ok());
  ASSERT_EQ(api.calls.size(), 3u);
  EXPECT_EQ(api.calls[2].rfind("error r1 Runtime.ResponseRejected", 0), 0u) << api.calls[2];
}

// HttpRuntimeApi against a real HTTP server on 127.0.0.1 that speaks the
// Runtime API's paths and headers.
TEST(HttpRuntimeApiTest, SpeaksTheRuntimeApiOverHttp) {
  httplib::Server server;
  std::vector<std::string> seen;
  std::mutex mu;
  server.Get("/2018-06-01/runtime/invocation/next", [&](const httplib::Request&, httplib::Response& res) {
    res.set_header("Lambda-Runtime-Aws-Request-Id", "8476a536-e9f4-11e8-9739-2dfe598c3fcd");
    res.set_header("Lambda-Runtime-Deadline-Ms", "1764000012345");
    res.set_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:1:function:f:1");
    res.set_content(R"({"DurableExecutionArn":"a"})", "application/json");
  });
  server.Post(R"(/2018-06-01/runtime/invocation/([^/]+)/(response|error))",
              [&](const httplib::Request& req, httplib::Response& res) {
                std::lock_guard lock(mu);
                seen.push_back(req.matches[2].str() + " " + req.matches[1].str() + " " +
                               req.get_header_value("Lambda-Runtime-Function-Error-Type") + " " + req.body);
                res.status = 202;
                res.set_content(R"({"status":"OK"})", "application/json");
              });
  server.Post("/2018-06-01/runtime/init/error", [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mu);
    seen.push_back("init " + req.body);
    res.status = 202;
  });
  server.set_keep_alive_timeout(1);
  int port = server.bind_to_any_port("127.0.0.1");
  ASSERT_GT(port, 0);
  std::thread t([&] { server.listen_after_bind(); });
  for (int i = 0; i < 500 && !server.is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }

  aws::CurlHttpClient http;
  HttpRuntimeApi api(http, "127.0.0.1:" + std::to_string(port));
  auto next = api.Next();
  ASSERT_TRUE(next.ok()) << next.error().ToString();
  EXPECT_EQ(next->request_id, "8476a536-e9f4-11e8-9739-2dfe598c3fcd");
  EXPECT_EQ(next->deadline_ms, 1'764'000'012'345);
  EXPECT_EQ(next->function_arn, "arn:aws:lambda:us-east-1:1:function:f:1");
  EXPECT_EQ(next->body, R"({"DurableExecutionArn":"a"})");
  EXPECT_TRUE(api.PostResponse(next->request_id, R"({"Status":"PENDING"})").ok());
  EXPECT_TRUE(api.PostError(next->request_id, {"backend.retryable", "throttled"}).ok());
  EXPECT_TRUE(api.PostInitError({"bundle", "no workflows"}).ok());
  EXPECT_FALSE(api.PostResponse("../../init/error", "{}").ok());  // never put in a path
  server.stop();
  t.join();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0], "response 8476a536-e9f4-11e8-9739-2dfe598c3fcd  {\"Status\":\"PENDING\"}");
  EXPECT_EQ(seen[1],
            "error 8476a536-e9f4-11e8-9739-2dfe598c3fcd backend.retryable "
            "{\"errorMessage\":\"throttled\",\"errorType\":\"backend.retryable\",\"stackTrace\":[]}");
  EXPECT_EQ(seen[2].rfind("init {\"errorMessage\":\"no workflows\"", 0), 0u);
}

TEST(HttpRuntimeApiTest, AnUnreachableApiIsAnError) {
  aws::CurlHttpClient http;
  HttpRuntimeApi api(http, "127.0.0.1:1");
  auto next = api.Next();
  ASSERT_FALSE(next.ok());
  EXPECT_EQ(next.error().code, "runtime.api");
}

}  // namespace
}  // namespace cairn::lambda
