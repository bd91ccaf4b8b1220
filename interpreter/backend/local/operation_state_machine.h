// The operation state machine of the durable execution service
// (PROTOCOL.md, "Legal transitions"), as pure functions: given the current
// operations and a checkpoint's updates, either a Plan of everything that
// changes (new operation states, history events, timers, callbacks, the end
// of the execution) or an error saying which update broke which rule. The
// service writes a Plan in one store batch and only then makes it visible.
//
// Transitions made by clients (PlanCheckpoint):
//   STEP            START (new | READY → STARTED), SUCCEED / FAIL (STARTED |
//                   READY → SUCCEEDED / FAILED), RETRY (STARTED | READY →
//                   PENDING, Attempt+1, NextAttemptTimestamp; needs
//                   StepOptions; not both Payload and Error)
//   WAIT            START (new → STARTED, needs WaitOptions), CANCEL
//                   (STARTED → CANCELLED)
//   CALLBACK        START (new → STARTED, the service makes the CallbackId)
//   CONTEXT         START (new → STARTED), SUCCEED / FAIL (STARTED → …)
//   CHAINED_INVOKE  START (new → STARTED, needs ChainedInvokeOptions)
//   EXECUTION       SUCCEED / FAIL: the last update of a batch, at most one;
//                   ends the execution (whatever its Id says).
// Batch rules: no Id twice, except START followed by a closing action for
// the same STEP or CONTEXT; Type, SubType, Name and ParentId of an existing
// operation never change; a ParentId names a CONTEXT (STARTED, when the
// update creates the operation); SUCCEED carries no Error, FAIL no Payload.
// Limits: Id/ParentId ≤ 64 of [A-Za-z0-9_-], Name ≤ 256 printable ASCII,
// SubType ≤ 32 of [A-Za-z0-9_-], Payload ≤ 262,144 bytes (EXECUTION:
// 6 MiB), Error < 32 KiB as JSON, delays 1..31,622,400 s.
//
// Transitions made by the service itself: WaitElapsed, StepReady,
// CallbackCompleted, ChainedInvokeCompleted.
//
// Thread-safety: pure functions; the callers own all data.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "backend/local/history.h"
#include "backend/local/store.h"
#include "core/result.h"
#include "protocol/protocol.h"

namespace cairn::backend::local {

// The largest payload of an EXECUTION update (the service model's
// OperationPayload limit).
inline constexpr size_t kMaxExecutionPayloadBytes = 6'291'456;
// The most updates one checkpoint may carry.
inline constexpr size_t kMaxUpdatesPerCheckpoint = 10'000;

// Looks up an existing operation by id; nullptr when there is none.
using OperationLookup = std::function<const protocol::Operation*(const std::string& id)>;

struct PlanContext {
  protocol::Timestamp now = 0;
  const ExecutionRecord* execution = nullptr;
  // Makes a fresh, unguessable callback id.
  std::function<std::string()> new_callback_id;
};

struct OperationChange {
  protocol::Operation operation;  // the state after the plan
  bool created = false;           // did not exist before the plan
};

struct ExecutionEnd {
  protocol::ExecutionStatus status = protocol::ExecutionStatus::kSucceeded;
  std::optional<std::string> result;
  std::optional<protocol::ErrorObject> error;
};

// A CHAINED_INVOKE to start: the service creates the child execution and
// sets the ChainedInvokeStarted event's DurableExecutionArn.
struct ChainedInvokeStart {
  std::string operation_id;
  std::string function_name;
  std::optional<std::string> tenant_id;
  std::optional<std::string> input;
  size_t event_index = 0;  // into Plan::events
};

struct Plan {
  std::vector<OperationChange> changes;  // one per operation, in order of first change
  std::vector<HistoryEvent> events;      // EventIds not yet assigned
  std::vector<TimerRecord> timers_set;
  std::vector<TimerKey> timers_cleared;
  std::vector<CallbackRecord> callbacks;
  std::vector<ChainedInvokeStart> chained_invokes;
  std::optional<ExecutionEnd> execution_end;
};

// Validates `updates` against the operations `lookup` sees and plans them.
// REQUIRES: ctx.execution and ctx.new_callback_id set.
// Errors: kInvalidRequestError naming the update and the rule; nothing of a
// failed checkpoint is planned.
Result<Plan> PlanCheckpoint(const std::vector<protocol::OperationUpdate>& updates,
                            const OperationLookup& lookup, const PlanContext& ctx);

// One operation's new state and the event that records it.
struct ServiceTransition {
  protocol::Operation operation;
  std::optional<HistoryEvent> event;
};

// WAIT STARTED → SUCCEEDED (WaitSucceeded {Duration}).
ServiceTransition WaitElapsed(const protocol::Operation& wait, protocol::Timestamp now);
// STEP PENDING → READY (no event; the next START records StepStarted).
ServiceTransition StepReady(const protocol::Operation& step, protocol::Timestamp now);
// CALLBACK STARTED → SUCCEEDED (result) / FAILED (error) / TIMED_OUT (error).
ServiceTransition CallbackCompleted(const protocol::Operation& callback,
                                    protocol::OperationStatus status,
                                    const std::optional<std::string>& result,
                                    const std::optional<protocol::ErrorObject>& error,
                                    protocol::Timestamp now);
// CHAINED_INVOKE STARTED → SUCCEEDED / FAILED / TIMED_OUT / STOPPED.
ServiceTransition ChainedInvokeCompleted(const protocol::Operation& invoke,
                                         protocol::OperationStatus status,
                                         const std::optional<std::string>& result,
                                         const std::optional<protocol::ErrorObject>& error,
                                         protocol::Timestamp now);

// Validation helpers shared with the service's APIs.
bool IsValidOperationId(const std::string& id);
// Size of an error object as the service measures it (its JSON text).
size_t ErrorObjectSize(const protocol::ErrorObject& error);

}  // namespace cairn::backend::local
