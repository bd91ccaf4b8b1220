// DurableHandler: one Lambda invocation of a durable execution of a cairn
// workflow — the InvocationHandler that `cairn lambda` runs.
//
// For each invocation event {DurableExecutionArn, CheckpointToken,
// InitialExecutionState}:
//  1. pages in the rest of the state (GetDurableExecutionState) while
//     NextMarker is set;
//  2. picks the workflow from the execution's input (the InputPayload of the
//     EXECUTION operation): an object {"workflow": NAME, "input": ANY} (no
//     other keys) selects NAME and runs it with `input` ({} when absent);
//     anything else runs the default workflow with the whole input;
//  3. runs the engine against the CheckpointClient, with should_stop true
//     once the clock reaches the invocation's deadline minus the margin;
//  4. replies (PROTOCOL.md › Invocation event and reply):
//       SUCCEEDED / FAILED / PENDING as the engine decided; a result over
//       6 MB − 50 bytes is first checkpointed as EXECUTION SUCCEED with the
//       newest token and the reply carries Result "";
//       FAILED with ErrorType Cairn.UnknownWorkflow / Cairn.InvalidWorkflow
//       (the validator's diagnostics) / Cairn.WorkflowParams /
//       Cairn.NoWorkflow / Cairn.InvalidInput when the workflow cannot run;
//     or an invocation error (posted to /error, so the service re-invokes):
//       a malformed event, a stale token, a throttled or failing service,
//       the deadline reached with nothing pending.
//
// Live step events (never replayed ones: the engine suppresses those) go to
// `log`, one line each, prefixed with the request id.
//
// Thread-safety: one invocation at a time (the Runtime API is sequential).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "actions/action.h"
#include "backend/durable_backend.h"
#include "core/clock.h"
#include "lambda/runtime_loop.h"
#include "lambda/workflow_bundle.h"

namespace cairn::lambda {

// Replies larger than this are checkpointed instead (Lambda's 6 MB response
// limit less the reply's envelope).
inline constexpr size_t kMaxInlineResultBytes = 6 * 1024 * 1024 - 50;

struct DurableHandlerOptions {
  std::string workflows_dir;     // the bundle's folder
  std::string default_workflow;  // may be empty: then the input must select one
  actions::ActionRunner* actions = nullptr;
  backend::CheckpointClient* client = nullptr;  // outlives the handler
  const Clock* clock = &SystemClock::Instance();
  // No step starts later than deadline − margin.
  int64_t deadline_margin_ms = 2000;
  std::function<const char*(const char*)> lookup_env;
  std::function<void(const std::string&)> log;  // may be empty
  std::string build;  // WorkflowBundleOptions::build (the bundle's manifest)
};

class DurableHandler final : public InvocationHandler {
 public:
  explicit DurableHandler(DurableHandlerOptions options);

  // Lists the workflow folder and reads its manifest (nothing is compiled yet).
  Status Init() override;
  HandlerReply Handle(const NextInvocation& invocation) override;

  WorkflowBundle& bundle() { return *bundle_; }

 private:
  void Log(const std::string& line) const;

  DurableHandlerOptions options_;
  std::unique_ptr<WorkflowBundle> bundle_;
  // The running invocation's, read by should_stop.
  std::atomic<int64_t> stop_at_ms_{0};
  std::string request_id_;
};

}  // namespace cairn::lambda
