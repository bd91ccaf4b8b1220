// The engine: runs one invocation of a durable execution of a compiled
// workflow. It replays the operations recorded so far, advances the step
// graph, runs what is due, records progress through the backend's
// CheckpointClient, and returns SUCCEEDED, FAILED or PENDING.
//
// The engine is a pure function of (graph, recorded operations, action
// outcomes): it keeps nothing between invocations, so a crash at any moment
// loses nothing that was checkpointed, and the same workflow behaves the same
// on the local backend and on AWS Lambda.
//
// Semantics (LANGUAGE.md, PROTOCOL.md › Replay rules):
//  * An operation is identified by OperationId(parent, step name, visit);
//    one recorded under that id with another type, subtype or name fails the
//    execution with Cairn.NonDeterministic (never PENDING).
//  * Action steps are STEP operations: START and the result are checkpointed
//    together before the next step starts (at least once per retry), or
//    START is made durable before the action runs (atMostOncePerRetry: an
//    interrupted attempt fails with Cairn.Interrupted instead of re-running).
//    Retries are STEP RETRY with NextAttemptDelaySeconds: never an
//    in-process sleep.
//  * `retry:` on a step that runs a CONTEXT (group, parallel, map,
//    waitForCallback): a CONTEXT cannot RETRY, so attempt n > 1 is a new
//    CONTEXT under OperationId(id, "attempt", n) whose steps all run again,
//    after a WAIT OperationId(id, "retry", n) of the retry delay. For
//    waitForCallback only Callback.* errors re-run the context (the
//    submitter's own errors are retried by its STEP).
//  * Parallel and map run their branches/items in child contexts; the
//    Parallel/Map context succeeds with a batch result
//    {results, items, completionReason, status, successCount, failureCount,
//    totalCount}; when the completion policy's failure tolerance is exceeded
//    the step then fails with the first branch/item error (data = the batch
//    result). Branches run one after another in this process; a branch that
//    waits lets the next one start (up to maxConcurrency waiting at once).
//  * `compute:` is a STEP whose value the engine renders itself (no
//    ActionRunner); an expression raising error({error: "Name", ...})
//    fails with the workflow error Name, any other expression error is
//    Cairn.Expression.
//  * An operation's Name is the step's `label:` (rendered when the step
//    runs; null = no Name) or else the step name; map iterations are named
//    by `itemLabel:`.
//  * set, switch, succeed, fail and `if:` checkpoint nothing: they are
//    recomputed on replay from recorded results.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "actions/action.h"
#include "backend/durable_backend.h"
#include "compile/step_graph.h"
#include "core/clock.h"

namespace cairn::engine {

// What the engine reports while it runs, for people watching (cairn run).
// Only live work is reported, never replayed steps.
struct StepEvent {
  enum class Kind { kStarted, kSucceeded, kFailed, kRetrying, kWaiting, kCallbackWaiting, kLog };
  Kind kind;
  std::string step;           // step name
  std::string operation_id;
  int attempt = 0;
  int64_t duration_ms = 0;    // kSucceeded, kFailed, kRetrying
  std::string detail;         // error text, wait length, callback id, log message
};

struct EngineOptions {
  const Clock* clock = &SystemClock::Instance();
  // Resolved `params` of the workflow (ResolveParams); null means none.
  nlohmann::json params = nlohmann::json::object();
  // Called from the invoking thread; may be empty.
  std::function<void(const StepEvent&)> on_event;
  // Asked (from the invoking thread) before each step starts; true stops the
  // invocation from starting more work: what is queued is checkpointed, then
  // it returns PENDING when an operation is pending (a STEP PENDING, a WAIT,
  // CALLBACK or CHAINED_INVOKE STARTED), else the error kDeadlineError so
  // that the service re-invokes. The Lambda runtime stops this way before
  // the invocation's deadline. May be empty.
  std::function<bool()> should_stop;
  // Sends a successful end as an EXECUTION SUCCEED update (with the output)
  // in the invocation's last checkpoint, and still returns SUCCEEDED with
  // the output. For a service that records the execution's end from that
  // checkpoint (the local backend): the end shares the last step's commit
  // instead of costing one of its own. An output over the 256 KiB an
  // operation may carry is only returned.
  bool end_in_last_checkpoint = false;
};

// The invocation error of an invocation stopped by should_stop with nothing
// pending (PENDING would be refused): the service re-invokes it.
inline constexpr const char* kDeadlineError = "engine.deadline";

// Resolves a workflow's params from the environment: {env: NAME} reads NAME
// (with split and type), a literal is itself. A required variable that is
// not set is an Error naming it. `lookup_env` is injected (tests, Lambda).
Result<nlohmann::json> ResolveParams(const WorkflowDefinition& def,
                                     const std::function<const char*(const char*)>& lookup_env);

// What every invocation of one workflow needs and can share (engine.cc).
struct WorkflowPlan;

// Runs invocations of one compiled workflow. Thread-safe: Invoke may run
// concurrently for different executions.
class Engine final : public backend::Invoker {
 public:
  Engine(std::shared_ptr<const StepGraph> graph, actions::ActionRunner* actions,
         EngineOptions options);

  Result<protocol::InvocationOutput> Invoke(const protocol::Invocation& invocation,
                                            backend::CheckpointClient& client) override;

  const StepGraph& graph() const { return *graph_; }

 private:
  std::shared_ptr<const StepGraph> graph_;
  actions::ActionRunner* actions_;
  EngineOptions options_;
  // Built once from graph_ in the constructor; immutable, read by every Invoke.
  std::shared_ptr<const WorkflowPlan> plan_;
};

}  // namespace cairn::engine
