// The two retry layers seen from a workflow: a `dynamodb.getItem` step runs
// through the production AWS wiring (RegisterDefaultAwsActions: libcurl,
// SigV4, the standard retry mode) against a faulty server on 127.0.0.1, in
// the engine on cairn's embedded durable service. The server counts what it
// receives, so the tests see both layers at once:
//  * the client retries 500, 429 (honouring Retry-After) and connection
//    resets on its own, AWS_MAX_ATTEMPTS attempts in all (3 by default);
//  * only when those are used up does the step fail with Cairn.Transient,
//    which the workflow's `retry:` then retries as a new durable attempt;
//  * a stall ends at the step's `timeout:` as Cairn.Timeout (LANGUAGE.md ›
//    Errors), which a `retry:` on Cairn.Transient does not retry.
//
// Clocks: the durable service and the engine read a FakeClock, so the
// workflow-level retry delays take no time (RunUntilIdle advances it). The
// AWS actions read the system clock, as they do in `cairn run`
// (cli/workflow_catalog.cc): the client bounds a call by the step's timeout
// on that clock, and a real stall must be seen to end in real time.
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstdlib>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "actions/aws_actions.h"
#include "aws/test_servers.h"
#include "backend/local/local_durable_service.h"
#include "backend/local/memory_store.h"
#include "compile/compile.h"
#include "engine/engine.h"
#include "validate/validate.h"

namespace cairn::engine {
namespace {

using nlohmann::json;
using protocol::ExecutionStatus;

int64_t WallMillis() { return SystemClock::Instance().MonotonicNanos() / 1'000'000; }

// One scripted answer of FaultyDynamoDb.
struct Answer {
  int status = 200;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  bool stall = false;  // hold the request until the server is released (or 10 s)
};

constexpr const char* kItemBody = R"({"Item":{"id":{"S":"job-1"},"state":{"S":"done"}}})";
constexpr const char* kInternalError =
    R"({"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"boom"})";
constexpr const char* kThrottled =
    R"({"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Rate exceeded"})";

// A DynamoDB endpoint on 127.0.0.1 that answers every request with the next
// scripted answer (the last one repeats), and records when each arrived.
class FaultyDynamoDb {
 public:
  FaultyDynamoDb() {
    server_.server().Post("/", [this](const httplib::Request& req, httplib::Response& res) {
      Answer next;
      {
        std::lock_guard lock(mu_);
        arrivals_ms_.push_back(WallMillis());
        targets_.push_back(req.get_header_value("X-Amz-Target"));
        signed_.push_back(req.get_header_value("Authorization").starts_with("AWS4-HMAC-SHA256 "));
        if (!script_.empty()) {
          next = script_.front();
          if (script_.size() > 1) script_.pop_front();
        }
      }
      if (next.stall) server_.WaitForRelease(10);
      res.status = next.status;
      for (const auto& [name, value] : next.headers) res.set_header(name, value);
      res.set_content(next.body, "application/x-amz-json-1.0");
    });
    started_ = server_.Start();
  }

  void Script(std::vector<Answer> answers) {
    std::lock_guard lock(mu_);
    script_.assign(answers.begin(), answers.end());
  }
  bool started() const { return started_; }
  std::string url() const { return server_.url(); }
  void Release() { server_.Release(); }
  int requests() {
    std::lock_guard lock(mu_);
    return static_cast<int>(arrivals_ms_.size());
  }
  std::vector<int64_t> arrivals_ms() {
    std::lock_guard lock(mu_);
    return arrivals_ms_;
  }
  // True when every request was a signed GetItem.
  bool all_signed_get_items() {
    std::lock_guard lock(mu_);
    for (size_t i = 0; i < targets_.size(); ++i) {
      if (targets_[i] != "DynamoDB_20120810.GetItem" || !signed_[i]) return false;
    }
    return !targets_.empty();
  }

 private:
  aws::testing::LocalHttpServer server_;
  bool started_ = false;
  std::mutex mu_;
  std::deque<Answer> script_;         // guarded by mu_
  std::vector<int64_t> arrivals_ms_;  // guarded by mu_
  std::vector<std::string> targets_;  // guarded by mu_
  std::vector<bool> signed_;          // guarded by mu_
};

// A TCP endpoint on 127.0.0.1 that resets (RST) the first `resets`
// connections after reading the start of the request, then answers each
// later request with `body` (HTTP 200, Connection: close). cpp-httplib
// cannot reset a connection from a handler; aws::testing::ResettingServer
// resets every one, and this test needs the service to recover.
class ResetThenAnswerServer {
 public:
  ResetThenAnswerServer(int resets, std::string body) : resets_(resets), body_(std::move(body)) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        listen(listen_fd_, 16) != 0 ||
        getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      return;
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~ResetThenAnswerServer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (listen_fd_ >= 0) close(listen_fd_);
  }
  ResetThenAnswerServer(const ResetThenAnswerServer&) = delete;
  ResetThenAnswerServer& operator=(const ResetThenAnswerServer&) = delete;

  bool started() const { return port_ != 0; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int connections() const { return connections_.load(); }
  // Requests read in full and answered with `body`.
  int answered() const { return answered_.load(); }

 private:
  void Serve() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      int fd = accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) continue;
      if (++connections_ <= resets_) {
        char buf[256];
        pollfd c{fd, POLLIN, 0};
        if (poll(&c, 1, 2000) > 0) (void)!read(fd, buf, sizeof(buf));
        linger l{1, 0};  // close with RST
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
      } else if (ReadRequest(fd)) {
        std::string response =
            "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\n"
            "Content-Length: " +
            std::to_string(body_.size()) + "\r\nConnection: close\r\n\r\n" + body_;
        ++answered_;  // before the write: the client may finish as soon as it has the reply
        (void)!write(fd, response.data(), response.size());
      }
      close(fd);
    }
  }

  // Reads the head and the Content-Length body, so that closing afterwards
  // is an orderly FIN rather than a reset for unread data.
  static bool ReadRequest(int fd) {
    std::string data;
    size_t need = std::string::npos;
    while (need == std::string::npos || data.size() < need) {
      pollfd c{fd, POLLIN, 0};
      if (poll(&c, 1, 2000) <= 0) return false;
      char buf[4096];
      ssize_t n = read(fd, buf, sizeof(buf));
      if (n <= 0) return false;
      data.append(buf, static_cast<size_t>(n));
      size_t head_end = data.find("\r\n\r\n");
      if (need == std::string::npos && head_end != std::string::npos) {
        std::string head = data.substr(0, head_end);
        for (char& ch : head) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        size_t length_at = head.find("\r\ncontent-length:");
        size_t length = length_at == std::string::npos
                            ? 0
                            : std::strtoul(head.c_str() + length_at + 17, nullptr, 10);
        need = head_end + 4 + length;
      }
    }
    return true;
  }

  const int resets_;
  const std::string body_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::atomic<int> answered_{0};
  std::thread thread_;
};

// Reads the item "job-1"; the workflow retries Cairn.Transient up to
// `max_attempts` times. `extra` is appended to the step (e.g. a timeout).
std::string Workflow(int max_attempts, const std::string& extra = "") {
  return R"(
cairn: 1
name: layers
steps:
  - name: read
    dynamodb.getItem:
      table: jobs
      key: {id: job-1}
    retry: {errors: [Cairn.Transient], maxAttempts: )" +
         std::to_string(max_attempts) + R"(, interval: 5s}
)" + extra +
         R"(
output: ${ .steps.read.item }
)";
}

class AwsRetryLayersTest : public ::testing::Test {
 protected:
  // Loads `yaml` with the default AWS actions, DynamoDB at `endpoint`.
  void Load(const std::string& yaml, const std::string& endpoint,
            std::map<std::string, std::string> extra_env = {}) {
    std::map<std::string, std::string> env = {
        {"HOME", "/nonexistent"},
        {"AWS_REGION", "us-east-1"},
        {"AWS_ENDPOINT_URL_DYNAMODB", endpoint},
        {"AWS_ACCESS_KEY_ID", "AKIDLAYERS"},
        {"AWS_SECRET_ACCESS_KEY", "not-a-secret"},
        {"AWS_EC2_METADATA_DISABLED", "true"},
    };
    for (auto& [name, value] : extra_env) env[name] = value;
    actions::RegisterDefaultAwsActions(
        actions_,
        [env = std::move(env)](std::string_view name) -> std::optional<std::string> {
          auto it = env.find(std::string(name));
          if (it == env.end()) return std::nullopt;
          return it->second;
        },
        SystemClock::Instance());

    ValidationResult r = ValidateText(yaml, "layers.yaml");
    for (const auto& d : r.diagnostics) ADD_FAILURE() << d.location.ToString() << " " << d.message;
    ASSERT_TRUE(r.ok());
    auto def = std::make_shared<const WorkflowDefinition>(std::move(r.definition));
    auto table = std::make_shared<const expr::ExpressionTable>(std::move(r.expressions));
    auto graph = CompileWorkflow(def, table);
    ASSERT_TRUE(graph.ok()) << graph.error().ToString();
    EngineOptions options;
    options.clock = &clock_;
    options.on_event = [this](const StepEvent& e) {
      if (on_event_) on_event_(e);
    };
    engine_ = std::make_unique<Engine>(*graph, &actions_, options);
    auto service = backend::local::LocalDurableService::Create(store_, clock_, engine_.get());
    ASSERT_TRUE(service.ok()) << service.error().ToString();
    service_ = std::move(*service);
  }

  // Starts an execution and runs it to its end, skipping durable delays.
  std::string Run() {
    backend::local::StartExecutionRequest req;
    req.function_name = "layers";
    req.input = "{}";
    auto started = service_->StartExecution(req);
    EXPECT_TRUE(started.ok()) << started.error().ToString();
    if (!started.ok()) return "";
    backend::local::IdleOptions idle;
    idle.advance_clock = &clock_;
    auto s = service_->RunUntilIdle(idle);
    EXPECT_TRUE(s.ok()) << s.error().ToString();
    return started->arn;
  }

  backend::local::ExecutionProgress Progress(const std::string& arn) {
    auto r = service_->GetExecution(arn);
    EXPECT_TRUE(r.ok()) << r.error().ToString();
    return r.ok() ? r->progress : backend::local::ExecutionProgress{};
  }

  std::vector<backend::local::HistoryEvent> Events(const std::string& arn) {
    backend::local::HistoryRequest req;
    req.arn = arn;
    auto page = service_->GetHistory(req);
    EXPECT_TRUE(page.ok());
    return page.ok() ? page->events : std::vector<backend::local::HistoryEvent>{};
  }

  std::vector<std::string> EventTypes(const std::string& arn) {
    std::vector<std::string> types;
    for (const auto& e : Events(arn)) types.push_back(e.event_type);
    return types;
  }

  // A step that succeeded at its first workflow attempt, with `item`.
  void ExpectFirstAttemptSuccess(const std::string& arn) {
    backend::local::ExecutionProgress progress = Progress(arn);
    ASSERT_EQ(progress.status, ExecutionStatus::kSucceeded)
        << (progress.error ? progress.error->type + ": " + progress.error->message : "");
    EXPECT_EQ(json::parse(progress.result.value_or("null")),
              json({{"id", "job-1"}, {"state", "done"}}));
    EXPECT_EQ(EventTypes(arn),
              (std::vector<std::string>{"ExecutionStarted", "StepStarted", "StepSucceeded",
                                        "InvocationCompleted", "ExecutionSucceeded"}));
    for (const auto& e : Events(arn)) {
      if (e.event_type == "StepSucceeded") {
        EXPECT_EQ(e.details["RetryDetails"], json({{"CurrentAttempt", 1}}));
      }
    }
  }

  // Declared before actions_ so that they are destroyed after it: the
  // client's pooled keep-alive connections close first, and the servers stop
  // at once instead of waiting out cpp-httplib's keep-alive timeout (5 s).
  FaultyDynamoDb dynamodb_;
  std::unique_ptr<ResetThenAnswerServer> resetting_;

  FakeClock clock_;
  backend::local::MemoryStore store_;
  actions::ActionRegistry actions_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<backend::local::LocalDurableService> service_;
  std::function<void(const StepEvent&)> on_event_;
};

// 500 on every request: each workflow attempt is the client's three
// attempts, and only then does the workflow see Cairn.Transient.
TEST_F(AwsRetryLayersTest, AlwaysFailingServerSeesWorkflowAttemptsTimesClientAttempts) {
  FaultyDynamoDb& dynamodb = dynamodb_;
  ASSERT_TRUE(dynamodb.started());
  dynamodb.Script({{500, kInternalError}});
  Load(Workflow(3), dynamodb.url());
  // The requests the server had received when each workflow attempt ended.
  std::vector<int> requests_at_attempt_end;
  on_event_ = [&](const StepEvent& e) {
    if (e.kind == StepEvent::Kind::kRetrying || e.kind == StepEvent::Kind::kFailed) {
      requests_at_attempt_end.push_back(dynamodb.requests());
    }
  };
  std::string arn = Run();

  EXPECT_EQ(dynamodb.requests(), 3 * 3);
  EXPECT_EQ(requests_at_attempt_end, (std::vector<int>{3, 6, 9}));
  EXPECT_TRUE(dynamodb.all_signed_get_items());
  backend::local::ExecutionProgress progress = Progress(arn);
  EXPECT_EQ(progress.status, ExecutionStatus::kFailed);
  ASSERT_TRUE(progress.error.has_value());
  EXPECT_EQ(progress.error->type, "Cairn.Transient");

  EXPECT_EQ(EventTypes(arn),
            (std::vector<std::string>{"ExecutionStarted", "StepStarted", "StepFailed",
                                      "InvocationCompleted", "StepStarted", "StepFailed",
                                      "InvocationCompleted", "StepStarted", "StepFailed",
                                      "InvocationCompleted", "ExecutionFailed"}));
  std::vector<json> retry_details;
  for (const auto& e : Events(arn)) {
    if (e.event_type != "StepFailed") continue;
    retry_details.push_back(e.details["RetryDetails"]);
    const json& error = e.details["Error"]["Payload"];
    EXPECT_EQ(error["ErrorType"], "Cairn.Transient");
    const std::string message = error.value("ErrorMessage", "");
    EXPECT_NE(message.find("DynamoDB.InternalServerError (HTTP 500): boom"), std::string::npos)
        << message;
    EXPECT_NE(message.find("gave up after 3 attempts"), std::string::npos) << message;
    EXPECT_EQ(error["ErrorData"], json({{"httpStatus", 500}}).dump());
  }
  EXPECT_EQ(retry_details,
            (std::vector<json>{{{"CurrentAttempt", 1}, {"NextAttemptDelaySeconds", 5}},
                               {{"CurrentAttempt", 2}, {"NextAttemptDelaySeconds", 10}},
                               {{"CurrentAttempt", 3}}}));
}

// AWS_MAX_ATTEMPTS sets the client's share of the product.
TEST_F(AwsRetryLayersTest, MaxAttemptsFromTheEnvironmentSetsTheClientsShare) {
  FaultyDynamoDb& dynamodb = dynamodb_;
  ASSERT_TRUE(dynamodb.started());
  dynamodb.Script({{503, R"({"__type":"ServiceUnavailable","message":"later"})"}});
  Load(Workflow(2), dynamodb.url(), {{"AWS_MAX_ATTEMPTS", "4"}});
  std::string arn = Run();
  EXPECT_EQ(dynamodb.requests(), 2 * 4);
  backend::local::ExecutionProgress progress = Progress(arn);
  ASSERT_TRUE(progress.error.has_value());
  EXPECT_EQ(progress.error->type, "Cairn.Transient");
  EXPECT_NE(progress.error->message.find("gave up after 4 attempts"), std::string::npos)
      << progress.error->message;
}

// Two 500s then the item: the client's retries absorb the failures.
TEST_F(AwsRetryLayersTest, ServerErrorsWithinTheClientsAttemptsNeverReachTheWorkflow) {
  FaultyDynamoDb& dynamodb = dynamodb_;
  ASSERT_TRUE(dynamodb.started());
  dynamodb.Script({{500, kInternalError}, {500, kInternalError}, {200, kItemBody}});
  Load(Workflow(3), dynamodb.url());
  std::string arn = Run();
  EXPECT_EQ(dynamodb.requests(), 3);
  EXPECT_TRUE(dynamodb.all_signed_get_items());
  ExpectFirstAttemptSuccess(arn);
}

// Two 429s with Retry-After: 1, then the item: the client waits at least the
// second the server asked for before each retry (its own backoff after a
// throttle, 500 ms × jitter on the first retry, would be shorter).
TEST_F(AwsRetryLayersTest, ThrottlingWithRetryAfterIsHonouredWithinTheStep) {
  FaultyDynamoDb& dynamodb = dynamodb_;
  ASSERT_TRUE(dynamodb.started());
  const Answer throttled{429, kThrottled, {{"Retry-After", "1"}}};
  dynamodb.Script({throttled, throttled, {200, kItemBody}});
  Load(Workflow(3), dynamodb.url());
  std::string arn = Run();
  ASSERT_EQ(dynamodb.requests(), 3);
  std::vector<int64_t> at = dynamodb.arrivals_ms();
  EXPECT_GE(at[1] - at[0], 1000);
  EXPECT_GE(at[2] - at[1], 1000);
  ExpectFirstAttemptSuccess(arn);
}

// Two connection resets, then the item.
TEST_F(AwsRetryLayersTest, ConnectionResetsWithinTheClientsAttemptsNeverReachTheWorkflow) {
  resetting_ = std::make_unique<ResetThenAnswerServer>(/*resets=*/2, kItemBody);
  ResetThenAnswerServer& server = *resetting_;
  ASSERT_TRUE(server.started());
  Load(Workflow(3), server.url());
  std::string arn = Run();
  EXPECT_EQ(server.connections(), 3);
  EXPECT_EQ(server.answered(), 1);
  ExpectFirstAttemptSuccess(arn);
}

// Resets on every connection: Cairn.Transient after the client's attempts,
// retried by the workflow like the 500s.
TEST_F(AwsRetryLayersTest, ResetsOnEveryAttemptReachTheWorkflowAsTransient) {
  resetting_ = std::make_unique<ResetThenAnswerServer>(/*resets=*/1000, kItemBody);
  ResetThenAnswerServer& server = *resetting_;
  ASSERT_TRUE(server.started());
  Load(Workflow(2), server.url());
  std::string arn = Run();
  EXPECT_EQ(server.connections(), 2 * 3);
  EXPECT_EQ(server.answered(), 0);
  backend::local::ExecutionProgress progress = Progress(arn);
  ASSERT_TRUE(progress.error.has_value());
  EXPECT_EQ(progress.error->type, "Cairn.Transient");
  int retried = 0;
  for (const auto& e : Events(arn)) {
    if (e.event_type == "StepFailed" &&
        e.details["RetryDetails"].contains("NextAttemptDelaySeconds")) {
      ++retried;
      EXPECT_EQ(e.details["Error"]["Payload"]["ErrorType"], "Cairn.Transient");
    }
  }
  EXPECT_EQ(retried, 1);
}

// A server that never answers: the step's `timeout: 1s` ends the call as
// Cairn.Timeout, which is not Cairn.Transient, so the workflow does not retry.
TEST_F(AwsRetryLayersTest, StallEndsAtTheStepTimeoutAsCairnTimeout) {
  FaultyDynamoDb& dynamodb = dynamodb_;
  ASSERT_TRUE(dynamodb.started());
  dynamodb.Script({{200, kItemBody, {}, /*stall=*/true}});
  Load(Workflow(3, "    timeout: 1s"), dynamodb.url());
  const int64_t t0 = WallMillis();
  std::string arn = Run();
  const int64_t elapsed = WallMillis() - t0;
  dynamodb.Release();

  EXPECT_GE(elapsed, 1000);
  EXPECT_LT(elapsed, 5000);  // the server would hold the request for 10 s
  EXPECT_EQ(dynamodb.requests(), 1);
  backend::local::ExecutionProgress progress = Progress(arn);
  EXPECT_EQ(progress.status, ExecutionStatus::kFailed);
  ASSERT_TRUE(progress.error.has_value());
  EXPECT_EQ(progress.error->type, "Cairn.Timeout");
  EXPECT_NE(progress.error->message.find("within the step's timeout of 1000 ms"), std::string::npos)
      << progress.error->message;
  EXPECT_EQ(EventTypes(arn),
            (std::vector<std::string>{"ExecutionStarted", "StepStarted", "StepFailed",
                                      "InvocationCompleted", "ExecutionFailed"}));
}

}  // namespace
}  // namespace cairn::engine
