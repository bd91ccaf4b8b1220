// The local durable service: tokens, checkpoints, timers, callbacks, the
// driver, executions API, history, recovery — driven by scripted handlers
// (testing/mini_sdk.h) on a FakeClock.
#include "backend/local/local_durable_service.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <regex>
#include <set>
#include <thread>

#include "backend/local/memory_store.h"
#include "backend/local/sqlite_store.h"
#include "backend/local/testing/mini_sdk.h"
#include "backend/local/testing/temp_dir.h"

namespace cairn::backend::local {
namespace {

using protocol::CheckpointRequest;
using protocol::ErrorObject;
using protocol::ExecutionStatus;
using protocol::Operation;
using protocol::OperationAction;
using protocol::OperationStatus;
using protocol::OperationType;
using testing::MiniSdk;
using testing::ScriptedInvoker;
using testing::StepError;
using testing::StepFailure;
using testing::Suspend;

constexpr protocol::Timestamp kStart = 1'764'000'000'000;

class ServiceTest : public ::testing::Test {
 protected:
  ServiceTest() : clock_(kStart) {}

  // Creates the service with `handler` as every function's code.
  void Make(ScriptedInvoker::Handler handler, LocalServiceOptions options = {}) {
    invoker_ = std::make_unique<ScriptedInvoker>(std::move(handler));
    auto s = LocalDurableService::Create(store_, clock_, invoker_.get(), options);
    ASSERT_TRUE(s.ok()) << s.error().ToString();
    service_ = std::move(*s);
  }

  std::string Start(const std::string& input = "{}", const std::string& function = "wf",
                    std::optional<std::string> name = std::nullopt) {
    StartExecutionRequest r;
    r.function_name = function;
    r.name = std::move(name);
    r.input = input;
    auto started = service_->StartExecution(r);
    EXPECT_TRUE(started.ok()) << started.error().ToString();
    return started.ok() ? started->arn : "";
  }

  void Idle(bool advance = false) {
    IdleOptions o;
    if (advance) o.advance_clock = &clock_;
    Status st = service_->RunUntilIdle(o);
    ASSERT_TRUE(st.ok()) << st.error().ToString();
  }

  ExecutionRecord Get(const std::string& arn) {
    auto r = service_->GetExecution(arn);
    EXPECT_TRUE(r.ok()) << r.error().ToString();
    return r.ok() ? *r : ExecutionRecord{};
  }

  std::vector<HistoryEvent> History(const std::string& arn) {
    HistoryRequest r;
    r.arn = arn;
    auto page = service_->GetHistory(r);
    EXPECT_TRUE(page.ok()) << page.error().ToString();
    return page.ok() ? page->events : std::vector<HistoryEvent>{};
  }

  std::vector<std::string> EventTypes(const std::string& arn) {
    std::vector<std::string> out;
    for (const auto& e : History(arn)) out.push_back(e.event_type);
    return out;
  }

  MemoryStore store_;
  FakeClock clock_;
  std::unique_ptr<ScriptedInvoker> invoker_;
  std::unique_ptr<LocalDurableService> service_;
};

TEST_F(ServiceTest, ArnHasTheAwsShape) {
  Make([](MiniSdk&) { return std::string("1"); });
  std::string arn = Start("{}", "my-flow", "run_1");
  std::regex shape(
      R"(arn:aws:lambda:local:000000000000:function:my-flow:\$LATEST/durable-execution/run_1/[0-9a-f-]{36})");
  EXPECT_TRUE(std::regex_match(arn, shape)) << arn;
  ExecutionRecord r = Get(arn);
  EXPECT_EQ(arn.substr(arn.rfind('/') + 1), r.execution_id);
  EXPECT_EQ(service_->FunctionArn("my-flow"), "arn:aws:lambda:local:000000000000:function:my-flow");
}

TEST_F(ServiceTest, StepsRunAndTheExecutionSucceeds) {
  Make([](MiniSdk& sdk) {
    std::string a = sdk.Step("a", [] { return std::string("1"); });
    std::string b = sdk.Step("b", [&] { return std::to_string(std::stoi(a) + 1); });
    return b;
  });
  std::string arn = Start();
  Idle();
  ExecutionRecord r = Get(arn);
  EXPECT_EQ(r.progress.status, ExecutionStatus::kSucceeded);
  EXPECT_EQ(r.progress.result, "2");
  EXPECT_EQ(EventTypes(arn), (std::vector<std::string>{
                                 "ExecutionStarted", "StepStarted", "StepSucceeded", "StepStarted",
                                 "StepSucceeded", "InvocationCompleted", "ExecutionSucceeded"}));
  EXPECT_EQ(invoker_->invocations.load(), 1);
}

TEST_F(ServiceTest, StartIsIdempotentByName) {
  Make([](MiniSdk& sdk) {
    sdk.Wait(10);
    return std::string("1");
  });
  std::string arn = Start("{\"a\":1}", "wf", "same");
  StartExecutionRequest again{"wf", "same", "{\"a\":1}", std::nullopt};
  auto r = service_->StartExecution(again);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->arn, arn);
  EXPECT_TRUE(r->already_existed);
  again.input = "{\"a\":2}";
  auto other = service_->StartExecution(again);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().code, kAlreadyStartedError);
  // Another function may use the same name.
  EXPECT_TRUE(service_->StartExecution({"wf2", "same", "{}", std::nullopt}).ok());
  Idle(true);
  ASSERT_EQ(Get(arn).progress.status, ExecutionStatus::kSucceeded);
  again.input = "{\"a\":1}";
  auto ended = service_->StartExecution(again);
  ASSERT_FALSE(ended.ok());
  EXPECT_EQ(ended.error().code, kAlreadyStartedError);

  EXPECT_EQ(service_->StartExecution({"bad name", std::nullopt, "{}", std::nullopt}).error().code,
            kInvalidRequestError);
  EXPECT_EQ(service_->StartExecution({"wf", std::nullopt, "{not json", std::nullopt}).error().code,
            kInvalidRequestError);
  EXPECT_EQ(service_->StartExecution({"wf", std::nullopt, "{}", 0}).error().code,
            kInvalidRequestError);
}

// ---- tokens ----

// An invoker whose body is a lambda over (invocation, client).
class LambdaInvoker final : public Invoker {
 public:
  using Body = std::function<Result<protocol::InvocationOutput>(const protocol::Invocation&,
                                                                CheckpointClient&)>;
  explicit LambdaInvoker(Body body) : body_(std::move(body)) {}
  Result<protocol::InvocationOutput> Invoke(const protocol::Invocation& inv,
                                            CheckpointClient& c) override {
    ++calls;
    return body_(inv, c);
  }
  int calls = 0;

 private:
  Body body_;
};

protocol::OperationUpdate StepUpdate(const std::string& id, OperationAction action) {
  protocol::OperationUpdate u;
  u.id = id;
  u.type = OperationType::kStep;
  u.sub_type = "Step";
  u.action = action;
  if (action == OperationAction::kSucceed) u.payload = "\"done\"";
  return u;
}

protocol::InvocationOutput Succeeded(std::string result) {
  protocol::InvocationOutput out;
  out.status = protocol::InvocationStatus::kSucceeded;
  out.result = std::move(result);
  return out;
}

TEST_F(ServiceTest, EachCheckpointConsumesItsToken) {
  std::vector<std::string> checks;
  LambdaInvoker invoker([&](const protocol::Invocation& inv,
                            CheckpointClient& c) -> Result<protocol::InvocationOutput> {
    EXPECT_EQ(inv.initial_state.operations.size(), 1u);
    EXPECT_EQ(inv.initial_state.operations[0].type, OperationType::kExecution);
    CheckpointRequest first{
        inv.checkpoint_token, std::nullopt, {StepUpdate("s", OperationAction::kStart)}};
    auto r1 = c.Checkpoint(inv.durable_execution_arn, first);
    EXPECT_TRUE(r1.ok());
    EXPECT_TRUE(r1->checkpoint_token && *r1->checkpoint_token != inv.checkpoint_token);
    // Reusing the consumed token fails, and applies nothing.
    CheckpointRequest stale{
        inv.checkpoint_token, std::nullopt, {StepUpdate("s", OperationAction::kSucceed)}};
    auto r2 = c.Checkpoint(inv.durable_execution_arn, stale);
    EXPECT_FALSE(r2.ok());
    if (!r2.ok()) {
      EXPECT_EQ(r2.error().code, kStaleTokenError);
      EXPECT_EQ(r2.error().message.rfind("Invalid checkpoint token", 0), 0u) << r2.error().message;
      EXPECT_EQ(ClassifyError(r2.error()), ErrorClass::kStaleToken);
    }
    // GetState needs the current token and does not consume it.
    EXPECT_FALSE(c.GetState(inv.durable_execution_arn, inv.checkpoint_token, "").ok());
    auto state = c.GetState(inv.durable_execution_arn, *r1->checkpoint_token, "");
    EXPECT_TRUE(state.ok());
    if (state.ok()) {
      EXPECT_EQ(state->operations.size(), 2u);
    }
    // An illegal update fails without consuming the token.
    CheckpointRequest bad{
        *r1->checkpoint_token, std::nullopt, {StepUpdate("s", OperationAction::kStart)}};
    auto r3 = c.Checkpoint(inv.durable_execution_arn, bad);
    EXPECT_FALSE(r3.ok());
    if (!r3.ok()) {
      EXPECT_EQ(r3.error().code, kInvalidRequestError);
    }
    // An empty checkpoint is legal (a poll) and rotates the token.
    CheckpointRequest poll{*r1->checkpoint_token, std::nullopt, {}};
    auto r4 = c.Checkpoint(inv.durable_execution_arn, poll);
    EXPECT_TRUE(r4.ok());
    // A ClientToken makes a retry of the same call idempotent.
    CheckpointRequest done{
        *r4->checkpoint_token, "client-1", {StepUpdate("s", OperationAction::kSucceed)}};
    auto r5 = c.Checkpoint(inv.durable_execution_arn, done);
    auto r6 = c.Checkpoint(inv.durable_execution_arn, done);
    EXPECT_TRUE(r5.ok() && r6.ok());
    if (r5.ok() && r6.ok()) {
      EXPECT_EQ(r5->checkpoint_token, r6->checkpoint_token);
      EXPECT_EQ(r5->new_state.operations.size(), 1u);
      if (!r5->new_state.operations.empty()) {
        EXPECT_EQ(r5->new_state.operations[0].status, OperationStatus::kSucceeded);
      }
    }
    checks.push_back("done");
    return Succeeded("\"ok\"");
  });
  auto s = LocalDurableService::Create(store_, clock_, &invoker);
  ASSERT_TRUE(s.ok());
  service_ = std::move(*s);
  std::string arn = Start();
  Idle();
  EXPECT_EQ(checks.size(), 1u);
  EXPECT_EQ(Get(arn).progress.status, ExecutionStatus::kSucceeded);
  // Exactly one StepSucceeded although the call was made twice.
  int succeeded = 0;
  for (const auto& t : EventTypes(arn)) succeeded += t == "StepSucceeded";
  EXPECT_EQ(succeeded, 1);
}

TEST_F(ServiceTest, TokensOfEarlierInvocationsAndEndedExecutionsAreStale) {
  std::vector<std::string> tokens;
  std::string arn_seen;
  LambdaInvoker invoker([&](const protocol::Invocation& inv,
                            CheckpointClient& c) -> Result<protocol::InvocationOutput> {
    tokens.push_back(inv.checkpoint_token);
    arn_seen = inv.durable_execution_arn;
    if (tokens.size() == 1) {
      protocol::OperationUpdate w;
      w.id = "w";
      w.type = OperationType::kWait;
      w.action = OperationAction::kStart;
      w.wait_seconds = 5;
      auto r = c.Checkpoint(inv.durable_execution_arn, {inv.checkpoint_token, std::nullopt, {w}});
      EXPECT_TRUE(r.ok());
      return protocol::InvocationOutput{};  // PENDING
    }
    // The first invocation's token is stale now.
    auto old = c.Checkpoint(inv.durable_execution_arn, {tokens[0], std::nullopt, {}});
    EXPECT_FALSE(old.ok());
    protocol::OperationUpdate end;
    end.id = "whatever";
    end.type = OperationType::kExecution;
    end.action = OperationAction::kSucceed;
    end.payload = "\"big result\"";
    auto r = c.Checkpoint(inv.durable_execution_arn, {inv.checkpoint_token, std::nullopt, {end}});
    EXPECT_TRUE(r.ok());
    if (r.ok()) {
      EXPECT_FALSE(r->checkpoint_token) << "no token after the EXECUTION update";
      bool saw_execution = false;
      for (const auto& op : r->new_state.operations) {
        saw_execution |=
            op.type == OperationType::kExecution && op.status == OperationStatus::kSucceeded;
      }
      EXPECT_TRUE(saw_execution);
    }
    auto after = c.Checkpoint(inv.durable_execution_arn, {inv.checkpoint_token, std::nullopt, {}});
    EXPECT_FALSE(after.ok());
    if (!after.ok()) {
      EXPECT_EQ(after.error().code, kStaleTokenError);
    }
    return Succeeded("");
  });
  auto s = LocalDurableService::Create(store_, clock_, &invoker);
  ASSERT_TRUE(s.ok());
  service_ = std::move(*s);
  std::string arn = Start();
  Idle(true);
  ASSERT_EQ(tokens.size(), 2u);
  EXPECT_NE(tokens[0], tokens[1]);
  ExecutionRecord r = Get(arn);
  EXPECT_EQ(r.progress.status, ExecutionStatus::kSucceeded);
  EXPECT_EQ(r.progress.result, "\"big result\"")
      << "the checkpointed result wins over the empty reply";
  // The checkpoint that ended the execution also recorded the invocation's
  // end, in the order of an execution that ends by returning; the return
  // itself wrote nothing more.
  auto types = EventTypes(arn);
  EXPECT_EQ(std::count(types.begin(), types.end(), "ExecutionSucceeded"), 1);
  EXPECT_EQ(std::count(types.begin(), types.end(), "InvocationCompleted"), 2);
  ASSERT_GE(types.size(), 2u);
  EXPECT_EQ(types[types.size() - 2], "InvocationCompleted");
  EXPECT_EQ(types.back(), "ExecutionSucceeded");
}

// ---- invocation outcomes ----

TEST_F(ServiceTest, PendingWithNothingPendingFailsTheExecution) {
  Make([](MiniSdk&) -> std::string { throw Suspend{}; });
  std::string arn = Start();
  Idle();
  ExecutionRecord r = Get(arn);
  ASSERT_EQ(r.progress.status, ExecutionStatus::kFailed);
  ASSERT_TRUE(r.progress.error);
  EXPECT_EQ(r.progress.error->message, "Cannot return PENDING status with no pending operations");
}

TEST_F(ServiceTest, FailedInvocationsAreRetriedWithFreshTokensThenFail) {
  std::set<std::string> tokens;
  LambdaInvoker invoker([&](const protocol::Invocation& inv,
                            CheckpointClient&) -> Result<protocol::InvocationOutput> {
    tokens.insert(inv.checkpoint_token);
    return MakeError("Runtime.ExitError", "the process exited");
  });
  LocalServiceOptions options;
  options.max_failed_invocations = 3;
  auto s = LocalDurableService::Create(store_, clock_, &invoker, options);
  ASSERT_TRUE(s.ok());
  service_ = std::move(*s);
  std::string arn = Start();
  Idle();
  EXPECT_EQ(invoker.calls, 1);
  EXPECT_EQ(Get(arn).progress.status, ExecutionStatus::kRunning);
  ASSERT_TRUE(service_->NextTimerDue());
  EXPECT_EQ(*service_->NextTimerDue(), kStart + 1000) << "first retry after the initial backoff";
  Idle(true);
  EXPECT_EQ(invoker.calls, 3);
  EXPECT_EQ(tokens.size(), 3u);
  ExecutionRecord r = Get(arn);
  EXPECT_EQ(r.progress.status, ExecutionStatus::kFailed);
  EXPECT_EQ(r.progress.error->type, "Runtime.ExitError");
  auto events = History(arn);
  int completed_with_error = 0;
  for (const auto& e : events) {
    if (e.event_type == "InvocationCompleted" && e.details.contains("Error")) {
      ++completed_with_error;
      EXPECT_EQ(e.details["Error"]["Payload"]["ErrorType"], "Runtime.ExitError");
      EXPECT_TRUE(e.details.contains("RequestId"));
      EXPECT_TRUE(e.details.contains("StartTimestamp"));
    }
  }
  EXPECT_EQ(completed_with_error, 3);
}

TEST_F(ServiceTest, OversizedPayloadFailsTheExecutionCleanly) {
  Make([](MiniSdk& sdk) {
    if (sdk.input() == "\"big\"") {
      return sdk.Step("big",
                      [] { return std::string(protocol::kMaxOperationPayloadBytes + 1, 'x'); });
    }
    return sdk.Step("small", [] { return std::string("\"fine\""); });
  });
  std::string big = Start("\"big\"");
  std::string small = Start("\"small\"");
  Idle();
  ExecutionRecord r = Get(big);
  ASSERT_EQ(r.progress.status, ExecutionStatus::kFailed);
  EXPECT_EQ(r.progress.error->type, "CheckpointError");
  EXPECT_NE(r.progress.error->message.find("262144"), std::string::npos)
      << r.progress.error->message;
  EXPECT_EQ(Get(small).progress.status, ExecutionStatus::kSucceeded);
  // The step stayed STARTED: nothing of the rejected update was applied.
  auto types = EventTypes(big);
  EXPECT_EQ(std::count(types.begin(), types.end(), "StepSucceeded"), 0);
  EXPECT_TRUE(store_.CheckConsistency().ok());
}

// ---- timers ----

TEST_F(ServiceTest, WaitCompletesWhenDue) {
  Make([](MiniSdk& sdk) {
    sdk.Wait(60);
    return std::string("\"after\"");
  });
  std::string arn = Start();
  Idle();
  EXPECT_EQ(Get(arn).progress.status, ExecutionStatus::kRunning);
  ASSERT_EQ(service_->NextTimerDue().value_or(0), kStart + 60'000);
  clock_.Advance(59'999);
  Idle();
  EXPECT_EQ(Get(arn).progress.status, ExecutionStatus::kRunning) << "not yet due";
  clock_.Advance(1);
  Idle();
  EXPECT_EQ(Get(arn).progress.status, ExecutionStatus::kSucceeded);
  auto events = History(arn);
  ASSERT_GE(events.size(), 4u);
  EXPECT_EQ(events[1].event_type, "WaitStarted");
  EXPECT_EQ(events[1].details["Duration"], 60);
  EXPECT_EQ(events[1].details["ScheduledEndTimestamp"], protocol::TimestampToJson(kStart + 60'000));
  EXPECT_EQ(events[3].event_type, "WaitSucceeded");
  EXPECT_EQ(events[3].details["Duration"], 60);
}

TEST_F(ServiceTest, StepRetryBecomesReadyWhenDue) {
  int attempts = 0;
  Make([&](MiniSdk& sdk) {
    return sdk.Step(
        "flaky",
        [&]() -> std::string {
          if (++attempts < 3) throw StepError{ErrorObject{"Flaky", "try again", std::nullopt, {}}};
          return "\"ok\"";
        },
        5, 7);
  });
  std::string arn = Start();
  Idle();
  EXPECT_EQ(attempts, 1);
  EXPECT_EQ(service_->NextTimerDue().value_or(0), kStart + 7000);
  Idle(true);
  EXPECT_EQ(attempts, 3);
  EXPECT_EQ(Get(arn).progress.status, ExecutionStatus::kSucceeded);
  auto events = History(arn);
  std::vector<int> current_attempts;
  for (const auto& e : events) {
    if (e.event_type == "StepFailed" || e.event_type == "StepSucceeded") {
      current_attempts.push_back(e.details["RetryDetails"]["CurrentAttempt"].get<int>());
    }
  }
  EXPECT_EQ(current_attempts, (std::vector<int>{1, 2, 3}));
}

TEST_F(ServiceTest, CallbackTimeoutAndHeartbeat) {
  std::string id;
  Make([&](MiniSdk& sdk) {
    return sdk.Callback("approval", 100, 10, [&](const std::string& cb) { id = cb; });
  });
  std::string arn = Start();
  Idle();
  ASSERT_FALSE(id.empty());
  EXPECT_GE(id.size(), 22u) << "at least 128 random bits";
  // Heartbeats keep it alive past the heartbeat timeout.
  for (int i = 0; i < 3; ++i) {
    clock_.Advance(8'000);
    Idle();
    ASSERT_TRUE(service_->SendCallbackHeartbeat(id).ok());
  }
  EXPECT_EQ(Get(arn).progress.status, ExecutionStatus::kRunning);
  // Then silence: the heartbeat timeout fires.
  clock_.Advance(10'000);
  Idle();
  ExecutionRecord r = Get(arn);
  ASSERT_EQ(r.progress.status, ExecutionStatus::kFailed);
  EXPECT_EQ(r.progress.error->type, "Callback.Heartbeat");
  auto late = service_->SendCallbackSuccess(id, "\"late\"");
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code, kCallbackTimeoutError);
}

TEST_F(ServiceTest, CallbackOverallTimeout) {
  Make([&](MiniSdk& sdk) { return sdk.Callback("c", 5); });
  std::string arn = Start();
  Idle(true);
  ExecutionRecord r = Get(arn);
  ASSERT_EQ(r.progress.status, ExecutionStatus::kFailed);
  EXPECT_EQ(r.progress.error->type, "Callback.Timeout");
  EXPECT_EQ(clock_.NowMillis(), kStart + 5000);
}

// ---- callbacks ----

TEST_F(ServiceTest, CallbackSuccessResumesTheExecution) {
  std::string id;
  Make([&](MiniSdk& sdk) {
    return sdk.Callback("c", 0, 0, [&](const std::string& cb) { id = cb; });
  });
  std::string arn = Start();
  Idle();
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(service_->SendCallbackSuccess(id, "{\"approved\":true}").ok());
  Idle();
  ExecutionRecord r = Get(arn);
  EXPECT_EQ(r.progress.status, ExecutionStatus::kSucceeded);
  EXPECT_EQ(r.progress.result, "{\"approved\":true}");
  // A second completion of the same callback is refused.
  auto dup = service_->SendCallbackSuccess(id, "1");
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, kCallbackTimeoutError);
  EXPECT_EQ(service_->SendCallbackFailure(id, ErrorObject{"E", "m", std::nullopt, {}}).error().code,
            kCallbackTimeoutError);
  EXPECT_EQ(service_->SendCallbackHeartbeat(id).error().code, kCallbackTimeoutError);
}

TEST_F(ServiceTest, CallbackFailureFailsTheCallback) {
  std::string id;
  Make([&](MiniSdk& sdk) {
    try {
      return sdk.Callback("c", 0, 0, [&](const std::string& cb) { id = cb; });
    } catch (const StepFailure& f) {
      return "\"caught " + f.error.type + "\"";
    }
  });
  std::string arn = Start();
  Idle();
  ASSERT_TRUE(
      service_->SendCallbackFailure(id, ErrorObject{"Rejected", "no", std::nullopt, {}}).ok());
  Idle();
  EXPECT_EQ(Get(arn).progress.result, "\"caught Rejected\"");
  auto events = History(arn);
  bool saw = false;
  for (const auto& e : events) {
    if (e.event_type == "CallbackFailed") {
      saw = true;
      EXPECT_EQ(e.details["Error"]["Payload"]["ErrorType"], "Rejected");
    }
  }
  EXPECT_TRUE(saw);
}

TEST_F(ServiceTest, BadCallbackCallsAreCleanErrors) {
  std::string id;
  Make([&](MiniSdk& sdk) {
    return sdk.Callback("c", 0, 0, [&](const std::string& cb) { id = cb; });
  });
  std::string arn = Start();
  Idle();
  // Unknown (well-formed) id.
  auto unknown = service_->SendCallbackSuccess("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "1");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, kCallbackTimeoutError);
  // Malformed ids.
  for (const std::string& bad : {std::string(), std::string("has space"), std::string("a=b"),
                                 std::string(2000, 'a'), std::string("x===")}) {
    auto r = service_->SendCallbackSuccess(bad, "1");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, kInvalidRequestError) << bad;
  }
  // Oversized result: rejected, the callback stays open, nothing else changes.
  auto big =
      service_->SendCallbackSuccess(id, std::string(protocol::kMaxOperationPayloadBytes + 1, 'x'));
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error().code, kPayloadTooLargeError);
  ErrorObject huge{"E", std::string(40'000, 'm'), std::nullopt, {}};
  EXPECT_EQ(service_->SendCallbackFailure(id, huge).error().code, kInvalidRequestError);
  EXPECT_EQ(Get(arn).progress.status, ExecutionStatus::kRunning);
  ASSERT_TRUE(
      service_->SendCallbackSuccess(id, std::string(protocol::kMaxOperationPayloadBytes, '1'))
          .ok());
  Idle();
  EXPECT_EQ(Get(arn).progress.status, ExecutionStatus::kSucceeded);
  EXPECT_TRUE(store_.CheckConsistency().ok());
}

TEST_F(ServiceTest, CallbackDuringTheInvocationIsSeenByAPoll) {
  LocalDurableService* service = nullptr;
  LambdaInvoker invoker([&](const protocol::Invocation& inv,
                            CheckpointClient& c) -> Result<protocol::InvocationOutput> {
    if (inv.initial_state.operations.size() > 1) return Succeeded("\"second\"");
    protocol::OperationUpdate cb;
    cb.id = "cb";
    cb.type = OperationType::kCallback;
    cb.action = OperationAction::kStart;
    auto r = c.Checkpoint(inv.durable_execution_arn, {inv.checkpoint_token, std::nullopt, {cb}});
    EXPECT_TRUE(r.ok());
    std::string id = *r->new_state.operations.at(0).callback_id;
    EXPECT_TRUE(service->SendCallbackSuccess(id, "\"v\"").ok());
    auto poll = c.Checkpoint(inv.durable_execution_arn, {*r->checkpoint_token, std::nullopt, {}});
    EXPECT_TRUE(poll.ok());
    EXPECT_EQ(poll->new_state.operations.size(), 1u);
    if (!poll->new_state.operations.empty()) {
      EXPECT_EQ(poll->new_state.operations[0].status, OperationStatus::kSucceeded);
    }
    return protocol::InvocationOutput{};  // PENDING: legal, the callback completed meanwhile
  });
  auto s = LocalDurableService::Create(store_, clock_, &invoker);
  ASSERT_TRUE(s.ok());
  service_ = std::move(*s);
  service = service_.get();
  std::string arn = Start();
  Idle();
  EXPECT_EQ(invoker.calls, 2) << "re-invoked because something completed during the invocation";
  EXPECT_EQ(Get(arn).progress.result, "\"second\"");
}

// ---- stop, list, history ----

TEST_F(ServiceTest, StopEndsTheExecutionAndItsCallbacks) {
  std::string id;
  Make([&](MiniSdk& sdk) {
    return sdk.Callback("c", 1000, 0, [&](const std::string& cb) { id = cb; });
  });
  std::string arn = Start();
  Idle();
  auto stopped = service_->StopExecution(arn, ErrorObject{"Operator", "enough", std::nullopt, {}});
  ASSERT_TRUE(stopped.ok()) << stopped.error().ToString();
  EXPECT_EQ(*stopped, clock_.NowMillis());
  ExecutionRecord r = Get(arn);
  EXPECT_EQ(r.progress.status, ExecutionStatus::kStopped);
  EXPECT_EQ(service_->SendCallbackSuccess(id, "1").error().code, kCallbackTimeoutError);
  EXPECT_EQ(service_->StopExecution(arn, std::nullopt).error().code, kInvalidRequestError);
  EXPECT_EQ(service_->StopExecution(arn + "x", std::nullopt).error().code, kNotFoundError);
  EXPECT_FALSE(service_->NextTimerDue()) << "the stopped execution's timers are gone";
  auto events = History(arn);
  EXPECT_EQ(events.back().event_type, "ExecutionStopped");
  EXPECT_EQ(events.back().details["Error"]["Payload"]["ErrorType"], "Operator");
  auto timers = store_.GetTimers();
  ASSERT_TRUE(timers.ok());
  EXPECT_TRUE(timers->empty());
}

TEST_F(ServiceTest, ListAndHistoryPage) {
  Make([](MiniSdk& sdk) {
    for (int i = 0; i < 4; ++i) sdk.Step("s" + std::to_string(i), [] { return std::string("1"); });
    return std::string("\"r\"");
  });
  std::vector<std::string> arns;
  for (int i = 0; i < 5; ++i) arns.push_back(Start("{}", i < 3 ? "a" : "b"));
  Idle();
  ListExecutionsRequest list;
  list.function_name = "a";
  list.max_items = 2;
  auto p1 = service_->ListExecutions(list);
  ASSERT_TRUE(p1.ok());
  ASSERT_EQ(p1->executions.size(), 2u);
  EXPECT_EQ(p1->executions[0].arn, arns[0]);
  ASSERT_FALSE(p1->next_marker.empty());
  list.marker = p1->next_marker;
  auto p2 = service_->ListExecutions(list);
  ASSERT_TRUE(p2.ok());
  ASSERT_EQ(p2->executions.size(), 1u);
  EXPECT_EQ(p2->executions[0].arn, arns[2]);
  EXPECT_TRUE(p2->next_marker.empty());
  list.marker = "not-a-marker";
  EXPECT_EQ(service_->ListExecutions(list).error().code, kInvalidRequestError);
  ListExecutionsRequest running;
  running.function_name = "b";
  running.statuses = {ExecutionStatus::kRunning};
  EXPECT_TRUE(service_->ListExecutions(running)->executions.empty());

  HistoryRequest h;
  h.arn = arns[0];
  h.max_items = 4;
  auto first = service_->GetHistory(h);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->events.size(), 4u);
  EXPECT_EQ(first->events[0].event_id, 1);
  EXPECT_EQ(first->events[0].event_type, "ExecutionStarted");
  h.marker = first->next_marker;
  auto second = service_->GetHistory(h);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->events[0].event_id, 5);
  h.marker.clear();
  h.reverse = true;
  h.max_items = 2;
  auto last = service_->GetHistory(h);
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(last->events[0].event_type, "ExecutionSucceeded");
  EXPECT_EQ(last->events[1].event_type, "InvocationCompleted");
  EXPECT_EQ(service_->GetHistory({"arn:nope", "", 10, false}).error().code, kNotFoundError);

  // Without execution data, payloads are left out.
  nlohmann::json with = HistoryEventToJson(last->events[0], true);
  nlohmann::json without = HistoryEventToJson(last->events[0], false);
  EXPECT_EQ(with["ExecutionSucceededDetails"]["Result"]["Payload"], "\"r\"");
  EXPECT_EQ(without["ExecutionSucceededDetails"]["Result"], nlohmann::json::object());
}

// ---- state pages and contexts ----

TEST_F(ServiceTest, LargeStatesArePaged) {
  LocalServiceOptions options;
  options.state_page_size = 3;
  int invocations_with_all_ops = 0;
  Make(
      [&](MiniSdk& sdk) {
        for (int i = 0; i < 7; ++i) sdk.Step("s", [] { return std::string("1"); });
        sdk.Wait(1);
        ++invocations_with_all_ops;
        return std::string("1");
      },
      options);
  std::string arn = Start();
  Idle(true);
  EXPECT_EQ(Get(arn).progress.status, ExecutionStatus::kSucceeded);
  EXPECT_EQ(invoker_->invocations.load(), 2)
      << "the second invocation replayed 8 operations in 3 pages";
  EXPECT_EQ(invocations_with_all_ops, 1);
}

TEST_F(ServiceTest, ChildrenOfCompletedContextsAreLeftOutOfTheState) {
  size_t seen = 0;
  LambdaInvoker invoker([&](const protocol::Invocation& inv,
                            CheckpointClient& c) -> Result<protocol::InvocationOutput> {
    if (inv.initial_state.operations.size() > 1) {
      seen = inv.initial_state.operations.size();
      return Succeeded("1");
    }
    std::vector<protocol::OperationUpdate> u(5);
    u[0].id = "ctx";
    u[0].type = OperationType::kContext;
    u[0].action = OperationAction::kStart;
    u[1].id = "child";
    u[1].parent_id = "ctx";
    u[1].type = OperationType::kStep;
    u[1].action = OperationAction::kStart;
    u[2] = u[1];
    u[2].action = OperationAction::kSucceed;
    u[3] = u[0];
    u[3].action = OperationAction::kSucceed;
    u[4].id = "w";
    u[4].type = OperationType::kWait;
    u[4].action = OperationAction::kStart;
    u[4].wait_seconds = 1;
    auto r = c.Checkpoint(inv.durable_execution_arn, {inv.checkpoint_token, std::nullopt, u});
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return protocol::InvocationOutput{};
  });
  auto s = LocalDurableService::Create(store_, clock_, &invoker);
  ASSERT_TRUE(s.ok());
  service_ = std::move(*s);
  Start();
  Idle(true);
  EXPECT_EQ(seen, 3u) << "EXECUTION, ctx and w; not the completed context's child";
}

// ---- chained invokes ----

TEST_F(ServiceTest, ChainedInvokeRunsTheTargetAndCompletesTheOperation) {
  LambdaInvoker* self = nullptr;
  LambdaInvoker invoker([&](const protocol::Invocation& inv,
                            CheckpointClient& c) -> Result<protocol::InvocationOutput> {
    if (inv.durable_execution_arn.find(":function:child:") != std::string::npos) {
      const auto& input = inv.initial_state.operations[0].input_payload;
      return Succeeded("{\"child_saw\":" + input.value_or("null") + "}");
    }
    for (const auto& op : inv.initial_state.operations) {
      if (op.type == OperationType::kChainedInvoke && op.status == OperationStatus::kSucceeded) {
        return Succeeded(*op.result);
      }
    }
    protocol::OperationUpdate u;
    u.id = "call";
    u.type = OperationType::kChainedInvoke;
    u.action = OperationAction::kStart;
    u.function_name = "child";
    u.payload = "{\"x\":1}";
    auto r = c.Checkpoint(inv.durable_execution_arn, {inv.checkpoint_token, std::nullopt, {u}});
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return protocol::InvocationOutput{};
  });
  self = &invoker;
  auto s = LocalDurableService::Create(store_, clock_, &invoker);
  ASSERT_TRUE(s.ok());
  service_ = std::move(*s);
  std::string arn = Start("{}", "parent");
  Idle();
  EXPECT_EQ(self->calls, 3);
  EXPECT_EQ(Get(arn).progress.result, "{\"child_saw\":{\"x\":1}}");
  auto events = History(arn);
  std::string child_arn;
  for (const auto& e : events) {
    if (e.event_type == "ChainedInvokeStarted") child_arn = e.details["DurableExecutionArn"];
  }
  ASSERT_FALSE(child_arn.empty());
  EXPECT_EQ(Get(child_arn).progress.status, ExecutionStatus::kSucceeded);
  auto types = EventTypes(arn);
  EXPECT_NE(std::find(types.begin(), types.end(), "ChainedInvokeSucceeded"), types.end());
}

// ---- recovery ----

TEST(ServiceRecoveryTest, ARestartResumesTimersAndDueExecutions) {
  testing::TempDir dir;
  const std::string path = dir.File("store.db");
  FakeClock clock(kStart);
  int invocations = 0;
  auto handler = [&](MiniSdk& sdk) {
    ++invocations;
    sdk.Wait(30);
    return sdk.Step("after", [] { return std::string("\"done\""); });
  };
  std::string waiting, fresh;
  {
    auto store = SqliteStore::Open(path);
    ASSERT_TRUE(store.ok());
    ScriptedInvoker invoker(handler);
    auto service = LocalDurableService::Create(**store, clock, &invoker);
    ASSERT_TRUE(service.ok());
    waiting = (*service)->StartExecution({"wf", "waiting", "{}", std::nullopt})->arn;
    ASSERT_TRUE((*service)->RunUntilIdle().ok());
    // Started but never invoked before the "crash".
    fresh = (*service)->StartExecution({"wf", "fresh", "{}", std::nullopt})->arn;
  }
  auto store = SqliteStore::Open(path);
  ASSERT_TRUE(store.ok()) << store.error().ToString();
  ScriptedInvoker invoker(handler);
  auto service = LocalDurableService::Create(**store, clock, &invoker);
  ASSERT_TRUE(service.ok());
  EXPECT_EQ((*service)->RunnableCount(), 1u);
  EXPECT_EQ((*service)->NextTimerDue().value_or(0), kStart + 30'000);
  IdleOptions idle;
  idle.advance_clock = &clock;
  ASSERT_TRUE((*service)->RunUntilIdle(idle).ok());
  EXPECT_EQ((*service)->GetExecution(waiting)->progress.status, ExecutionStatus::kSucceeded);
  EXPECT_EQ((*service)->GetExecution(fresh)->progress.status, ExecutionStatus::kSucceeded);
  EXPECT_TRUE((*store)->CheckConsistency().ok());
}

// The ExecutionTimeout's timer is not stored: a restart makes it again
// from the execution's row, and the execution still times out at its
// deadline, not earlier and not never.
TEST(ServiceRecoveryTest, ARestartKeepsTheExecutionTimeout) {
  testing::TempDir dir;
  const std::string path = dir.File("store.db");
  FakeClock clock(kStart);
  auto handler = [&](MiniSdk& sdk) {
    sdk.Wait(3600);  // longer than the execution may run
    return std::string("\"late\"");
  };
  std::string arn;
  {
    auto store = SqliteStore::Open(path);
    ASSERT_TRUE(store.ok());
    ScriptedInvoker invoker(handler);
    auto service = LocalDurableService::Create(**store, clock, &invoker);
    ASSERT_TRUE(service.ok());
    arn = (*service)->StartExecution({"wf", "bounded", "{}", 120})->arn;
    ASSERT_TRUE((*service)->RunUntilIdle().ok());
    auto timers = (*store)->GetTimers();
    ASSERT_TRUE(timers.ok());
    for (const auto& t : *timers) EXPECT_NE(t.key.kind, TimerKind::kExecutionTimeout);
  }
  auto store = SqliteStore::Open(path);
  ASSERT_TRUE(store.ok()) << store.error().ToString();
  ScriptedInvoker invoker(handler);
  auto service = LocalDurableService::Create(**store, clock, &invoker);
  ASSERT_TRUE(service.ok());
  EXPECT_EQ((*service)->NextTimerDue().value_or(0), kStart + 120'000);
  clock.Set(kStart + 119'000);
  ASSERT_TRUE((*service)->RunOnce().ok());
  EXPECT_EQ((*service)->GetExecution(arn)->progress.status, ExecutionStatus::kRunning);
  clock.Set(kStart + 120'000);
  ASSERT_TRUE((*service)->RunOnce().ok());
  EXPECT_EQ((*service)->GetExecution(arn)->progress.status, ExecutionStatus::kTimedOut);
  EXPECT_TRUE((*store)->CheckConsistency().ok());
}

// ---- concurrency and group commit ----

TEST(ServiceConcurrencyTest, ServeRunsManyExecutionsAndSharesCommits) {
  testing::TempDir dir;
  auto store = SqliteStore::Open(dir.File("c.db"));
  ASSERT_TRUE(store.ok());
  const Clock& clock = SystemClock::Instance();
  ScriptedInvoker invoker([](MiniSdk& sdk) {
    for (int i = 0; i < 3; ++i) sdk.Step("s", [] { return std::string("1"); });
    return std::string("\"ok\"");
  });
  auto service = LocalDurableService::Create(**store, clock, &invoker);
  ASSERT_TRUE(service.ok());
  constexpr int kExecutions = 48;
  std::vector<std::string> arns;
  for (int i = 0; i < kExecutions; ++i) {
    arns.push_back((*service)->StartExecution({"wf", std::nullopt, "{}", std::nullopt})->arn);
  }
  const StoreStats before = (*store)->stats();
  std::thread server([&] {
    ServeOptions options;
    options.invoke_threads = 16;
    EXPECT_TRUE((*service)->Serve(options).ok());
  });
  auto all_done = [&] {
    ListExecutionsRequest r;
    r.function_name = "wf";
    r.statuses = {ExecutionStatus::kSucceeded};
    r.max_items = 1000;
    return (*service)->ListExecutions(r)->executions.size() == kExecutions;
  };
  for (int i = 0; i < 3000 && !all_done(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  (*service)->Stop();
  server.join();
  ASSERT_TRUE(all_done());
  const StoreStats after = (*store)->stats();
  const int64_t batches = after.batches - before.batches;
  const int64_t transactions = after.transactions - before.transactions;
  // 6 checkpoints and one completion per execution.
  EXPECT_EQ(batches, kExecutions * 7);
  EXPECT_LT(transactions, batches);
  std::printf("serve: %d executions, %lld store batches in %lld transactions\n", kExecutions,
              static_cast<long long>(batches), static_cast<long long>(transactions));
}

// ---- throughput (not run by default: --gtest_also_run_disabled_tests) ----

// One durable step = one checkpoint carrying START and SUCCEED of a STEP.
class StepLoopInvoker final : public Invoker {
 public:
  explicit StepLoopInvoker(int steps) : steps_(steps) {}
  Result<protocol::InvocationOutput> Invoke(const protocol::Invocation& inv,
                                            CheckpointClient& c) override {
    std::string token = inv.checkpoint_token;
    for (int i = 0; i < steps_; ++i) {
      std::string id = "s" + std::to_string(i);
      auto r = c.Checkpoint(
          inv.durable_execution_arn,
          {token,
           std::nullopt,
           {StepUpdate(id, OperationAction::kStart), StepUpdate(id, OperationAction::kSucceed)}});
      if (!r.ok()) return r.error();
      token = *r->checkpoint_token;
    }
    return Succeeded("1");
  }

 private:
  int steps_;
};

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

TEST(ServiceThroughputTest, DISABLED_CheckpointThroughput) {
  testing::TempDir dir;
  // The floor: one small write + fdatasync.
  {
    int fd = open(dir.File("floor").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_GE(fd, 0);
    char record[128] = {};
    constexpr int kN = 200;
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < kN; ++i) {
      ASSERT_EQ(pwrite(fd, record, sizeof record, 0), static_cast<ssize_t>(sizeof record));
      ASSERT_EQ(fdatasync(fd), 0);
    }
    double s = Seconds(t0);
    close(fd);
    std::printf("floor: write+fdatasync %.0f us (%.0f/s)\n", s / kN * 1e6, kN / s);
  }
  // CPU only: the same loop on a MemoryStore.
  {
    MemoryStore memory;
    constexpr int kSteps = 20'000;
    StepLoopInvoker invoker(kSteps);
    auto service = LocalDurableService::Create(memory, SystemClock::Instance(), &invoker);
    ASSERT_TRUE(service.ok());
    ASSERT_TRUE((*service)->StartExecution({"wf", std::nullopt, "{}", std::nullopt}).ok());
    auto cpu = [] {
      timespec ts;
      clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
      return ts.tv_sec + ts.tv_nsec * 1e-9;
    };
    const double c0 = cpu();
    auto t0 = std::chrono::steady_clock::now();
    ASSERT_TRUE((*service)->RunUntilIdle().ok());
    double s = Seconds(t0);
    double c = cpu() - c0;
    std::printf("memory store: %.1f us CPU (%.1f us wall) per durable step\n", c / kSteps * 1e6,
                s / kSteps * 1e6);
  }
  const char* env_steps = std::getenv("CAIRN_THROUGHPUT_STEPS");
  const int base_steps = env_steps ? std::atoi(env_steps) : 100;
  for (int threads : {1, 2, 4, 8, 16, 64}) {
    auto store = SqliteStore::Open(dir.File("t" + std::to_string(threads) + ".db"));
    ASSERT_TRUE(store.ok());
    const int steps = threads == 1 ? 2 * base_steps : base_steps;
    StepLoopInvoker invoker(steps);
    auto service = LocalDurableService::Create(**store, SystemClock::Instance(), &invoker);
    ASSERT_TRUE(service.ok());
    for (int e = 0; e < threads; ++e)
      ASSERT_TRUE((*service)->StartExecution({"wf", std::nullopt, "{}", std::nullopt}).ok());
    const StoreStats before = (*store)->stats();
    auto t0 = std::chrono::steady_clock::now();
    std::thread server([&] {
      ServeOptions o;
      o.invoke_threads = threads;
      EXPECT_TRUE((*service)->Serve(o).ok());
    });
    ListExecutionsRequest r;
    r.function_name = "wf";
    r.statuses = {ExecutionStatus::kSucceeded};
    while ((*service)->ListExecutions(r)->executions.size() < static_cast<size_t>(threads)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    double s = Seconds(t0);
    (*service)->Stop();
    server.join();
    const StoreStats after = (*store)->stats();
    const int checkpoints = threads * steps;
    std::printf(
        "%2d threads: %5d durable steps in %.2f s = %6.0f steps/s (%.0f us each), %lld "
        "transactions\n",
        threads, checkpoints, s, checkpoints / s, s / checkpoints * 1e6,
        static_cast<long long>(after.transactions - before.transactions));
  }
}

}  // namespace
}  // namespace cairn::backend::local
