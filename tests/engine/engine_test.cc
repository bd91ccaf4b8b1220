// The engine against cairn's embedded durable service (the real service
// side of the protocol, on an in-memory store), with time skipped by a
// FakeClock and actions answered by a script.
#include "engine/engine.h"

#include <gtest/gtest.h>
#include <pthread.h>

#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "backend/local/local_durable_service.h"
#include "backend/local/memory_store.h"
#include "compile/compile.h"
#include "engine/input_schema.h"
#include "validate/validate.h"

namespace cairn::engine {
namespace {

using nlohmann::json;
using protocol::ExecutionStatus;

// Answers process.run by the program name (command[0]): queued outcomes
// first, then success with {"ran": name, "params": ...}. Counts calls.
class ScriptedActions final : public actions::ActionRunner {
 public:
  actions::ActionOutcome Run(const actions::ActionRequest& request) override {
    std::lock_guard lock(mu_);
    json command = request.params.value("command", json::array());
    std::string key = command.is_array() && !command.empty() && command[0].is_string()
                          ? command[0].get<std::string>()
                          : "?";
    calls_[key]++;
    last_params_[key] = request.params;
    if (on_run) on_run(request);
    auto& queue = script_[key];
    if (!queue.empty()) {
      auto outcome = queue.front();
      queue.pop_front();
      return outcome;
    }
    return actions::ActionOutcome::Success({{"ran", key}, {"attempt", request.attempt}});
  }
  // Called (under the script's lock) as each action runs.
  std::function<void(const actions::ActionRequest&)> on_run;

  void Then(const std::string& key, actions::ActionOutcome outcome) {
    std::lock_guard lock(mu_);
    script_[key].push_back(std::move(outcome));
  }
  int calls(const std::string& key) {
    std::lock_guard lock(mu_);
    return calls_[key];
  }
  json params(const std::string& key) {
    std::lock_guard lock(mu_);
    return last_params_[key];
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::deque<actions::ActionOutcome>> script_;
  std::map<std::string, int> calls_;
  std::map<std::string, json> last_params_;
};

class EngineTest : public ::testing::Test {
 protected:
  void Load(const std::string& yaml) {
    ValidationResult r = ValidateText(yaml, "test.yaml");
    for (const auto& d : r.diagnostics) ADD_FAILURE() << d.location.ToString() << " " << d.code << " " << d.message;
    ASSERT_TRUE(r.ok());
    auto def = std::make_shared<const WorkflowDefinition>(std::move(r.definition));
    auto table = std::make_shared<const expr::ExpressionTable>(std::move(r.expressions));
    auto graph = CompileWorkflow(def, table);
    ASSERT_TRUE(graph.ok()) << graph.error().ToString();
    EngineOptions options;
    options.clock = &clock_;
    options.on_event = [this](const StepEvent& e) { events_.push_back(e); };
    options.end_in_last_checkpoint = end_in_last_checkpoint_;
    engine_ = std::make_unique<Engine>(*graph, &actions_, options);
    if (!service_) {
      auto service = backend::local::LocalDurableService::Create(store_, clock_, &invoker_);
      ASSERT_TRUE(service.ok()) << service.error().ToString();
      service_ = std::move(*service);
    }
  }

  std::string Start(const json& input = json::object(), const std::string& name = "") {
    backend::local::StartExecutionRequest req;
    req.function_name = "test";
    if (!name.empty()) req.name = name;
    req.input = input.dump();
    auto started = service_->StartExecution(req);
    EXPECT_TRUE(started.ok()) << started.error().ToString();
    return started.ok() ? started->arn : "";
  }

  // Runs everything that is due; with `skip_time`, also jumps the clock to
  // each next timer (waits, retries, callback deadlines) until nothing is left.
  void Drive(bool skip_time = true) {
    backend::local::IdleOptions idle;
    if (skip_time) idle.advance_clock = &clock_;
    auto s = service_->RunUntilIdle(idle);
    ASSERT_TRUE(s.ok()) << s.error().ToString();
  }

  backend::local::ExecutionRecord Execution(const std::string& arn) {
    auto r = service_->GetExecution(arn);
    EXPECT_TRUE(r.ok()) << r.error().ToString();
    return r.ok() ? *r : backend::local::ExecutionRecord{};
  }

  json Output(const std::string& arn) {
    auto rec = Execution(arn);
    EXPECT_EQ(rec.progress.status, ExecutionStatus::kSucceeded)
        << (rec.progress.error ? rec.progress.error->type + ": " + rec.progress.error->message : "");
    return rec.progress.result ? json::parse(*rec.progress.result) : json();
  }

  std::vector<std::string> EventTypes(const std::string& arn) {
    backend::local::HistoryRequest req;
    req.arn = arn;
    auto page = service_->GetHistory(req);
    EXPECT_TRUE(page.ok());
    std::vector<std::string> types;
    if (page.ok()) {
      for (const auto& e : page->events) types.push_back(e.event_type);
    }
    return types;
  }

  std::vector<backend::local::HistoryEvent> Events(const std::string& arn) {
    backend::local::HistoryRequest req;
    req.arn = arn;
    auto page = service_->GetHistory(req);
    return page.ok() ? page->events : std::vector<backend::local::HistoryEvent>{};
  }

  // The engine can be swapped (a changed workflow) under the same service.
  struct Forward final : backend::Invoker {
    EngineTest* t;
    explicit Forward(EngineTest* test) : t(test) {}
    Result<protocol::InvocationOutput> Invoke(const protocol::Invocation& inv,
                                              backend::CheckpointClient& client) override {
      if (t->record_checkpoints_) {
        Recording recording(client, *t);
        return t->engine_->Invoke(inv, recording);
      }
      if (t->crash_after_checkpoints_ < 0) return t->engine_->Invoke(inv, client);
      Dying dying(client, t->crash_after_checkpoints_);
      return t->engine_->Invoke(inv, dying);
    }
  };

  // A checkpoint client whose process "dies" after `budget` checkpoints:
  // later checkpoints are lost, as when cairn is killed mid-invocation.
  struct Dying final : backend::CheckpointClient {
    backend::CheckpointClient& inner;
    int budget;
    Dying(backend::CheckpointClient& c, int b) : inner(c), budget(b) {}
    Result<protocol::CheckpointResponse> Checkpoint(const std::string& arn,
                                                    const protocol::CheckpointRequest& r) override {
      if (budget-- <= 0) return MakeError(std::string(backend::kRetryableError), "the process died");
      return inner.Checkpoint(arn, r);
    }
    Result<protocol::ExecutionState> GetState(const std::string& arn, const std::string& token,
                                              const std::string& marker) override {
      return inner.GetState(arn, token, marker);
    }
  };
  int crash_after_checkpoints_ = -1;

  // Records each checkpoint's updates and the execution's status right
  // after the service answered it.
  struct Recording final : backend::CheckpointClient {
    backend::CheckpointClient& inner;
    EngineTest& t;
    Recording(backend::CheckpointClient& c, EngineTest& test) : inner(c), t(test) {}
    Result<protocol::CheckpointResponse> Checkpoint(const std::string& arn,
                                                    const protocol::CheckpointRequest& r) override {
      auto response = inner.Checkpoint(arn, r);
      auto rec = t.service_->GetExecution(arn);
      t.checkpoints_.push_back({r.updates, rec.ok() ? rec->progress.status : ExecutionStatus::kRunning});
      return response;
    }
    Result<protocol::ExecutionState> GetState(const std::string& arn, const std::string& token,
                                              const std::string& marker) override {
      return inner.GetState(arn, token, marker);
    }
  };
  struct RecordedCheckpoint {
    std::vector<protocol::OperationUpdate> updates;
    ExecutionStatus status_after;
  };
  bool record_checkpoints_ = false;
  std::vector<RecordedCheckpoint> checkpoints_;
  bool end_in_last_checkpoint_ = false;

  FakeClock clock_;
  backend::local::MemoryStore store_;
  ScriptedActions actions_;
  Forward invoker_{this};
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<backend::local::LocalDurableService> service_;
  std::vector<StepEvent> events_;
};

TEST_F(EngineTest, SequentialStepsRunOnceEachAndProduceTheOutput) {
  Load(R"(
cairn: 1
name: test
input: {type: object, properties: {who: {type: string, default: world}}}
steps:
  - name: greet
    set: {text: "hello ${ .input.who }"}
  - name: first
    process.run: {command: [first, "${ .steps.greet.text }"]}
  - name: second
    process.run: {command: [second]}
output: {greeting: "${ .steps.greet.text }", first: "${ .steps.first.ran }", second: "${ .steps.second.ran }"}
)");
  std::string arn = Start();
  Drive();
  EXPECT_EQ(Output(arn), json({{"greeting", "hello world"}, {"first", "first"}, {"second", "second"}}));
  EXPECT_EQ(actions_.calls("first"), 1);
  EXPECT_EQ(actions_.calls("second"), 1);
  EXPECT_EQ(actions_.params("first")["command"][1], "hello world");
  EXPECT_EQ(EventTypes(arn), (std::vector<std::string>{"ExecutionStarted", "StepStarted", "StepSucceeded",
                                                       "StepStarted", "StepSucceeded", "InvocationCompleted",
                                                       "ExecutionSucceeded"}));
}

TEST_F(EngineTest, TheEndCanShareTheLastCheckpoint) {
  const std::string workflow = R"(
cairn: 1
name: test
steps:
  - name: one
    group:
      - {name: v, set: {n: 1}}
  - name: two
    process.run: {command: [two]}
output: {n: "${ .steps.one.n }", two: "${ .steps.two.ran }"}
)";
  record_checkpoints_ = true;
  Load(workflow);
  std::string returned = Start();
  Drive();
  std::vector<RecordedCheckpoint> by_return = std::move(checkpoints_);
  checkpoints_.clear();

  end_in_last_checkpoint_ = true;
  Load(workflow);
  std::string merged = Start();
  Drive();
  EXPECT_EQ(Output(merged), Output(returned));
  EXPECT_EQ(Output(merged), json({{"n", 1}, {"two", "two"}}));
  // The same history either way (event ids and order; timestamps aside).
  EXPECT_EQ(EventTypes(merged), EventTypes(returned));
  ASSERT_EQ(checkpoints_.size(), by_return.size());
  ASSERT_FALSE(checkpoints_.empty());
  // Returning: the execution is still running after the last checkpoint.
  EXPECT_EQ(by_return.back().status_after, ExecutionStatus::kRunning);
  for (const auto& u : by_return.back().updates) EXPECT_NE(u.type, protocol::OperationType::kExecution);
  // Merged: the last checkpoint carries EXECUTION SUCCEED with the output
  // and ends the execution itself.
  const auto& last = checkpoints_.back();
  EXPECT_EQ(last.status_after, ExecutionStatus::kSucceeded);
  ASSERT_FALSE(last.updates.empty());
  ASSERT_GE(last.updates.size(), 2u);  // the last step's SUCCEED shares it
  EXPECT_EQ(last.updates[last.updates.size() - 2].type, protocol::OperationType::kStep);
  EXPECT_EQ(last.updates[last.updates.size() - 2].action, protocol::OperationAction::kSucceed);
  const auto& end = last.updates.back();
  EXPECT_EQ(end.type, protocol::OperationType::kExecution);
  EXPECT_EQ(end.action, protocol::OperationAction::kSucceed);
  ASSERT_TRUE(end.payload.has_value());
  EXPECT_EQ(json::parse(*end.payload), json({{"n", 1}, {"two", "two"}}));
  for (size_t i = 0; i + 1 < checkpoints_.size(); ++i) {
    EXPECT_EQ(checkpoints_[i].status_after, ExecutionStatus::kRunning);
  }
}

// A Store that forwards to a MemoryStore and fails every Write while
// `fail_writes` is set (a full disk, say).
class FailingStore final : public backend::local::Store {
 public:
  bool fail_writes = false;
  Status Write(const backend::local::WriteBatch& batch) override {
    if (fail_writes) return MakeError(std::string(backend::kRetryableError), "disk full");
    return inner_.Write(batch);
  }
  Result<std::optional<backend::local::ExecutionRecord>> GetExecution(const std::string& arn) override {
    return inner_.GetExecution(arn);
  }
  Result<std::vector<backend::local::ExecutionRecord>> FindExecutions(
      const backend::local::ExecutionQuery& q) override {
    return inner_.FindExecutions(q);
  }
  Result<std::vector<backend::local::OperationRecord>> GetOperations(const std::string& arn) override {
    return inner_.GetOperations(arn);
  }
  Result<std::vector<backend::local::EventRecord>> GetEvents(const std::string& arn, int64_t first,
                                                             size_t limit, bool reverse) override {
    return inner_.GetEvents(arn, first, limit, reverse);
  }
  Result<std::optional<backend::local::CallbackRecord>> GetCallback(const std::string& id) override {
    return inner_.GetCallback(id);
  }
  Result<std::vector<backend::local::TimerRecord>> GetTimers() override { return inner_.GetTimers(); }
  Status CheckConsistency() override { return inner_.CheckConsistency(); }
  backend::local::StoreStats stats() const override { return inner_.stats(); }

 private:
  backend::local::MemoryStore inner_;
};

// A start whose caller runs the first invocation (the start endpoint with
// `wait`) is recorded with that invocation's first checkpoint: one commit
// fewer, the same history, and still durable before any action runs.
TEST_F(EngineTest, AStartRecordedWithTheFirstCheckpointIsDurableBeforeAnyAction) {
  // An action first: the engine checkpoints its START before running it, so
  // the start shares that commit (as many commits as a start written apart).
  // A step without effects first: nothing is checkpointed before the second
  // step starts, which the start shares (one commit fewer).
  const std::string action_first = R"(
cairn: 1
name: test
steps:
  - name: two
    process.run: {command: [two]}
  - name: one
    group:
      - {name: v, set: {n: 1}}
  - name: three
    process.run: {command: [three]}
output: {n: "${ .steps.one.n }", two: "${ .steps.two.ran }"}
)";
  const std::string pure_first = R"(
cairn: 1
name: test
steps:
  - name: one
    group:
      - {name: v, set: {n: 1}}
  - name: two
    process.run: {command: [two]}
  - name: three
    process.run: {command: [three]}
output: {n: "${ .steps.one.n }", two: "${ .steps.two.ran }"}
)";
  end_in_last_checkpoint_ = true;
  std::vector<std::pair<std::string, bool>> durable_at_action;  // (action, start durable)
  std::string arn;
  actions_.on_run = [&](const actions::ActionRequest& r) {
    auto e = store_.GetExecution(arn);
    durable_at_action.emplace_back(r.params["command"][0].get<std::string>(), e.ok() && e->has_value());
  };
  auto run = [&](bool deferred) {
    backend::local::StartExecutionRequest req;
    req.function_name = "test";
    req.caller_invokes = true;
    req.durable_with_first_checkpoint = deferred;
    const int64_t batches = store_.stats().batches;
    auto started = service_->StartExecution(req);
    EXPECT_TRUE(started.ok()) << started.error().ToString();
    if (!started.ok()) return int64_t{-1};
    arn = started->arn;
    auto before = store_.GetExecution(arn);
    EXPECT_TRUE(before.ok());
    EXPECT_EQ(before.ok() && before->has_value(), !deferred) << "written by the start itself";
    EXPECT_EQ(service_->StartIsNotDurable(arn), deferred);
    std::optional<backend::local::ExecutionRecord> ended;
    EXPECT_TRUE(service_->InvokeNow(arn, &ended).ok());
    EXPECT_TRUE(ended.has_value());
    EXPECT_FALSE(service_->StartIsNotDurable(arn));
    return store_.stats().batches - batches;
  };
  for (const std::string* workflow : {&action_first, &pure_first}) {
    SCOPED_TRACE(workflow == &action_first ? "action first" : "pure step first");
    Load(*workflow);
    durable_at_action.clear();
    const int64_t commits_apart = run(false);
    const std::string apart = arn;
    const int64_t commits_merged = run(true);
    const std::string merged = arn;
    EXPECT_EQ(commits_merged, workflow == &action_first ? commits_apart : commits_apart - 1);
    EXPECT_EQ(Output(merged), Output(apart));
    EXPECT_EQ(Output(merged), json({{"n", 1}, {"two", "two"}}));
    EXPECT_EQ(EventTypes(merged), EventTypes(apart));
    ASSERT_FALSE(EventTypes(merged).empty());
    EXPECT_EQ(EventTypes(merged).front(), "ExecutionStarted");
    // Every action of both runs found its execution in the store.
    ASSERT_EQ(durable_at_action.size(), 4u);
    for (const auto& [action, durable] : durable_at_action) EXPECT_TRUE(durable) << action;
  }
}

// With a name, the start is its own commit (the name is claimed by it);
// and a start that cannot be recorded leaves no execution behind.
TEST_F(EngineTest, AStartThatCannotBeRecordedLeavesNoExecution) {
  FailingStore store;
  auto service = backend::local::LocalDurableService::Create(store, clock_, &invoker_);
  ASSERT_TRUE(service.ok());
  service_ = std::move(*service);
  Load(R"(
cairn: 1
name: test
steps:
  - name: only
    process.run: {command: [only]}
)");
  backend::local::StartExecutionRequest req;
  req.function_name = "test";
  req.caller_invokes = true;
  req.durable_with_first_checkpoint = true;
  req.name = "named";
  auto named = service_->StartExecution(req);
  ASSERT_TRUE(named.ok());
  auto found = store.GetExecution(named->arn);
  ASSERT_TRUE(found.ok());
  EXPECT_TRUE(found->has_value()) << "a named start is written at once";

  req.name.reset();
  auto started = service_->StartExecution(req);
  ASSERT_TRUE(started.ok());
  store.fail_writes = true;
  std::optional<backend::local::ExecutionRecord> ended;
  Status st = service_->InvokeNow(started->arn, &ended);
  EXPECT_FALSE(st.ok());
  EXPECT_FALSE(ended.has_value());
  EXPECT_EQ(actions_.calls("only"), 0) << "no action runs before the start is durable";
  store.fail_writes = false;
  auto gone = service_->GetExecution(started->arn);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, backend::kNotFoundError);
  EXPECT_FALSE(service_->StartIsNotDurable(started->arn));
  // Nothing of it is left to run or retry.
  Drive(/*skip_time=*/false);
  EXPECT_EQ(actions_.calls("only"), 0);
  ASSERT_TRUE(service_->InvokeNow(named->arn, &ended).ok());
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->progress.status, ExecutionStatus::kSucceeded);
  EXPECT_EQ(actions_.calls("only"), 1);
  service_.reset();  // before `store`
}

TEST_F(EngineTest, AnOutputTooLargeForAnOperationIsOnlyReturned) {
  end_in_last_checkpoint_ = true;
  record_checkpoints_ = true;
  Load(R"(
cairn: 1
name: test
steps:
  - name: one
    group:
      - {name: v, set: {n: 1}}
output: '${ [range(0; 30000)] | map("0123456789") | join("") }'
)");
  std::string arn = Start();
  Drive();
  EXPECT_EQ(Output(arn).get<std::string>().size(), 300000u);
  ASSERT_FALSE(checkpoints_.empty());
  for (const auto& c : checkpoints_) {
    for (const auto& u : c.updates) EXPECT_NE(u.type, protocol::OperationType::kExecution);
  }
}

TEST_F(EngineTest, RetryIsADurableDelayThenTheNextAttempt) {
  Load(R"(
cairn: 1
name: test
steps:
  - name: flaky
    process.run: {command: [flaky]}
    retry: {errors: [Net.*], maxAttempts: 3, interval: 30s}
)");
  actions_.Then("flaky", actions::ActionOutcome::Failure("Net.Reset", "connection reset"));
  actions_.Then("flaky", actions::ActionOutcome::Failure("Net.Reset", "connection reset"));
  int64_t t0 = clock_.NowMillis();
  std::string arn = Start();
  Drive();
  EXPECT_EQ(Output(arn)["attempt"], 3);
  EXPECT_EQ(actions_.calls("flaky"), 3);
  EXPECT_GE(clock_.NowMillis() - t0, 90'000);  // 30s, then 60s (backoff 2)
  auto events = Events(arn);
  int failed_with_retry = 0;
  for (const auto& e : events) {
    if (e.event_type == "StepFailed" && e.details.contains("RetryDetails")) ++failed_with_retry;
  }
  EXPECT_EQ(failed_with_retry, 2);
}

TEST_F(EngineTest, RetryGivesUpAndCatchRoutesWithTheError) {
  Load(R"(
cairn: 1
name: test
steps:
  - name: risky
    process.run: {command: [risky]}
    retry: {errors: [Net.*], maxAttempts: 2, interval: 1s}
    catch:
      - errors: [Net.Reset]
        next: fallback
  - name: unreachableOnFailure
    set: 1
    next: end
  - name: fallback
    set: {caught: "${ .error.error }", why: "${ .error.message }"}
)");
  actions_.Then("risky", actions::ActionOutcome::Failure("Net.Reset", "reset 1"));
  actions_.Then("risky", actions::ActionOutcome::Failure("Net.Reset", "reset 2"));
  std::string arn = Start();
  Drive();
  EXPECT_EQ(Output(arn), json({{"caught", "Net.Reset"}, {"why", "reset 2"}}));
  EXPECT_EQ(actions_.calls("risky"), 2);
}

TEST_F(EngineTest, UncaughtFailureFailsTheExecution) {
  Load(R"(
cairn: 1
name: test
steps:
  - name: boom
    process.run: {command: [boom]}
)");
  actions_.Then("boom", actions::ActionOutcome::Failure("Process.ExitCode", "exited with status 3"));
  std::string arn = Start();
  Drive();
  auto rec = Execution(arn);
  EXPECT_EQ(rec.progress.status, ExecutionStatus::kFailed);
  ASSERT_TRUE(rec.progress.error);
  EXPECT_EQ(rec.progress.error->type, "Process.ExitCode");
}

TEST_F(EngineTest, WaitSuspendsAndCompletedStepsAreNotRunAgain) {
  Load(R"(
cairn: 1
name: test
steps:
  - name: before
    process.run: {command: [before]}
  - name: pause
    wait: 1h
  - name: after
    process.run: {command: [after]}
)");
  int64_t t0 = clock_.NowMillis();
  std::string arn = Start();
  Drive();
  EXPECT_EQ(Output(arn)["ran"], "after");
  EXPECT_GE(clock_.NowMillis() - t0, 3'600'000);
  EXPECT_EQ(actions_.calls("before"), 1);
  EXPECT_EQ(actions_.calls("after"), 1);
  auto types = EventTypes(arn);
  EXPECT_EQ(std::count(types.begin(), types.end(), "InvocationCompleted"), 2);
  EXPECT_EQ(std::count(types.begin(), types.end(), "WaitSucceeded"), 1);
}

TEST_F(EngineTest, WaitForCallbackGivesTheSubmitterTheIdAndResumesOnSuccess) {
  Load(R"(
cairn: 1
name: test
steps:
  - name: runTask
    process.run:
      command: [worker]
      env: {CALLBACK_ID: "${ .callback.id }"}
    waitForCallback: {timeout: 1h, heartbeat: 5m}
output: ${ .steps.runTask }
)");
  std::string arn = Start();
  Drive(/*skip_time=*/false);
  auto first = Execution(arn);
  EXPECT_EQ(first.progress.status, ExecutionStatus::kRunning)
      << (first.progress.error ? first.progress.error->type + ": " + first.progress.error->message : "");
  std::string callback_id = actions_.params("worker")["env"]["CALLBACK_ID"];
  ASSERT_GE(callback_id.size(), 22u);  // ≥ 128 random bits
  ASSERT_TRUE(service_->SendCallbackSuccess(callback_id, R"({"exitCode": 0})").ok());
  Drive(/*skip_time=*/false);
  json out = Output(arn);
  EXPECT_EQ(out["result"], json({{"exitCode", 0}}));
  EXPECT_EQ(out["submitted"]["ran"], "worker");
  EXPECT_EQ(actions_.calls("worker"), 1);
}

TEST_F(EngineTest, CallbackTimeoutIsCaught) {
  Load(R"(
cairn: 1
name: test
steps:
  - name: hold
    waitForCallback: {timeout: 10m}
    catch:
      - errors: [Callback.Timeout]
        next: timedOut
  - name: ok
    set: done
    next: end
  - name: timedOut
    set: "${ .error.error }"
)");
  std::string arn = Start();
  Drive();
  EXPECT_EQ(Output(arn), "Callback.Timeout");
}

TEST_F(EngineTest, CallbacksCreatedApartAndAwaitedInEitherOrder) {
  Load(R"(
cairn: 1
name: test
steps:
  - name: a
    callback: {timeout: 1h}
  - name: b
    callback: {timeout: 1h}
  - name: notify
    process.run: {command: [notify, "${ .steps.a.id }", "${ .steps.b.id }"]}
  - name: waitB
    await: b
  - name: waitA
    await: a
output: {a: "${ .steps.waitA }", b: "${ .steps.waitB }"}
)");
  std::string arn = Start();
  Drive(/*skip_time=*/false);
  json p = actions_.params("notify");
  std::string a = p["command"][1], b = p["command"][2];
  ASSERT_TRUE(service_->SendCallbackSuccess(a, "\"first\"").ok());
  Drive(/*skip_time=*/false);
  EXPECT_EQ(Execution(arn).progress.status, ExecutionStatus::kRunning);
  ASSERT_TRUE(service_->SendCallbackSuccess(b, "\"second\"").ok());
  Drive(/*skip_time=*/false);
  EXPECT_EQ(Output(arn), json({{"a", "first"}, {"b", "second"}}));
}

TEST_F(EngineTest, PollChecksUntilTheConditionHolds) {
  Load(R"(
cairn: 1
name: test
steps:
  - name: waitForStop
    poll:
      check:
        process.run: {command: [describe]}
      until: ${ .lastStatus == "STOPPED" }
      interval: 5s
      backoff: {rate: 2, max: 15s}
      timeout: 1h
)");
  actions_.Then("describe", actions::ActionOutcome::Success({{"lastStatus", "PENDING"}}));
  actions_.Then("describe", actions::ActionOutcome::Success({{"lastStatus", "RUNNING"}}));
  actions_.Then("describe", actions::ActionOutcome::Success({{"lastStatus", "RUNNING"}}));
  actions_.Then("describe", actions::ActionOutcome::Success({{"lastStatus", "STOPPED"}}));
  int64_t t0 = clock_.NowMillis();
  std::string arn = Start();
  Drive();
  EXPECT_EQ(Output(arn), json({{"lastStatus", "STOPPED"}}));
  EXPECT_EQ(actions_.calls("describe"), 4);
  EXPECT_GE(clock_.NowMillis() - t0, (5 + 10 + 15) * 1000);  // 5s, 10s, capped at 15s
}

// `until` reads the check's result as `.` and the step's context as $ctx:
// .attempt, the execution's input and earlier steps' results; `result:` too.
TEST_F(EngineTest, PollUntilReadsTheContextThroughCtx) {
  Load(R"(
cairn: 1
name: test
input: {type: object, properties: {threshold: {type: integer}}}
steps:
  - name: base
    set: 10
  - name: counter
    poll:
      check:
        compute: ${ .steps.base + .attempt }
      until: ${ . >= $ctx.steps.base + $ctx.input.threshold and $ctx.attempt == $ctx.input.threshold }
      interval: 1s
    result: "${ {value: ., attempt: $ctx.attempt} }"
)");
  std::string arn = Start({{"threshold", 3}});
  Drive();
  EXPECT_EQ(Output(arn), json({{"value", 13}, {"attempt", 3}}));
}

TEST_F(EngineTest, PollTimesOut) {
  Load(R"(
cairn: 1
name: test
steps:
  - name: waitForever
    poll:
      check:
        process.run: {command: [describe]}
      until: ${ .done }
      interval: 10s
      maxAttempts: 3
)");
  for (int i = 0; i < 5; ++i) actions_.Then("describe", actions::ActionOutcome::Success({{"done", false}}));
  std::string arn = Start();
  Drive();
  auto rec = Execution(arn);
  EXPECT_EQ(rec.progress.status, ExecutionStatus::kFailed);
  EXPECT_EQ(rec.progress.error->type, "Cairn.Timeout");
  EXPECT_EQ(actions_.calls("describe"), 3);
}

TEST_F(EngineTest, SwitchRoutesAndFails) {
  Load(R"(
cairn: 1
name: test
input: {type: object, properties: {amount: {type: integer}}}
steps:
  - name: route
    switch:
      - if: ${ .input.amount > 1000 }
        fail: {error: TooLarge, cause: "amount ${ .input.amount } is over the limit"}
      - if: ${ .input.amount > 100 }
        next: review
  - name: auto
    set: auto
    next: end
  - name: review
    set: review
)");
  std::string small = Start({{"amount", 5}}, "small");
  std::string mid = Start({{"amount", 500}}, "mid");
  std::string big = Start({{"amount", 5000}}, "big");
  Drive();
  EXPECT_EQ(Output(small), "auto");
  EXPECT_EQ(Output(mid), "review");
  auto rec = Execution(big);
  EXPECT_EQ(rec.progress.status, ExecutionStatus::kFailed);
  EXPECT_EQ(rec.progress.error->type, "TooLarge");
  EXPECT_EQ(rec.progress.error->message, "amount 5000 is over the limit");
}

TEST_F(EngineTest, ParallelBranchesInWrittenOrderWithABatchResult) {
  Load(R"(
cairn: 1
name: test
steps:
  - name: fan
    parallel:
      branches:
        zeta:
          - name: z
            process.run: {command: [zeta]}
        alpha:
          - name: a
            wait: 30s
          - name: a2
            process.run: {command: [alpha]}
output: ${ .steps.fan.results }
)");
  std::string arn = Start();
  Drive();
  json out = Output(arn);
  EXPECT_EQ(out["zeta"]["ran"], "zeta");
  EXPECT_EQ(out["alpha"]["ran"], "alpha");
  EXPECT_EQ(actions_.calls("zeta"), 1);
  auto events = Events(arn);
  std::vector<std::string> branch_names;
  for (const auto& e : events) {
    if (e.event_type == "ContextStarted" && e.sub_type == "ParallelBranch") branch_names.push_back(*e.name);
  }
  EXPECT_EQ(branch_names, (std::vector<std::string>{"zeta", "alpha"}));
}

TEST_F(EngineTest, MapWithToleratedFailures) {
  Load(R"(
cairn: 1
name: test
steps:
  - name: each
    map:
      items: ${ .input.items }
      maxConcurrency: 2
      toleratedFailureCount: 1
      steps:
        - name: work
          process.run: {command: ["${ .item }", "${ .index }"]}
output: ${ .steps.each | {results, successCount, failureCount, completionReason} }
)");
  actions_.Then("b", actions::ActionOutcome::Failure("Work.Failed", "b broke"));
  std::string arn = Start({{"items", {"a", "b", "c"}}});
  Drive();
  json out = Output(arn);
  EXPECT_EQ(out["successCount"], 2);
  EXPECT_EQ(out["failureCount"], 1);
  EXPECT_EQ(out["completionReason"], "ALL_COMPLETED");
  EXPECT_EQ(out["results"][0]["ran"], "a");
  EXPECT_TRUE(out["results"][1].is_null());
  EXPECT_EQ(actions_.params("c")["command"][1], 2);  // a lone expression keeps its type
}

TEST_F(EngineTest, GroupRunsAsAChildContext) {
  Load(R"(
cairn: 1
name: test
steps:
  - name: block
    group:
      - name: inner1
        process.run: {command: [one]}
      - name: inner2
        set: "${ .steps.inner1.ran }-done"
output: ${ .steps.block }
)");
  std::string arn = Start();
  Drive();
  EXPECT_EQ(Output(arn), "one-done");
  auto events = Events(arn);
  std::optional<std::string> group_id;
  for (const auto& e : events) {
    if (e.event_type == "ContextStarted") group_id = e.id;
    if (e.event_type == "StepStarted") {
      EXPECT_EQ(e.parent_id, group_id);
    }
  }
  ASSERT_TRUE(group_id);
}

// An inner scope (group, branch, iteration) sees the enclosing scope's
// context; what it adds (its steps' results, a caught `.error`, `.item`)
// is gone when it ends, for the steps after it and for its sibling
// branches and iterations.
TEST_F(EngineTest, InnerScopesSeeTheEnclosingContextAndLeaveNothingBehind) {
  Load(R"(
cairn: 1
name: test
steps:
  - name: first
    set: 1
  - name: risky
    process.run: {command: [risky]}
    catch:
      - errors: [Outer.Failed]
        next: block
  - name: skipped
    set: 0
  - name: block
    group:
      - name: sees
        set: {error: "${ .error.error }", steps: "${ .steps | keys }"}
      - name: inner
        process.run: {command: [inner]}
        catch:
          - errors: [Inner.Failed]
            next: caught
      - name: caught
        set: {error: "${ .error.error }", sees: "${ .steps.sees }"}
  - name: after
    set: {error: "${ .error.error }", steps: "${ .steps | keys }"}
  - name: fan
    parallel:
      branches:
        one:
          - name: b1
            set: "${ .steps | keys }"
        two:
          - name: b2
            set: "${ .steps | keys }"
  - name: each
    map:
      items: [x, y]
      steps:
        - name: nested
          map:
            items: ["${ .item }-1", "${ .item }-2"]
            steps:
              - name: leaf
                set: "${ .item }"
        - name: back
          set: {item: "${ .item }", index: "${ .index }", steps: "${ .steps | keys }"}
  - name: last
    set: {item: '${ has("item") }', index: '${ has("index") }', steps: "${ .steps | keys }"}
output: "${ {block: .steps.block, after: .steps.after, fan: .steps.fan.results, each: .steps.each.results, last: .steps.last} }"
)");
  actions_.Then("risky", actions::ActionOutcome::Failure("Outer.Failed", "outer"));
  actions_.Then("inner", actions::ActionOutcome::Failure("Inner.Failed", "inner"));
  std::string arn = Start();
  Drive();
  json out = Output(arn);
  EXPECT_EQ(out["block"], json({{"error", "Inner.Failed"},
                                {"sees", {{"error", "Outer.Failed"}, {"steps", {"first"}}}}}));
  EXPECT_EQ(out["after"], json({{"error", "Outer.Failed"}, {"steps", {"block", "first"}}}));
  EXPECT_EQ(out["fan"]["one"], json({"after", "block", "first"}));
  EXPECT_EQ(out["fan"]["two"], json({"after", "block", "first"}));
  for (int i = 0; i < 2; ++i) {
    const json& back = out["each"][i];
    EXPECT_EQ(back["item"], i == 0 ? "x" : "y");
    EXPECT_EQ(back["index"], i);
    EXPECT_EQ(back["steps"], json({"after", "block", "fan", "first", "nested"}));
  }
  EXPECT_EQ(out["last"], json({{"item", false}, {"index", false}, {"steps", {"after", "block", "each", "fan", "first"}}}));
}

// `retry:` on a step that runs a CONTEXT: each attempt is a CONTEXT of its
// own (a CONTEXT cannot RETRY), with a durable WAIT between attempts; the
// attempt that succeeds gives the step's result, and a replay of the whole
// history neither re-runs nor re-decides anything.
TEST_F(EngineTest, RetryOnAGroupRerunsItsStepsAsANewContext) {
  Load(R"(
cairn: 1
name: test
steps:
  - name: block
    group:
      - name: first
        process.run: {command: [first]}
      - name: flaky
        process.run: {command: [flaky]}
    retry: {errors: [Work.Flaky], maxAttempts: 3, interval: 5s}
output: ${ .steps.block }
)");
  actions_.Then("flaky", actions::ActionOutcome::Failure("Work.Flaky", "try again"));
  actions_.Then("flaky", actions::ActionOutcome::Failure("Work.Flaky", "try again"));
  int64_t t0 = clock_.NowMillis();
  std::string arn = Start();
  Drive();
  EXPECT_EQ(Output(arn)["ran"], "flaky");
  EXPECT_EQ(actions_.calls("first"), 3);  // the whole group runs again
  EXPECT_EQ(actions_.calls("flaky"), 3);
  EXPECT_GE(clock_.NowMillis() - t0, 10 * 1000);  // two 5s waits
  int contexts = 0, waits = 0;
  std::set<std::string> context_ids;
  for (const auto& e : Events(arn)) {
    if (e.event_type == "ContextStarted") {
      context_ids.insert(e.id.value_or(""));
      ++contexts;
    }
    if (e.event_type == "WaitStarted") ++waits;
  }
  EXPECT_EQ(contexts, 3);
  EXPECT_EQ(context_ids.size(), 3u);
  EXPECT_EQ(waits, 2);
}

TEST_F(EngineTest, RetryOnAGroupGivesUpAfterMaxAttemptsAndOnOtherErrors) {
  Load(R"(
cairn: 1
name: test
steps:
  - name: block
    group:
      - name: flaky
        process.run: {command: [flaky]}
    retry: {errors: [Work.Flaky], maxAttempts: 2, interval: 1s}
    catch:
      - errors: [all]
        next: caught
  - name: fine
    set: fine
    next: end
  - name: caught
    set: "${ .error.error }"
)");
  for (int i = 0; i < 2; ++i) actions_.Then("flaky", actions::ActionOutcome::Failure("Work.Flaky", "no"));
  std::string arn = Start({}, "flaky");
  Drive();
  EXPECT_EQ(Output(arn), "Work.Flaky");
  EXPECT_EQ(actions_.calls("flaky"), 2);

  actions_.Then("flaky", actions::ActionOutcome::Failure("Work.Broken", "no"));
  std::string broken = Start({}, "broken");
  Drive();
  EXPECT_EQ(Output(broken), "Work.Broken");
  EXPECT_EQ(actions_.calls("flaky"), 3);  // not retried
}

TEST_F(EngineTest, RetryOnWaitForCallbackCreatesANewCallbackAndSubmitsAgain) {
  Load(R"(
cairn: 1
name: test
steps:
  - name: runTask
    process.run:
      command: [worker]
      env: {CALLBACK_ID: "${ .callback.id }"}
    waitForCallback: {timeout: 10m}
    retry: {errors: [Callback.Timeout], maxAttempts: 2, interval: 1s}
output: ${ .steps.runTask.result }
)");
  std::string arn = Start();
  Drive(/*skip_time=*/false);
  std::string first_id = actions_.params("worker")["env"]["CALLBACK_ID"];
  Drive();  // both callbacks time out: the retry made a second one and submitted again
  EXPECT_EQ(actions_.calls("worker"), 2);
  std::string second_id = actions_.params("worker")["env"]["CALLBACK_ID"];
  EXPECT_NE(first_id, second_id);
  auto rec = Execution(arn);
  EXPECT_EQ(rec.progress.status, ExecutionStatus::kFailed);
  ASSERT_TRUE(rec.progress.error);
  EXPECT_EQ(rec.progress.error->type, "Callback.Timeout");
  // A submitter failure is retried by the submitter's STEP, not by re-running
  // the context on top of it.
  actions_.Then("worker", actions::ActionOutcome::Failure("Work.Down", "no"));
  std::string down = Start({}, "down");
  Drive();
  EXPECT_EQ(actions_.calls("worker"), 3);
}

TEST_F(EngineTest, InvalidInputFailsBeforeTheFirstStep) {
  Load(R"(
cairn: 1
name: test
input: {type: object, required: [message], properties: {message: {type: string}}}
steps:
  - name: work
    process.run: {command: [work]}
)");
  std::string arn = Start({{"message", 42}});
  Drive();
  auto rec = Execution(arn);
  EXPECT_EQ(rec.progress.status, ExecutionStatus::kFailed);
  EXPECT_EQ(rec.progress.error->type, "Cairn.InvalidInput");
  EXPECT_EQ(actions_.calls("work"), 0);
}

TEST_F(EngineTest, OversizedResultFailsTheStepCleanly) {
  Load(R"(
cairn: 1
name: test
steps:
  - name: big
    process.run: {command: [big]}
)");
  actions_.Then("big", actions::ActionOutcome::Success(std::string(300 * 1024, 'x')));
  std::string arn = Start();
  Drive();
  auto rec = Execution(arn);
  EXPECT_EQ(rec.progress.status, ExecutionStatus::kFailed);
  EXPECT_EQ(rec.progress.error->type, "Cairn.PayloadTooLarge");
}

TEST_F(EngineTest, AChangedWorkflowFailsAsNonDeterministicNeverPending) {
  Load(R"(
cairn: 1
name: test
steps:
  - name: pause
    wait: 1h
)");
  std::string arn = Start();
  ASSERT_TRUE(service_->RunOnce().ok());  // WAIT started; the execution is suspended
  EXPECT_EQ(Execution(arn).progress.status, ExecutionStatus::kRunning);
  Load(R"(
cairn: 1
name: test
steps:
  - name: pause
    process.run: {command: [pause]}
)");
  Drive();
  auto rec = Execution(arn);
  EXPECT_EQ(rec.progress.status, ExecutionStatus::kFailed);
  EXPECT_EQ(rec.progress.error->type, "Cairn.NonDeterministic");
  EXPECT_EQ(actions_.calls("pause"), 0);
}

TEST_F(EngineTest, AtMostOnceStepInterruptedIsNotRunAgain) {
  Load(R"(
cairn: 1
name: test
steps:
  - name: charge
    process.run: {command: [charge]}
    semantics: atMostOncePerRetry
)");
  // START is made durable, the action runs, then the process dies before
  // the result is recorded.
  crash_after_checkpoints_ = 1;
  std::string arn = Start();
  ASSERT_TRUE(service_->RunOnce().ok());
  EXPECT_EQ(actions_.calls("charge"), 1);
  crash_after_checkpoints_ = -1;
  Drive();
  auto rec = Execution(arn);
  EXPECT_EQ(rec.progress.status, ExecutionStatus::kFailed);
  EXPECT_EQ(rec.progress.error->type, "Cairn.Interrupted");
  EXPECT_EQ(actions_.calls("charge"), 1);
}

TEST_F(EngineTest, AtLeastOnceStepInterruptedRunsAgain) {
  Load(R"(
cairn: 1
name: test
steps:
  - name: charge
    process.run: {command: [charge]}
)");
  crash_after_checkpoints_ = 0;  // the result of the first run is lost
  std::string arn = Start();
  ASSERT_TRUE(service_->RunOnce().ok());
  EXPECT_EQ(actions_.calls("charge"), 1);
  crash_after_checkpoints_ = -1;
  Drive();
  EXPECT_EQ(Output(arn)["ran"], "charge");
  EXPECT_EQ(actions_.calls("charge"), 2);
}

TEST_F(EngineTest, ComputeIsADurableStepAndNamedErrorsAreRetriedAndCaught) {
  Load(R"Y(
cairn: 1
name: test
steps:
  - name: flaky
    compute: '${ if .attempt < 3 then error({error: "Transient", message: "try \(.attempt)", data: {n: .attempt}}) else "ok \(.attempt)" end }'
    retry: {errors: [Transient], maxAttempts: 3, interval: 1s}
  - name: refuse
    compute: '${ error({error: "Refused", message: "no"}) }'
    catch:
      - errors: [Refused]
        next: handle
  - name: handle
    set: {got: "${ .steps.flaky }", error: "${ .error.error }", message: "${ .error.message }"}
)Y");
  std::string arn = Start();
  Drive();
  EXPECT_EQ(Output(arn), json({{"got", "ok 3"}, {"error", "Refused"}, {"message", "no"}}));
  std::vector<std::string> types = EventTypes(arn);
  EXPECT_EQ(std::count(types.begin(), types.end(), "StepFailed"), 3)  // 2 retries + refuse
      << json(types).dump();
  EXPECT_EQ(std::count(types.begin(), types.end(), "StepSucceeded"), 1);
  for (const auto& e : Events(arn)) {
    if (e.event_type == "StepFailed" && e.name == "flaky") {
      EXPECT_EQ(e.details["Error"]["Payload"]["ErrorType"], "Transient");
    }
  }
}

TEST_F(EngineTest, ALabelNamesTheOperationDynamicallyOrNotAtAll) {
  Load(R"(
cairn: 1
name: test
steps:
  - name: first
    label: ${ "for-" + .input.who }
    compute: 1
  - name: second
    label: null
    wait: 1s
  - name: each
    map:
      items: [a, b]
      itemLabel: item-${ .item }-${ .index }
      steps:
        - name: value
          set: ${ .item }
)");
  std::string arn = Start({{"who", "ann"}});
  Drive();
  Output(arn);
  std::map<std::string, std::optional<std::string>> names;
  std::vector<std::string> iterations;
  for (const auto& e : Events(arn)) {
    if (e.event_type == "StepStarted") names["step"] = e.name;
    if (e.event_type == "WaitStarted") names["wait"] = e.name;
    if (e.event_type == "ContextStarted" && e.sub_type == "MapIteration") iterations.push_back(e.name.value_or(""));
  }
  EXPECT_EQ(names["step"], std::optional<std::string>("for-ann"));
  EXPECT_EQ(names["wait"], std::nullopt);
  EXPECT_EQ(iterations, (std::vector<std::string>{"item-a-0", "item-b-1"}));
}

TEST_F(EngineTest, ASkippedFailOrSucceedLetsTheListGoOn) {
  Load(R"(
cairn: 1
name: test
steps:
  - name: guard
    if: ${ .input.bad }
    fail: {error: Bad, cause: bad input}
  - name: early
    if: ${ .input.early }
    succeed: early
  - name: last
    set: late
)");
  std::string late = Start({{"bad", false}, {"early", false}});
  std::string early = Start({{"bad", false}, {"early", true}});
  std::string bad = Start({{"bad", true}, {"early", false}});
  Drive();
  EXPECT_EQ(Output(late), "late");
  EXPECT_EQ(Output(early), "early");
  EXPECT_EQ(Execution(bad).progress.status, ExecutionStatus::kFailed);
}

TEST_F(EngineTest, ResultShapesAwaitedCallbacksAndGroupsAndCallbackFailuresKeepTheSendersMessage) {
  Load(R"(
cairn: 1
name: test
steps:
  - name: cb
    callback: {timeout: 1h}
  - name: answer
    await: cb
    result: ${ .n * 2 }
  - name: block
    group:
      - name: inner
        compute: {v: 5}
    result: ${ .v }
  - name: cb2
    callback: {timeout: 1h}
  - name: refused
    await: cb2
    catch:
      - errors: [Callback.Failed]
        next: report
  - name: report
    set: {answer: "${ .steps.answer }", block: "${ .steps.block }", message: "${ .error.message }", type: "${ .error.data.errorType }"}
)");
  std::string arn = Start();
  Drive(/*skip_time=*/false);
  std::vector<std::string> ids;
  for (const auto& e : Events(arn)) {
    if (e.event_type == "CallbackStarted") ids.push_back(e.details["CallbackId"]);
  }
  ASSERT_EQ(ids.size(), 1u);
  ASSERT_TRUE(service_->SendCallbackSuccess(ids[0], R"({"n": 21})").ok());
  Drive(/*skip_time=*/false);
  ids.clear();
  for (const auto& e : Events(arn)) {
    if (e.event_type == "CallbackStarted") ids.push_back(e.details["CallbackId"]);
    if (e.event_type == "ContextSucceeded") {
      EXPECT_EQ(e.details["Result"]["Payload"], "5");
    }
  }
  ASSERT_EQ(ids.size(), 2u);
  protocol::ErrorObject refusal;
  refusal.type = "RejectedError";
  refusal.message = "not approved";
  ASSERT_TRUE(service_->SendCallbackFailure(ids[1], refusal).ok());
  Drive(/*skip_time=*/false);
  EXPECT_EQ(Output(arn), json({{"answer", 42}, {"block", 5}, {"message", "not approved"}, {"type", "RejectedError"}}));
}

// ---- Results nobody reads (WorkflowPlan::result_needed) -------------------
//
// A step's result that no expression reads and that cannot be its scope's
// value is neither kept in `.steps` nor parsed again on replay. Each
// workflow runs twice on the same service: once as written, once with a
// `log:` that reads the whole context ($ctx), which makes every result
// needed (the engine as before); the outputs and the histories must be the
// same, and the output the one expected. Waits and retries make the later
// steps run in invocations that replay the earlier ones.
class EngineUnreadResultsTest : public EngineTest {
 protected:
  // What one execution recorded, without what differs between two
  // executions of the same workflow (timestamps, request ids, the
  // execution's name and id).
  struct Run {
    json output;
    std::vector<json> history;
  };

  // Runs the execution to its end. With `answer_callbacks`, time moves a
  // minute at a time and every callback created is completed with {"n": 1}.
  Run RunOnce(const std::string& yaml, const std::string& log, const json& input,
              const std::string& name, bool answer_callbacks) {
    std::string text = yaml;
    const std::string marker = "{LOG}";
    for (size_t at = text.find(marker); at != std::string::npos; at = text.find(marker, at)) {
      text.replace(at, marker.size(), log);
      at += log.size();
    }
    Load(text);
    std::string arn = Start(input, name);
    if (!answer_callbacks) {
      Drive();
    } else {
      std::set<std::string> answered;
      for (int round = 0; round < 100; ++round) {
        Drive(/*skip_time=*/false);
        if (Execution(arn).progress.status != ExecutionStatus::kRunning) break;
        for (const auto& e : Events(arn)) {
          if (e.event_type != "CallbackStarted") continue;
          const std::string id = e.DetailsJson().value("CallbackId", "");
          if (answered.insert(id).second) {
            EXPECT_TRUE(service_->SendCallbackSuccess(id, R"({"n": 1})").ok());
          }
        }
        clock_.Advance(60'000);
      }
    }
    Run run;
    run.output = Output(arn);
    for (const auto& e : Events(arn)) {
      if (e.event_type == "ExecutionStarted") continue;  // holds the execution's name
      const bool execution = e.event_type.rfind("Execution", 0) == 0;
      run.history.push_back({{"type", e.event_type},
                             {"id", execution ? "" : e.id.value_or("")},
                             {"name", execution ? "" : e.name.value_or("")},
                             {"parent", e.parent_id.value_or("")},
                             {"subType", e.sub_type.value_or("")},
                             {"details", Normalized(e.DetailsJson())}});
    }
    return run;
  }

  static json Normalized(const json& v) {
    if (v.is_object()) {
      json out = json::object();
      for (const auto& [k, item] : v.items()) {
        if (k.find("Timestamp") == std::string::npos && k != "RequestId" && k != "CallbackId") {
          out[k] = Normalized(item);
        }
      }
      return out;
    }
    if (v.is_array()) {
      json out = json::array();
      for (const auto& item : v) out.push_back(Normalized(item));
      return out;
    }
    return v;
  }

  // The output of `yaml` (with a `{LOG}` where a step's `log:` goes), after
  // checking that it matches the run where every result is needed.
  json OutputMatchingEveryResultKept(const std::string& yaml, const json& input = json::object(),
                                     bool answer_callbacks = false) {
    ++runs_;
    Run all = RunOnce(yaml, "${ $ctx != null }", input, "all-" + std::to_string(runs_),
                      answer_callbacks);
    Run skipping = RunOnce(yaml, "plain text", input, "skipping-" + std::to_string(runs_),
                           answer_callbacks);
    EXPECT_EQ(skipping.output, all.output);
    EXPECT_EQ(skipping.history.size(), all.history.size());
    for (size_t i = 0; i < std::min(skipping.history.size(), all.history.size()); ++i) {
      EXPECT_EQ(skipping.history[i], all.history[i]) << "event " << i;
    }
    return skipping.output;
  }

  int runs_ = 0;
};

TEST_F(EngineUnreadResultsTest, ResultsReadAfterAWaitAreReplayedAndTheOthersAreNotNeeded) {
  json out = OutputMatchingEveryResultKept(R"(
cairn: 1
name: test
steps:
  - name: a
    log: "{LOG}"
    process.run: {command: [a]}
  - name: b
    process.run: {command: [b]}
  - name: c
    set: {x: 1}
  - name: pause
    wait: 1h
  - name: d
    set: {a: "${ .steps.a.ran }", c: "${ $ctx.steps.c.x }"}
  - name: e
    process.run: {command: [e]}
    result: '${ .ran + "-" + $ctx.steps.a.ran }'
output: {d: "${ .steps.d }", e: "${ .steps.e }"}
)");
  EXPECT_EQ(out, json({{"d", {{"a", "a"}, {"c", 1}}}, {"e", "e-a"}}));
  EXPECT_EQ(actions_.calls("b"), 2);  // once per execution: replays do not run it again
}

TEST_F(EngineUnreadResultsTest, TheLastStepOfAScopeGivesItsResultOnReplay) {
  json out = OutputMatchingEveryResultKept(R"(
cairn: 1
name: test
steps:
  - name: block
    log: "{LOG}"
    group:
      - name: g1
        process.run: {command: [g1]}
      - name: gpause
        wait: 1h
      - name: g2
        process.run: {command: [g2]}
  - name: fan
    parallel:
      branches:
        one:
          - name: p1
            process.run: {command: [p1]}
          - name: ppause
            wait: 1h
          - name: p2
            set: two
        other:
          - name: q1
            process.run: {command: [q1]}
  - name: each
    map:
      items: [x, y]
      steps:
        - name: m1
          process.run: {command: [m1]}
        - name: m2
          set: "${ .item }"
  - name: route
    switch:
      - if: ${ .input.go }
        steps:
          - name: c1
            process.run: {command: [c1]}
          - name: c2
            process.run: {command: [c2]}
  - name: pause
    wait: 1h
  - name: last
    process.run: {command: [last]}
output:
  block: ${ .steps.block.ran }
  fan: ${ .steps.fan.results }
  each: ${ .steps.each.results }
  route: ${ .steps.route.ran }
)", {{"go", true}});
  EXPECT_EQ(out, json({{"block", "g2"},
                       {"fan", {{"one", "two"}, {"other", {{"ran", "q1"}, {"attempt", 1}}}}},
                       {"each", {"x", "y"}},
                       {"route", "c2"}}));
}

TEST_F(EngineUnreadResultsTest, ACatchThatEndsTheScopeGivesTheResultOfTheStepBefore) {
  // `risky` fails, is retried (a new invocation that replays `first`), and
  // fails again into a catch that ends the group: the group's result is
  // `first`'s, although no expression reads it.
  for (int i = 0; i < 4; ++i) {
    actions_.Then("risky", actions::ActionOutcome::Failure("Risky.Failed", "no"));
  }
  json out = OutputMatchingEveryResultKept(R"(
cairn: 1
name: test
steps:
  - name: block
    log: "{LOG}"
    group:
      - name: zero
        process.run: {command: [zero]}
      - name: first
        process.run: {command: [first]}
      - name: risky
        process.run: {command: [risky]}
        retry: {errors: [Risky.*], maxAttempts: 2, interval: 1s}
        catch:
          - errors: [all]
            next: end
output: ${ .steps.block }
)");
  EXPECT_EQ(out, json({{"ran", "first"}, {"attempt", 1}}));
}

TEST_F(EngineUnreadResultsTest, ABareStepsReadOrAJqExpressionKeepsEveryResult) {
  // `.steps` is native and reads every result.
  json bare = OutputMatchingEveryResultKept(R"(
cairn: 1
name: test
steps:
  - name: a
    log: "{LOG}"
    process.run: {command: [a]}
  - name: b
    set: 2
  - name: pause
    wait: 1h
  - name: all
    set: ${ .steps }
output: ${ .steps.all }
)");
  EXPECT_EQ(bare, json({{"a", {{"ran", "a"}, {"attempt", 1}}}, {"b", 2}, {"pause", nullptr}}));
  // jq expressions are not analysed: any one of them keeps every result.
  json jq = OutputMatchingEveryResultKept(R"(
cairn: 1
name: test
steps:
  - name: a
    log: "{LOG}"
    process.run: {command: [a]}
  - name: b
    set: 2
  - name: pause
    wait: 1h
  - name: names
    set: ${ .steps | keys }
  - name: count
    set: ${ [.steps.names[]] | length }
output: {names: "${ .steps.names }", count: "${ .steps.count }"}
)");
  EXPECT_EQ(jq, json({{"names", {"a", "b", "pause"}}, {"count", 3}}));
}

TEST_F(EngineUnreadResultsTest, PollsCallbacksAndGroupsReplayedWithoutTheirResults) {
  // Each callback ends an invocation; the next one replays every step before
  // it, none of whose results is read. The poll's first check is not
  // enough: its second runs in the next invocation.
  json out = OutputMatchingEveryResultKept(R"(
cairn: 1
name: test
steps:
  - name: a
    log: "{LOG}"
    process.run: {command: [a]}
  - name: block
    group:
      - name: g1
        process.run: {command: [g1]}
  - name: check
    poll:
      check:
        process.run: {command: [check]}
      until: ${ .attempt >= 2 }
      interval: 1s
  - name: cb
    callback: {timeout: 1d}
  - name: answer
    await: cb
  - name: submit
    process.run: {command: [submit, "${ .callback.id }"]}
    waitForCallback: {timeout: 1d}
  - name: alone
    waitForCallback: {timeout: 1d}
  - name: done
    set: '${ "done after " + .execution.name }'
output: ${ .steps.done | length > 0 }
)", json::object(), /*answer_callbacks=*/true);
  EXPECT_EQ(out, true);
  EXPECT_EQ(actions_.calls("a"), 2);
  EXPECT_EQ(actions_.calls("check"), 4);
}

// ---- end of the tests of results nobody reads -----------------------------

// valijson checks `pattern` with std::regex, which recurses per character
// (~1 KB of stack each for `^(a|b)*$`): a long string must be refused with a
// clear error instead of overflowing the stack, and a string within the
// limit must be checked even when the caller's stack is small.
TEST(EngineInputSchemaTest, LongStringsAgainstPatternsNeverOverflowTheStack) {
  const json schema = {{"type", "object"},
                       {"properties", {{"word", {{"type", "string"}, {"pattern", "^(a|b)*$"}}},
                                       {"note", {{"type", "string"}}}}}};
  auto refused = CheckInput(schema, {{"word", std::string(50'000, 'a')}});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("/word: the string is 50000 bytes"), std::string::npos)
      << refused.error().message;

  // Within the limit, from a thread with a 256 KiB stack (std::regex alone
  // overflows it at about 300 characters).
  struct Call {
    json schema;
    std::optional<Result<json>> good, bad;
  } call{schema, {}, {}};
  pthread_attr_t attr;
  ASSERT_EQ(pthread_attr_init(&attr), 0);
  ASSERT_EQ(pthread_attr_setstacksize(&attr, 256 * 1024), 0);
  pthread_t thread;
  auto body = [](void* arg) -> void* {
    auto* c = static_cast<Call*>(arg);
    std::string word(kMaxRegexCheckedLength, 'a');
    c->good.emplace(CheckInput(c->schema, {{"word", word}}));
    word.back() = 'c';
    c->bad.emplace(CheckInput(c->schema, {{"word", word}}));
    return nullptr;
  };
  ASSERT_EQ(pthread_create(&thread, &attr, body, &call), 0);
  pthread_join(thread, nullptr);
  pthread_attr_destroy(&attr);
  ASSERT_TRUE(call.good->ok()) << call.good->error().message;
  ASSERT_FALSE(call.bad->ok());
  EXPECT_NE(call.bad->error().message.find("word"), std::string::npos) << call.bad->error().message;

  // A schema without regexes takes long strings as they are.
  const json plain = {{"type", "object"}, {"properties", {{"note", {{"type", "string"}}}}}};
  EXPECT_TRUE(CheckInput(plain, {{"note", std::string(100'000, 'x')}}).ok());
}

// The engine compiles a workflow's input schema once and checks every
// execution's input with it, from every thread that invokes: the compiled
// schema must give each input the answer a fresh compile gives.
TEST(EngineInputSchemaTest, OneCompiledSchemaChecksInputsFromManyThreads) {
  const json schema = {
      {"type", "object"},
      {"required", {"id"}},
      {"properties",
       {{"id", {{"type", "string"}, {"pattern", "^[a-z]+-[0-9]+$"}}},
        {"size", {{"type", "integer"}, {"minimum", 1}, {"default", 3}}},
        {"tags", {{"type", "array"}, {"items", {{"$ref", "#/definitions/tag"}}}}}}},
      {"definitions", {{"tag", {{"type", "string"}, {"maxLength", 8}}}}}};
  const InputSchema compiled(schema);
  auto input = [](int i) {
    json in = {{"id", "job-" + std::to_string(i)}};
    if (i % 3 == 1) in["size"] = 0;                     // below the minimum
    if (i % 3 == 2) in["tags"] = {"ok", "far-too-long"};  // an item too long
    if (i % 7 == 0) in["id"] = "Job " + std::to_string(i);  // does not match the pattern
    return in;
  };
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0), valid(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < 400; i += 4) {
        auto got = compiled.Check(input(i));
        auto want = CheckInput(schema, input(i));
        if (got.ok() != want.ok()) {
          ++mismatches[t];
        } else if (got.ok()) {
          ++valid[t];
          if (*got != *want || got->value("size", 0) != 3) ++mismatches[t];
        } else if (got.error().message != want.error().message) {
          ++mismatches[t];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  int total_valid = 0;
  for (int t = 0; t < 4; ++t) {
    EXPECT_EQ(mismatches[t], 0) << "thread " << t;
    total_valid += valid[t];
  }
  // i % 3 == 0 and i % 7 != 0: 134 - 20 = 114 of the 400 inputs are valid.
  EXPECT_EQ(total_valid, 114);

  auto bad = compiled.Check({{"id", "Job 7"}, {"size", 0}});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("/id"), std::string::npos) << bad.error().message;
  EXPECT_NE(bad.error().message.find("/size"), std::string::npos) << bad.error().message;

  // A schema valijson cannot compile fails each check with the reason.
  const InputSchema broken(json{{"type", "object"}, {"properties", {{"n", {{"minimum", "one"}}}}}});
  auto refused = broken.Check({{"n", 2}});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("input schema is invalid"), std::string::npos)
      << refused.error().message;
}

}  // namespace
}  // namespace cairn::engine
