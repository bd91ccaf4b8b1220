// The HTTP API on 127.0.0.1 (port 0): routes, bodies, AWS error shapes.
#include "backend/local/http_api.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <future>
#include <thread>

#include "backend/local/memory_store.h"
#include "backend/local/testing/mini_sdk.h"

namespace cairn::backend::local {
namespace {

using nlohmann::json;
using testing::MiniSdk;
using testing::ScriptedInvoker;

std::string Encode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

class HttpApiTest : public ::testing::Test {
 protected:
  HttpApiTest()
      : clock_(1'764'000'000'000), invoker_([this](MiniSdk& sdk) {
          return sdk.Callback("approval", 0, 0,
                              [this](const std::string& id) { callback_id_ = id; });
        }) {}

  void SetUp() override {
    auto s = LocalDurableService::Create(store_, clock_, &invoker_);
    ASSERT_TRUE(s.ok());
    service_ = std::move(*s);
    api_ = std::make_unique<HttpApi>(*service_);
    auto port = api_->Start();
    ASSERT_TRUE(port.ok()) << port.error().ToString();
    ASSERT_GT(*port, 0);
    client_ = std::make_unique<httplib::Client>("127.0.0.1", *port);
  }

  std::string StartAndSuspend() {
    auto r = client_->Post("/cairn/v1/workflows/wf/executions",
                           R"({"DurableExecutionName":"n1","Input":{"x":1}})", "application/json");
    EXPECT_TRUE(r);
    EXPECT_EQ(r->status, 201) << r->body;
    std::string arn = json::parse(r->body)["DurableExecutionArn"];
    EXPECT_TRUE(service_->RunUntilIdle().ok());
    EXPECT_FALSE(callback_id_.empty());
    return arn;
  }

  static void ExpectError(const httplib::Result& r, int status, const std::string& type) {
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, status) << r->body;
    EXPECT_EQ(r->get_header_value("X-Amzn-ErrorType"), type) << r->body;
    json body = json::parse(r->body, nullptr, false);
    ASSERT_TRUE(body.is_object()) << r->body;
    EXPECT_TRUE(body.contains("message")) << r->body;
    EXPECT_EQ(body["Type"], status >= 500 ? "Service" : "User");
  }

  MemoryStore store_;
  FakeClock clock_;
  std::string callback_id_;
  ScriptedInvoker invoker_;
  std::unique_ptr<LocalDurableService> service_;
  std::unique_ptr<HttpApi> api_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(HttpApiTest, CallbackSucceedThroughTheRestPath) {
  std::string arn = StartAndSuspend();
  auto r =
      client_->Post("/2025-12-01/durable-execution-callbacks/" + Encode(callback_id_) + "/succeed",
                    "{\"ok\":true}", "application/octet-stream");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  ASSERT_TRUE(service_->RunUntilIdle().ok());
  auto get = client_->Get("/2025-12-01/durable-executions/" + Encode(arn));
  ASSERT_TRUE(get);
  ASSERT_EQ(get->status, 200) << get->body;
  json j = json::parse(get->body);
  EXPECT_EQ(j["Status"], "SUCCEEDED");
  EXPECT_EQ(j["Result"], "{\"ok\":true}");
  EXPECT_EQ(j["InputPayload"], "{\"x\":1}");
  EXPECT_EQ(j["DurableExecutionName"], "n1");
  EXPECT_EQ(j["FunctionArn"], "arn:aws:lambda:local:000000000000:function:wf:$LATEST");
  EXPECT_TRUE(j["StartTimestamp"].is_number());
  // Unencoded slashes in the ARN work too.
  auto raw = client_->Get("/2025-12-01/durable-executions/" + arn);
  ASSERT_TRUE(raw);
  EXPECT_EQ(raw->status, 200);
  // A second completion: CallbackTimeoutException.
  ExpectError(client_->Post("/2025-12-01/durable-execution-callbacks/" + callback_id_ + "/succeed",
                            "1", "application/octet-stream"),
              400, "CallbackTimeoutException");
}

TEST_F(HttpApiTest, CallbackErrors) {
  StartAndSuspend();
  const std::string base = "/2025-12-01/durable-execution-callbacks/";
  ExpectError(
      client_->Post(base + "AAAAAAAAAAAAAAAAAAAAAAAA/succeed", "1", "application/octet-stream"),
      400, "CallbackTimeoutException");
  ExpectError(client_->Post(base + "bad%20id/succeed", "1", "application/octet-stream"), 400,
              "InvalidParameterValueException");
  ExpectError(client_->Post(base + callback_id_ + "/fail", "{not json", "application/json"), 400,
              "InvalidRequestContentException");
  ExpectError(client_->Post(base + callback_id_ + "/fail", "[1,2]", "application/json"), 400,
              "InvalidRequestContentException");
  ExpectError(client_->Post(base + callback_id_ + "/succeed",
                            std::string(protocol::kMaxOperationPayloadBytes + 1, 'x'),
                            "application/octet-stream"),
              413, "RequestTooLargeException");
  ExpectError(client_->Post(base + callback_id_ + "/explode", "", "application/json"), 404,
              "UnknownOperationException");
  // Still open: heartbeat and a failure work.
  auto hb = client_->Post(base + callback_id_ + "/heartbeat", "", "application/json");
  ASSERT_TRUE(hb);
  EXPECT_EQ(hb->status, 200);
  auto fail = client_->Post(base + callback_id_ + "/fail",
                            R"({"ErrorType":"Rejected","ErrorMessage":"no"})", "application/json");
  ASSERT_TRUE(fail);
  EXPECT_EQ(fail->status, 200) << fail->body;
}

// A busy client keeps its connection: the server does not ask it to close
// after a handful of requests (cpp-httplib's own default is 5).
TEST_F(HttpApiTest, AKeepAliveConnectionServesManyRequests) {
  client_->set_keep_alive(true);
  for (int i = 0; i < 50; ++i) {
    auto r = client_->Get("/2025-12-01/functions/wf/durable-executions");
    ASSERT_TRUE(r) << "request " << i;
    ASSERT_EQ(r->status, 200) << r->body;
    EXPECT_NE(r->get_header_value("Connection"), "close") << "request " << i;
  }
}

TEST_F(HttpApiTest, ExecutionsListHistoryStop) {
  std::string arn = StartAndSuspend();
  auto list =
      client_->Get("/2025-12-01/functions/wf/durable-executions?Statuses=RUNNING&MaxItems=10");
  ASSERT_TRUE(list);
  ASSERT_EQ(list->status, 200) << list->body;
  json l = json::parse(list->body);
  ASSERT_EQ(l["DurableExecutions"].size(), 1u);
  EXPECT_EQ(l["DurableExecutions"][0]["DurableExecutionArn"], arn);
  auto none = client_->Get(
      "/2025-12-01/functions/wf/durable-executions?Statuses=SUCCEEDED&Statuses=FAILED");
  ASSERT_TRUE(none);
  EXPECT_TRUE(json::parse(none->body)["DurableExecutions"].empty());
  ExpectError(client_->Get("/2025-12-01/functions/wf/durable-executions?Statuses=NOPE"), 400,
              "InvalidParameterValueException");

  auto history = client_->Get("/2025-12-01/durable-executions/" + Encode(arn) +
                              "/history?IncludeExecutionData=true");
  ASSERT_TRUE(history);
  ASSERT_EQ(history->status, 200) << history->body;
  json h = json::parse(history->body);
  ASSERT_GE(h["Events"].size(), 3u);
  EXPECT_EQ(h["Events"][0]["EventType"], "ExecutionStarted");
  EXPECT_EQ(h["Events"][0]["ExecutionStartedDetails"]["Input"]["Payload"], "{\"x\":1}");
  EXPECT_EQ(h["Events"][1]["CallbackStartedDetails"]["CallbackId"], callback_id_);
  auto paged =
      client_->Get("/2025-12-01/durable-executions/" + Encode(arn) + "/history?MaxItems=1");
  json p = json::parse(paged->body);
  EXPECT_EQ(p["Events"].size(), 1u);
  EXPECT_EQ(p["NextMarker"], "2");
  EXPECT_FALSE(p["Events"][0]["ExecutionStartedDetails"]["Input"].contains("Payload"))
      << "no execution data unless asked";

  ExpectError(client_->Get("/2025-12-01/durable-executions/" + Encode(arn + "0")), 404,
              "ResourceNotFoundException");
  auto stop =
      client_->Post("/2025-12-01/durable-executions/" + Encode(arn) + "/stop",
                    R"({"ErrorType":"Operator","ErrorMessage":"stop"})", "application/json");
  ASSERT_TRUE(stop);
  ASSERT_EQ(stop->status, 200) << stop->body;
  EXPECT_TRUE(json::parse(stop->body)["StopTimestamp"].is_number());
  ExpectError(client_->Post("/2025-12-01/durable-executions/" + Encode(arn) + "/stop", "",
                            "application/json"),
              400, "InvalidParameterValueException");
  ExpectError(client_->Post("/2025-12-01/durable-execution-callbacks/" + callback_id_ + "/succeed",
                            "1", "application/octet-stream"),
              400, "CallbackTimeoutException");
}

TEST_F(HttpApiTest, StartEndpointAndConflicts) {
  StartAndSuspend();
  auto same = client_->Post("/cairn/v1/workflows/wf/executions",
                            R"({"DurableExecutionName":"n1","Input":{"x":1}})", "application/json");
  ASSERT_TRUE(same);
  EXPECT_EQ(same->status, 200);
  EXPECT_TRUE(json::parse(same->body)["AlreadyStarted"].get<bool>());
  ExpectError(client_->Post("/cairn/v1/workflows/wf/executions",
                            R"({"DurableExecutionName":"n1","Input":{"x":2}})", "application/json"),
              409, "DurableExecutionAlreadyStartedException");
  ExpectError(client_->Post("/cairn/v1/workflows/wf/executions", "nope", "application/json"), 400,
              "InvalidRequestContentException");
  ExpectError(client_->Post("/cairn/v1/workflows/bad%20name/executions", "{}", "application/json"),
              400, "InvalidParameterValueException");
  ExpectError(client_->Get("/nothing/here"), 404, "UnknownOperationException");
  // Long paths (up to httplib's 8 KiB URI limit) are handled, not crashed on.
  ExpectError(client_->Get("/2025-12-01/durable-executions/" + std::string(8000, 'a')), 404,
              "ResourceNotFoundException");
  auto too_long = client_->Get("/" + std::string(9000, 'a'));
  ASSERT_TRUE(too_long);
  EXPECT_GE(too_long->status, 400);
}

// cairn's `wait` parameter: the reply waits for the execution's end, woken by
// the commit that ends it; a wait that runs out replies RUNNING.
TEST_F(HttpApiTest, WaitForTheEndOnGetAndStart) {
  using std::chrono::steady_clock;
  std::string arn = StartAndSuspend();
  const std::string get_path = "/2025-12-01/durable-executions/" + Encode(arn);

  // Runs out: RUNNING, after about the time asked for.
  auto t0 = steady_clock::now();
  auto short_wait = client_->Get(get_path + "?wait=0.2");
  ASSERT_TRUE(short_wait);
  ASSERT_EQ(short_wait->status, 200) << short_wait->body;
  EXPECT_EQ(json::parse(short_wait->body)["Status"], "RUNNING");
  EXPECT_GE(steady_clock::now() - t0, std::chrono::milliseconds(190));

  // Ends while the request waits: the reply comes with the end, not the 30 s.
  const int port = api_->port();
  auto waiting = std::async(std::launch::async, [&] {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(60, 0);
    auto r = c.Get(get_path + "?wait=30");
    return r ? std::make_pair(r->status, r->body) : std::make_pair(0, std::string());
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(waiting.wait_for(std::chrono::seconds(0)), std::future_status::timeout)
      << "the request must wait while the execution runs";
  t0 = steady_clock::now();
  ASSERT_TRUE(service_->SendCallbackSuccess(callback_id_, "\"done\"").ok());
  ASSERT_TRUE(service_->RunUntilIdle().ok());
  auto [status, body] = waiting.get();
  EXPECT_LT(steady_clock::now() - t0, std::chrono::seconds(10));
  ASSERT_EQ(status, 200) << body;
  json j = json::parse(body);
  EXPECT_EQ(j["Status"], "SUCCEEDED");
  EXPECT_EQ(j["Result"], "\"done\"");

  // An ended execution replies at once.
  t0 = steady_clock::now();
  auto done = client_->Get(get_path + "?wait=30");
  ASSERT_TRUE(done);
  EXPECT_EQ(json::parse(done->body)["Status"], "SUCCEEDED");
  EXPECT_LT(steady_clock::now() - t0, std::chrono::seconds(5));

  // Bad values and unknown executions.
  for (const char* bad : {"abc", "-1", "301", "", "1e9", "nan", "inf", "1.5s", "0x10", "%201"}) {
    ExpectError(client_->Get(get_path + "?wait=" + bad), 400, "InvalidParameterValueException");
  }
  ExpectError(client_->Get("/2025-12-01/durable-executions/nope?wait=1"), 404,
              "ResourceNotFoundException");
  ExpectError(client_->Post("/cairn/v1/workflows/wf/executions?wait=x", "{}", "application/json"),
              400, "InvalidParameterValueException");

  // The start with `wait` replies with the end: Status and Result.
  callback_id_.clear();
  auto started = std::async(std::launch::async, [&] {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(60, 0);
    auto r = c.Post("/cairn/v1/workflows/wf/executions?wait=30",
                    R"({"DurableExecutionName":"n2","Input":{"x":2}})", "application/json");
    return r ? std::make_pair(r->status, r->body) : std::make_pair(0, std::string());
  });
  for (int i = 0; i < 500 && callback_id_.empty(); ++i) {
    ASSERT_TRUE(service_->RunUntilIdle().ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_FALSE(callback_id_.empty());
  EXPECT_EQ(started.wait_for(std::chrono::seconds(0)), std::future_status::timeout);
  ASSERT_TRUE(service_->SendCallbackSuccess(callback_id_, "7").ok());
  ASSERT_TRUE(service_->RunUntilIdle().ok());
  auto [start_status, start_body] = started.get();
  ASSERT_EQ(start_status, 201) << start_body;
  json s = json::parse(start_body);
  EXPECT_EQ(s["Status"], "SUCCEEDED");
  EXPECT_EQ(s["Result"], "7");
  EXPECT_EQ(s["DurableExecutionName"], "n2");
  EXPECT_FALSE(s["AlreadyStarted"].get<bool>());
  EXPECT_TRUE(s["EndTimestamp"].is_number());
}

TEST_F(HttpApiTest, CheckpointAndStateOverHttp) {
  // A stale token over HTTP is a 400 whose message starts "Invalid checkpoint token".
  std::string arn = StartAndSuspend();
  json body = {{"CheckpointToken", "AAAA"}, {"Updates", json::array()}};
  auto r = client_->Post("/2025-12-01/durable-executions/" + Encode(arn) + "/checkpoint",
                         body.dump(), "application/json");
  ExpectError(r, 400, "InvalidParameterValueException");
  EXPECT_EQ(json::parse(r->body)["message"].get<std::string>().rfind("Invalid checkpoint token", 0),
            0u);
  ExpectError(
      client_->Get("/2025-12-01/durable-executions/" + Encode(arn) + "/state?CheckpointToken=AAAA"),
      400, "InvalidParameterValueException");
}

}  // namespace
}  // namespace cairn::backend::local
