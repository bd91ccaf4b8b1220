#include "lambda/durable_handler.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "backend/local/local_durable_service.h"
#include "backend/local/memory_store.h"

namespace cairn::lambda {
namespace {

using nlohmann::json;
namespace P = protocol;
namespace fs = std::filesystem;

// process.run with command [NAME, ...]: counts calls, returns {ran: NAME},
// and moves the fake clock by `step_ms` (the time a step takes).
class CountingActions final : public actions::ActionRunner {
 public:
  explicit CountingActions(FakeClock& clock) : clock_(clock) {}
  actions::ActionOutcome Run(const actions::ActionRequest& request) override {
    std::string name = request.params["command"][0].get<std::string>();
    ++calls[name];
    clock_.Advance(step_ms);
    return actions::ActionOutcome::Success(json{{"ran", name}});
  }
  std::map<std::string, int> calls;
  int64_t step_ms = 10;

 private:
  FakeClock& clock_;
};

// Forwards to whatever client the current invocation has.
class ProxyClient final : public backend::CheckpointClient {
 public:
  Result<P::CheckpointResponse> Checkpoint(const std::string& arn,
                                           const P::CheckpointRequest& request) override {
    ++checkpoints;
    return target->Checkpoint(arn, request);
  }
  Result<P::ExecutionState> GetState(const std::string& arn, const std::string& token,
                                     const std::string& marker) override {
    return target->GetState(arn, token, marker);
  }
  backend::CheckpointClient* target = nullptr;
  int checkpoints = 0;
};

// The local durable service invokes the handler as Lambda would: the event
// as JSON text, a deadline, the reply parsed back (or an invocation error).
class LambdaLikeInvoker final : public backend::Invoker {
 public:
  LambdaLikeInvoker(DurableHandler& handler, ProxyClient& proxy, FakeClock& clock)
      : handler_(handler), proxy_(proxy), clock_(clock) {}
  Result<P::InvocationOutput> Invoke(const P::Invocation& invocation,
                                     backend::CheckpointClient& client) override {
    proxy_.target = &client;
    NextInvocation next;
    next.request_id = "req-" + std::to_string(++invocations);
    next.deadline_ms = clock_.NowMillis() + timeout_ms;
    next.body = P::ToJson(invocation).dump();
    HandlerReply reply = handler_.Handle(next);
    if (!reply.ok) {
      errors.push_back(reply.error.type);
      return MakeError(reply.error.type, reply.error.message);
    }
    replies.push_back(reply.body);
    return P::InvocationOutputFromJson(json::parse(reply.body));
  }
  int invocations = 0;
  int64_t timeout_ms = 900'000;
  std::vector<std::string> errors;
  std::vector<std::string> replies;

 private:
  DurableHandler& handler_;
  ProxyClient& proxy_;
  FakeClock& clock_;
};

class DurableHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("cairn-lambda-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    Write("steps", R"(
cairn: 1
name: steps
input: {type: object, properties: {who: {type: string, default: world}}}
steps:
  - name: one
    process.run: {command: [one]}
    log: "hello ${ .input.who }"
  - name: two
    process.run: {command: [two]}
  - name: three
    process.run: {command: [three]}
output: {who: "${ .input.who }", last: "${ .steps.three.ran }"}
)");
    Write("waits", R"(
cairn: 1
name: waits
steps:
  - name: before
    process.run: {command: [before]}
  - name: pause
    wait: 1h
  - name: after
    process.run: {command: [after]}
output: "${ .steps.after.ran }"
)");
  }
  void TearDown() override { fs::remove_all(dir_); }

  void Write(const std::string& stem, const std::string& yaml) {
    std::ofstream(dir_ / (stem + ".yaml")) << yaml;
  }

  void Start(std::string default_workflow = "steps") {
    DurableHandlerOptions o;
    o.workflows_dir = dir_.string();
    o.default_workflow = std::move(default_workflow);
    o.actions = &actions_;
    o.client = &proxy_;
    o.clock = &clock_;
    o.deadline_margin_ms = 2000;
    o.lookup_env = [](const char*) -> const char* { return nullptr; };
    o.log = [this](const std::string& line) { logs_.push_back(line); };
    handler_ = std::make_unique<DurableHandler>(o);
    ASSERT_TRUE(handler_->Init().ok());
    invoker_ = std::make_unique<LambdaLikeInvoker>(*handler_, proxy_, clock_);
    auto service = backend::local::LocalDurableService::Create(store_, clock_, invoker_.get());
    ASSERT_TRUE(service.ok()) << service.error().ToString();
    service_ = std::move(*service);
  }

  backend::local::ExecutionRecord RunToEnd(const json& input) {
    backend::local::StartExecutionRequest req;
    req.function_name = "cairn";
    req.input = input.dump();
    auto started = service_->StartExecution(req);
    EXPECT_TRUE(started.ok());
    backend::local::IdleOptions idle;
    idle.advance_clock = &clock_;
    EXPECT_TRUE(service_->RunUntilIdle(idle).ok());
    auto rec = service_->GetExecution(started->arn);
    EXPECT_TRUE(rec.ok());
    return *rec;
  }

  fs::path dir_;
  FakeClock clock_{1'764'000'000'000};
  CountingActions actions_{clock_};
  ProxyClient proxy_;
  std::vector<std::string> logs_;
  std::unique_ptr<DurableHandler> handler_;
  std::unique_ptr<LambdaLikeInvoker> invoker_;
  backend::local::MemoryStore store_;
  std::unique_ptr<backend::local::LocalDurableService> service_;
};

TEST_F(DurableHandlerTest, RunsTheDefaultWorkflowWithTheWholeInput) {
  Start();
  auto rec = RunToEnd({{"who", "lambda"}});
  ASSERT_EQ(rec.progress.status, P::ExecutionStatus::kSucceeded);
  EXPECT_EQ(json::parse(*rec.progress.result), (json{{"who", "lambda"}, {"last", "three"}}));
  EXPECT_EQ(actions_.calls["one"], 1);
}

TEST_F(DurableHandlerTest, TheInputSelectsAWorkflowAndCarriesItsInput) {
  Start();
  auto rec = RunToEnd({{"workflow", "waits"}, {"input", {{"x", 1}}}});
  ASSERT_EQ(rec.progress.status, P::ExecutionStatus::kSucceeded)
      << (rec.progress.error ? rec.progress.error->message : "");
  EXPECT_EQ(*rec.progress.result, "\"after\"");
  // Two invocations (the wait in between): before ran once, the engine was
  // compiled once and reused.
  EXPECT_EQ(invoker_->invocations, 2);
  EXPECT_EQ(actions_.calls["before"], 1);
  auto a = handler_->bundle().Find("waits");
  auto b = handler_->bundle().Find("waits");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->get(), b->get());
  EXPECT_EQ(json::parse(invoker_->replies[0]), (json{{"Status", "PENDING"}}));
}

TEST_F(DurableHandlerTest, LogsAreNotRepeatedDuringReplay) {
  Start();
  auto rec = RunToEnd({{"workflow", "waits"}});
  ASSERT_EQ(rec.progress.status, P::ExecutionStatus::kSucceeded);
  int before_started = 0;
  for (const auto& l : logs_) before_started += l.find("step before started") != std::string::npos;
  EXPECT_EQ(before_started, 1);
  ASSERT_FALSE(logs_.empty());
  EXPECT_EQ(logs_.back().rfind("req-2 ", 0), 0u) << logs_.back();
}

TEST_F(DurableHandlerTest, AnUnknownWorkflowFailsTheExecution) {
  Start();
  auto rec = RunToEnd({{"workflow", "nope"}, {"input", {}}});
  ASSERT_EQ(rec.progress.status, P::ExecutionStatus::kFailed);
  EXPECT_EQ(rec.progress.error->type, kUnknownWorkflow);
  EXPECT_NE(rec.progress.error->message.find("steps, waits"), std::string::npos)
      << rec.progress.error->message;
}

TEST_F(DurableHandlerTest, AWorkflowThatDoesNotValidateFailsWithItsDiagnostics) {
  Write("broken", "cairn: 1\nname: broken\nsteps:\n  - name: a\n    next: nowhere\n    set: 1\n");
  Start();
  auto rec = RunToEnd({{"workflow", "broken"}});
  ASSERT_EQ(rec.progress.status, P::ExecutionStatus::kFailed);
  EXPECT_EQ(rec.progress.error->type, kInvalidWorkflow);
  EXPECT_NE(rec.progress.error->message.find("broken.yaml:5:"), std::string::npos)
      << rec.progress.error->message;
  EXPECT_NE(rec.progress.error->message.find("CRN"), std::string::npos);
}

TEST_F(DurableHandlerTest, WithoutADefaultTheInputMustNameAWorkflow) {
  Start("");
  auto rec = RunToEnd({{"who", "x"}});
  ASSERT_EQ(rec.progress.status, P::ExecutionStatus::kFailed);
  EXPECT_EQ(rec.progress.error->type, "Cairn.NoWorkflow");
}

TEST_F(DurableHandlerTest, TheDeadlineStopsNewStepsAndTheNextInvocationGoesOn) {
  Start();
  // Each step takes 4 s; an invocation may last 9 s, of which the last 2 s
  // are the margin: at most two steps start per invocation.
  actions_.step_ms = 4000;
  invoker_->timeout_ms = 9000;
  auto rec = RunToEnd({{"who", "late"}});
  ASSERT_EQ(rec.progress.status, P::ExecutionStatus::kSucceeded)
      << (rec.progress.error ? rec.progress.error->message : "");
  EXPECT_EQ(json::parse(*rec.progress.result)["last"], "three");
  // No step ran twice: everything done before the stop was checkpointed.
  EXPECT_EQ(actions_.calls, (std::map<std::string, int>{{"one", 1}, {"three", 1}, {"two", 1}}));
  EXPECT_EQ(invoker_->errors, (std::vector<std::string>{engine::kDeadlineError}));
}

TEST_F(DurableHandlerTest, AtTheDeadlineWithAWaitPendingTheReplyIsPending) {
  Write("wait-then-step", R"(
cairn: 1
name: wait-then-step
steps:
  - name: fan
    parallel:
      branches:
        slow:
          - {name: nap, wait: 1h}
        busy:
          - name: work
            process.run: {command: [work]}
          - name: more
            process.run: {command: [more]}
)");
  Start();
  actions_.step_ms = 8000;
  invoker_->timeout_ms = 9000;
  auto rec = RunToEnd({{"workflow", "wait-then-step"}});
  ASSERT_EQ(rec.progress.status, P::ExecutionStatus::kSucceeded)
      << (rec.progress.error ? rec.progress.error->message : "");
  EXPECT_EQ(actions_.calls["work"], 1);
  EXPECT_EQ(actions_.calls["more"], 1);
  EXPECT_TRUE(invoker_->errors.empty());
  ASSERT_FALSE(invoker_->replies.empty());
  EXPECT_EQ(json::parse(invoker_->replies[0]), (json{{"Status", "PENDING"}}));
}

// A scripted CheckpointClient for paths the local service cannot show.
class RecordingClient final : public backend::CheckpointClient {
 public:
  Result<P::CheckpointResponse> Checkpoint(const std::string&,
                                           const P::CheckpointRequest& request) override {
    requests.push_back(request);
    P::CheckpointResponse r;
    bool ends = !request.updates.empty() &&
                request.updates.back().type == P::OperationType::kExecution;
    if (!ends) r.checkpoint_token = "tok-" + std::to_string(requests.size() + 1);
    return r;
  }
  Result<P::ExecutionState> GetState(const std::string&, const std::string& token,
                                     const std::string& marker) override {
    tokens_seen.push_back(token + "@" + marker);
    P::ExecutionState s;
    if (marker == "page-2") {
      P::Operation exec;
      exec.id = "exec-1";
      exec.type = P::OperationType::kExecution;
      exec.status = P::OperationStatus::kStarted;
      exec.input_payload = input;
      s.operations.push_back(exec);
    }
    return s;
  }
  std::vector<P::CheckpointRequest> requests;
  std::vector<std::string> tokens_seen;
  std::string input;
};

TEST(DurableHandlerLargeResultTest, AResultOver6MbIsCheckpointedAndTheReplyIsEmpty) {
  fs::path dir = fs::temp_directory_path() / ("cairn-lambda-big-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "echo.yaml") << "cairn: 1\nname: echo\nsteps:\n  - name: s\n    set: 1\n"
                                      "output: \"${ .input.blob }\"\n";
  FakeClock clock;
  CountingActions actions(clock);
  RecordingClient client;
  client.input = json{{"blob", std::string(7'000'000, 'b')}}.dump();
  DurableHandlerOptions o;
  o.workflows_dir = dir.string();
  o.default_workflow = "echo";
  o.actions = &actions;
  o.client = &client;
  o.clock = &clock;
  o.lookup_env = [](const char*) -> const char* { return nullptr; };
  DurableHandler handler(o);
  ASSERT_TRUE(handler.Init().ok());
  // The EXECUTION operation arrives on the second page (GetState).
  json event = {{"DurableExecutionArn", "arn:aws:lambda:us-east-1:1:function:f:$LATEST/durable-execution/n/exec-1"},
                {"CheckpointToken", "tok-1"},
                {"InitialExecutionState", {{"Operations", json::array()}, {"NextMarker", "page-2"}}}};
  HandlerReply reply = handler.Handle({"r1", 0, "", "", event.dump()});
  fs::remove_all(dir);
  ASSERT_TRUE(reply.ok) << reply.error.message;
  EXPECT_EQ(json::parse(reply.body), (json{{"Status", "SUCCEEDED"}, {"Result", ""}}));
  EXPECT_EQ(client.tokens_seen, (std::vector<std::string>{"tok-1@page-2"}));
  ASSERT_FALSE(client.requests.empty());
  const auto& last = client.requests.back();
  ASSERT_EQ(last.updates.size(), 1u);
  EXPECT_EQ(last.updates[0].type, P::OperationType::kExecution);
  EXPECT_EQ(last.updates[0].action, P::OperationAction::kSucceed);
  EXPECT_EQ(last.updates[0].id, "exec-1");
  EXPECT_EQ(last.updates[0].payload->size(), 7'000'002u);
  // Made with the newest token (no earlier checkpoint: the first one).
  EXPECT_EQ(last.checkpoint_token, "tok-" + std::to_string(client.requests.size()));
}

TEST(DurableHandlerEventTest, ANonDurableEventIsAnInvocationError) {
  FakeClock clock;
  CountingActions actions(clock);
  RecordingClient client;
  DurableHandlerOptions o;
  o.workflows_dir = "/nonexistent";
  o.actions = &actions;
  o.client = &client;
  o.clock = &clock;
  DurableHandler handler(o);
  EXPECT_FALSE(handler.Init().ok());
  HandlerReply r1 = handler.Handle({"r1", 0, "", "", "not json"});
  EXPECT_FALSE(r1.ok);
  EXPECT_EQ(r1.error.type, "Runtime.InvalidEvent");
  HandlerReply r2 = handler.Handle({"r2", 0, "", "", R"({"key": "value"})"});
  EXPECT_FALSE(r2.ok);
  EXPECT_NE(r2.error.message.find("DurableConfig"), std::string::npos);
}

}  // namespace
}  // namespace cairn::lambda
