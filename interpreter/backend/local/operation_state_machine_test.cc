// The transition table of PROTOCOL.md, every (type, action, prior status)
// combination, and the batch rules.
#include "backend/local/operation_state_machine.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "backend/durable_backend.h"

namespace cairn::backend::local {
namespace {

using protocol::ErrorObject;
using protocol::ExecutionStatus;
using protocol::Operation;
using protocol::OperationAction;
using protocol::OperationStatus;
using protocol::OperationType;
using protocol::OperationUpdate;

constexpr protocol::Timestamp kNow = 1'764'000'000'000;

class StateMachineTest : public ::testing::Test {
 protected:
  StateMachineTest() {
    execution_.arn = "arn:aws:lambda:local:000000000000:function:wf:$LATEST/durable-execution/x/id";
    execution_.execution_id = "id";
    execution_.name = "x";
    ctx_.now = kNow;
    ctx_.execution = &execution_;
    ctx_.new_callback_id = [this] { return "cb" + std::to_string(++callbacks_); };
  }

  void Add(Operation op) { ops_[op.id] = std::move(op); }

  Result<Plan> Run(const std::vector<OperationUpdate>& updates) {
    OperationLookup lookup = [this](const std::string& id) -> const Operation* {
      auto it = ops_.find(id);
      return it == ops_.end() ? nullptr : &it->second;
    };
    return PlanCheckpoint(updates, lookup, ctx_);
  }

  static OperationUpdate Update(OperationType type, OperationAction action,
                                const std::string& id = "op") {
    OperationUpdate u;
    u.id = id;
    u.type = type;
    u.action = action;
    u.name = "name";
    u.sub_type = "Sub";
    return u;
  }

  // An update of `type`/`action` carrying whatever options the action needs.
  static OperationUpdate Complete(OperationType type, OperationAction action) {
    OperationUpdate u = Update(type, action);
    if (action == OperationAction::kSucceed) u.payload = "\"ok\"";
    if (action == OperationAction::kFail) u.error = ErrorObject{"E", "failed", std::nullopt, {}};
    if (action == OperationAction::kRetry) {
      u.next_attempt_delay_seconds = 5;
      u.error = ErrorObject{"E", "retry", std::nullopt, {}};
    }
    if (type == OperationType::kWait) u.wait_seconds = 10;
    if (type == OperationType::kChainedInvoke) u.function_name = "other";
    return u;
  }

  static Operation Existing(OperationType type, OperationStatus status,
                            const std::string& id = "op") {
    Operation op;
    op.id = id;
    op.type = type;
    op.status = status;
    op.name = "name";
    op.sub_type = "Sub";
    op.start_timestamp = kNow - 1000;
    return op;
  }

  ExecutionRecord execution_;
  PlanContext ctx_;
  std::map<std::string, Operation> ops_;
  int callbacks_ = 0;
};

// The expected outcome, written from PROTOCOL.md's table independently of
// the implementation; nullopt = illegal.
std::optional<OperationStatus> Expected(OperationType type, OperationAction action,
                                        std::optional<OperationStatus> prior) {
  using S = OperationStatus;
  using A = OperationAction;
  const bool is_new = !prior;
  const bool open_step = prior == S::kStarted || prior == S::kReady;
  switch (type) {
    case OperationType::kStep:
      if (action == A::kStart && (is_new || prior == S::kReady)) return S::kStarted;
      if (action == A::kSucceed && open_step) return S::kSucceeded;
      if (action == A::kFail && open_step) return S::kFailed;
      if (action == A::kRetry && open_step) return S::kPending;
      return std::nullopt;
    case OperationType::kWait:
      if (action == A::kStart && is_new) return S::kStarted;
      if (action == A::kCancel && prior == S::kStarted) return S::kCancelled;
      return std::nullopt;
    case OperationType::kCallback:
    case OperationType::kChainedInvoke:
      if (action == A::kStart && is_new) return S::kStarted;
      return std::nullopt;
    case OperationType::kContext:
      if (action == A::kStart && is_new) return S::kStarted;
      if (action == A::kSucceed && prior == S::kStarted) return S::kSucceeded;
      if (action == A::kFail && prior == S::kStarted) return S::kFailed;
      return std::nullopt;
    case OperationType::kExecution:
      break;
  }
  return std::nullopt;
}

TEST_F(StateMachineTest, EveryTransitionOfTheTable) {
  const OperationType types[] = {OperationType::kStep, OperationType::kWait,
                                 OperationType::kCallback, OperationType::kContext,
                                 OperationType::kChainedInvoke};
  const OperationAction actions[] = {OperationAction::kStart, OperationAction::kSucceed,
                                     OperationAction::kFail, OperationAction::kRetry,
                                     OperationAction::kCancel};
  std::vector<std::optional<OperationStatus>> priors = {std::nullopt};
  for (auto s : {OperationStatus::kStarted, OperationStatus::kPending, OperationStatus::kReady,
                 OperationStatus::kSucceeded, OperationStatus::kFailed, OperationStatus::kCancelled,
                 OperationStatus::kTimedOut, OperationStatus::kStopped}) {
    priors.push_back(s);
  }
  int legal = 0, illegal = 0;
  for (auto type : types) {
    for (auto action : actions) {
      for (auto prior : priors) {
        ops_.clear();
        if (prior) Add(Existing(type, *prior));
        auto plan = Run({Complete(type, action)});
        auto expected = Expected(type, action, prior);
        std::string what = std::string(protocol::ToString(type)) + " " +
                           std::string(protocol::ToString(action)) + " from " +
                           (prior ? std::string(protocol::ToString(*prior)) : "new");
        if (expected) {
          ++legal;
          ASSERT_TRUE(plan.ok()) << what << ": " << plan.error().message;
          ASSERT_EQ(plan->changes.size(), 1u) << what;
          EXPECT_EQ(plan->changes[0].operation.status, *expected) << what;
          EXPECT_EQ(plan->changes[0].created, !prior) << what;
          EXPECT_EQ(plan->events.size(), 1u) << what;
        } else {
          ++illegal;
          ASSERT_FALSE(plan.ok()) << what << " should be illegal";
          EXPECT_EQ(plan.error().code, kInvalidRequestError) << what;
          EXPECT_NE(plan.error().message.find("'op'"), std::string::npos) << plan.error().message;
        }
      }
    }
  }
  std::printf("transition table: %d legal and %d illegal transitions checked\n", legal, illegal);
  EXPECT_EQ(legal + illegal, 5 * 5 * 9);
}

TEST_F(StateMachineTest, ExecutionUpdatesEndTheExecution) {
  auto ok = Run({Complete(OperationType::kExecution, OperationAction::kSucceed)});
  ASSERT_TRUE(ok.ok());
  ASSERT_TRUE(ok->execution_end);
  EXPECT_EQ(ok->execution_end->status, ExecutionStatus::kSucceeded);
  EXPECT_EQ(ok->execution_end->result, "\"ok\"");
  ASSERT_EQ(ok->events.size(), 1u);
  EXPECT_EQ(ok->events[0].event_type, "ExecutionSucceeded");
  EXPECT_EQ(ok->events[0].id, "id")
      << "EXECUTION updates apply to the execution, whatever their Id";

  auto failed = Run({Complete(OperationType::kExecution, OperationAction::kFail)});
  ASSERT_TRUE(failed.ok());
  EXPECT_EQ(failed->execution_end->status, ExecutionStatus::kFailed);
  EXPECT_EQ(failed->events[0].event_type, "ExecutionFailed");

  for (auto action : {OperationAction::kStart, OperationAction::kRetry, OperationAction::kCancel}) {
    EXPECT_FALSE(Run({Complete(OperationType::kExecution, action)}).ok());
  }
}

TEST_F(StateMachineTest, ExecutionUpdateMustBeLastAndAlone) {
  auto exec = Complete(OperationType::kExecution, OperationAction::kSucceed);
  auto step = Update(OperationType::kStep, OperationAction::kStart, "s");
  auto r = Run({exec, step});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("must be the last"), std::string::npos);
  r = Run({exec, exec});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("multiple EXECUTION"), std::string::npos);
  EXPECT_TRUE(Run({step, exec}).ok());
}

TEST_F(StateMachineTest, StartThenCloseInOneBatchIsAllowedForStepAndContext) {
  for (auto type : {OperationType::kStep, OperationType::kContext}) {
    ops_.clear();
    auto start = Update(type, OperationAction::kStart);
    auto done = Complete(type, OperationAction::kSucceed);
    auto plan = Run({start, done});
    ASSERT_TRUE(plan.ok()) << plan.error().message;
    ASSERT_EQ(plan->changes.size(), 1u);
    EXPECT_TRUE(plan->changes[0].created);
    EXPECT_EQ(plan->changes[0].operation.status, OperationStatus::kSucceeded);
    ASSERT_EQ(plan->events.size(), 2u);
    // A third update of the same id is a duplicate.
    auto again = Run({start, done, done});
    ASSERT_FALSE(again.ok());
    EXPECT_NE(again.error().message.find("twice"), std::string::npos);
  }
  // Other duplicates are rejected.
  auto start = Update(OperationType::kStep, OperationAction::kStart);
  EXPECT_FALSE(Run({start, start}).ok());
  auto wait = Complete(OperationType::kWait, OperationAction::kStart);
  auto cancel = Update(OperationType::kWait, OperationAction::kCancel);
  EXPECT_FALSE(Run({wait, cancel}).ok())
      << "only STEP and CONTEXT may be started and closed together";
}

TEST_F(StateMachineTest, IdentityFieldsNeverChange) {
  Add(Existing(OperationType::kStep, OperationStatus::kStarted));
  auto u = Complete(OperationType::kStep, OperationAction::kSucceed);
  u.name = "other";
  EXPECT_FALSE(Run({u}).ok());
  u = Complete(OperationType::kStep, OperationAction::kSucceed);
  u.sub_type = "Other";
  EXPECT_FALSE(Run({u}).ok());
  u = Complete(OperationType::kStep, OperationAction::kSucceed);
  u.parent_id = "p";
  EXPECT_FALSE(Run({u}).ok());
  u = Complete(OperationType::kContext, OperationAction::kSucceed);
  auto r = Run({u});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("Type cannot change"), std::string::npos);
  // Leaving identity fields out is not a change.
  u = Complete(OperationType::kStep, OperationAction::kSucceed);
  u.name.reset();
  u.sub_type.reset();
  EXPECT_TRUE(Run({u}).ok());
}

TEST_F(StateMachineTest, ParentMustBeAStartedContext) {
  auto child = Update(OperationType::kStep, OperationAction::kStart, "child");
  child.parent_id = "ctx";
  auto r = Run({child});
  ASSERT_FALSE(r.ok()) << "unknown parent";
  EXPECT_NE(r.error().message.find("Invalid parent"), std::string::npos);

  Add(Existing(OperationType::kStep, OperationStatus::kStarted, "ctx"));
  EXPECT_FALSE(Run({child}).ok()) << "a STEP cannot be a parent";

  ops_.clear();
  Add(Existing(OperationType::kContext, OperationStatus::kSucceeded, "ctx"));
  EXPECT_FALSE(Run({child}).ok()) << "a closed CONTEXT takes no new children";

  ops_.clear();
  Add(Existing(OperationType::kContext, OperationStatus::kStarted, "ctx"));
  EXPECT_TRUE(Run({child}).ok());

  // The parent may be started earlier in the same batch.
  ops_.clear();
  auto ctx = Update(OperationType::kContext, OperationAction::kStart, "ctx");
  auto plan = Run({ctx, child});
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  EXPECT_EQ(plan->changes[1].operation.parent_id, "ctx");
  EXPECT_FALSE(Run({child, ctx}).ok()) << "the parent must come first";
}

TEST_F(StateMachineTest, FieldLimits) {
  auto u = Update(OperationType::kStep, OperationAction::kStart, std::string(65, 'a'));
  EXPECT_FALSE(Run({u}).ok());
  EXPECT_FALSE(Run({Update(OperationType::kStep, OperationAction::kStart, "bad id")}).ok());
  EXPECT_FALSE(Run({Update(OperationType::kStep, OperationAction::kStart, "")}).ok());
  u = Update(OperationType::kStep, OperationAction::kStart);
  u.name = std::string(257, 'n');
  EXPECT_FALSE(Run({u}).ok());
  u.name = "tab\there";
  EXPECT_FALSE(Run({u}).ok());
  u = Update(OperationType::kStep, OperationAction::kStart);
  u.sub_type = std::string(33, 's');
  EXPECT_FALSE(Run({u}).ok());
  u = Update(OperationType::kWait, OperationAction::kStart);
  u.wait_seconds = 0;
  EXPECT_FALSE(Run({u}).ok());
  u.wait_seconds = protocol::kMaxDelaySeconds + 1;
  EXPECT_FALSE(Run({u}).ok());
  u = Update(OperationType::kWait, OperationAction::kStart);
  EXPECT_FALSE(Run({u}).ok()) << "WAIT START needs WaitOptions";
  u = Update(OperationType::kChainedInvoke, OperationAction::kStart);
  EXPECT_FALSE(Run({u}).ok()) << "CHAINED_INVOKE START needs a FunctionName";
}

TEST_F(StateMachineTest, PayloadOverTheLimitIsAPermanentError) {
  Add(Existing(OperationType::kStep, OperationStatus::kStarted));
  auto u = Complete(OperationType::kStep, OperationAction::kSucceed);
  u.payload = std::string(protocol::kMaxOperationPayloadBytes, 'x');
  EXPECT_TRUE(Run({u}).ok()) << "exactly the limit is fine";
  u.payload->push_back('x');
  auto r = Run({u});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, kInvalidRequestError);
  EXPECT_EQ(ClassifyError(r.error()), ErrorClass::kPermanent);
  EXPECT_NE(r.error().message.find("262144"), std::string::npos) << r.error().message;

  auto big_error = Complete(OperationType::kStep, OperationAction::kFail);
  big_error.error->message = std::string(40'000, 'e');
  EXPECT_FALSE(Run({big_error}).ok());

  // The execution's own result may be larger (up to 6 MiB).
  auto exec = Complete(OperationType::kExecution, OperationAction::kSucceed);
  exec.payload = std::string(1'000'000, 'r');
  EXPECT_TRUE(Run({exec}).ok());
  exec.payload = std::string(kMaxExecutionPayloadBytes + 1, 'r');
  EXPECT_FALSE(Run({exec}).ok());
}

TEST_F(StateMachineTest, PayloadXorErrorRules) {
  Add(Existing(OperationType::kStep, OperationStatus::kStarted));
  auto u = Complete(OperationType::kStep, OperationAction::kSucceed);
  u.error = ErrorObject{"E", "m", std::nullopt, {}};
  EXPECT_FALSE(Run({u}).ok());
  u = Complete(OperationType::kStep, OperationAction::kFail);
  u.payload = "1";
  EXPECT_FALSE(Run({u}).ok());
  u = Complete(OperationType::kStep, OperationAction::kRetry);
  u.payload = "1";
  EXPECT_FALSE(Run({u}).ok()) << "RETRY with both payload and error";
  u = Complete(OperationType::kStep, OperationAction::kRetry);
  u.next_attempt_delay_seconds.reset();
  EXPECT_FALSE(Run({u}).ok()) << "RETRY without StepOptions";
}

TEST_F(StateMachineTest, RetryMakesThePendingStateAndEvents) {
  Add(Existing(OperationType::kStep, OperationStatus::kStarted));
  auto plan = Run({Complete(OperationType::kStep, OperationAction::kRetry)});
  ASSERT_TRUE(plan.ok());
  const Operation& op = plan->changes[0].operation;
  EXPECT_EQ(op.status, OperationStatus::kPending);
  EXPECT_EQ(op.attempt, 1);
  EXPECT_EQ(op.next_attempt_timestamp, kNow + 5000);
  ASSERT_EQ(plan->timers_set.size(), 1u);
  EXPECT_EQ(plan->timers_set[0].key.kind, TimerKind::kStepRetry);
  EXPECT_EQ(plan->timers_set[0].due, kNow + 5000);
  ASSERT_EQ(plan->events.size(), 1u);
  EXPECT_EQ(plan->events[0].event_type, "StepFailed");
  EXPECT_EQ(plan->events[0].DetailsJson()["RetryDetails"],
            (nlohmann::json{{"CurrentAttempt", 1}, {"NextAttemptDelaySeconds", 5}}));
  EXPECT_EQ(plan->events[0].DetailsJson()["Error"]["Payload"]["ErrorType"], "E");

  // A poll attempt (RETRY with a payload) is a StepSucceeded with RetryDetails.
  ops_.clear();
  Add(Existing(OperationType::kStep, OperationStatus::kStarted));
  auto poll = Complete(OperationType::kStep, OperationAction::kRetry);
  poll.error.reset();
  poll.payload = "{\"n\":1}";
  plan = Run({poll});
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->events[0].event_type, "StepSucceeded");
  EXPECT_EQ(plan->events[0].DetailsJson()["Result"]["Payload"], "{\"n\":1}");
  EXPECT_EQ(plan->changes[0].operation.result, "{\"n\":1}");

  // READY → START → SUCCEED on the second attempt: CurrentAttempt 2.
  ops_.clear();
  Operation ready = Existing(OperationType::kStep, OperationStatus::kReady);
  ready.attempt = 1;
  Add(ready);
  plan = Run({Update(OperationType::kStep, OperationAction::kStart),
              Complete(OperationType::kStep, OperationAction::kSucceed)});
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->events[0].event_type, "StepStarted");
  EXPECT_EQ(plan->events[1].DetailsJson()["RetryDetails"]["CurrentAttempt"], 2);
  EXPECT_EQ(plan->changes[0].operation.attempt, 2);
}

TEST_F(StateMachineTest, ServiceMadeValues) {
  auto wait = Complete(OperationType::kWait, OperationAction::kStart);
  auto cb = Update(OperationType::kCallback, OperationAction::kStart, "cb");
  cb.callback_timeout_seconds = 30;
  cb.callback_heartbeat_timeout_seconds = 10;
  auto plan = Run({wait, cb});
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->changes[0].operation.scheduled_end_timestamp, kNow + 10'000);
  EXPECT_EQ(plan->events[0].DetailsJson()["Duration"], 10);
  EXPECT_EQ(plan->changes[1].operation.callback_id, "cb1");
  EXPECT_EQ(plan->events[1].DetailsJson(),
            (nlohmann::json{{"CallbackId", "cb1"}, {"Timeout", 30}, {"HeartbeatTimeout", 10}}));
  ASSERT_EQ(plan->callbacks.size(), 1u);
  EXPECT_EQ(plan->callbacks[0].heartbeat_timeout_seconds, 10);
  std::set<TimerKind> kinds;
  for (const auto& t : plan->timers_set) kinds.insert(t.key.kind);
  EXPECT_EQ(kinds, (std::set<TimerKind>{TimerKind::kWaitEnd, TimerKind::kCallbackTimeout,
                                        TimerKind::kCallbackHeartbeat}));
}

TEST_F(StateMachineTest, FailedBatchPlansNothing) {
  auto good = Update(OperationType::kStep, OperationAction::kStart, "a");
  auto bad = Update(OperationType::kWait, OperationAction::kSucceed, "b");
  auto r = Run({good, bad});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("update 1"), std::string::npos) << r.error().message;
}

TEST_F(StateMachineTest, ServiceTransitions) {
  Operation wait = Existing(OperationType::kWait, OperationStatus::kStarted);
  wait.start_timestamp = kNow;
  wait.scheduled_end_timestamp = kNow + 2000;
  auto t = WaitElapsed(wait, kNow + 2000);
  EXPECT_EQ(t.operation.status, OperationStatus::kSucceeded);
  ASSERT_TRUE(t.event);
  EXPECT_EQ(t.event->event_type, "WaitSucceeded");
  EXPECT_EQ(t.event->details["Duration"], 2);

  auto ready = StepReady(Existing(OperationType::kStep, OperationStatus::kPending), kNow);
  EXPECT_EQ(ready.operation.status, OperationStatus::kReady);
  EXPECT_FALSE(ready.event);

  Operation cb = Existing(OperationType::kCallback, OperationStatus::kStarted);
  auto ok = CallbackCompleted(cb, OperationStatus::kSucceeded, "\"x\"", std::nullopt, kNow);
  EXPECT_EQ(ok.operation.result, "\"x\"");
  EXPECT_EQ(ok.event->details["Result"]["Payload"], "\"x\"");
  auto timed_out = CallbackCompleted(
      cb, OperationStatus::kTimedOut, std::nullopt,
      ErrorObject{"Callback.Timeout", "Callback timed out", std::nullopt, {}}, kNow);
  EXPECT_EQ(timed_out.event->event_type, "CallbackTimedOut");
  EXPECT_EQ(timed_out.event->details["Error"]["Payload"]["ErrorType"], "Callback.Timeout");
}

}  // namespace
}  // namespace cairn::backend::local
