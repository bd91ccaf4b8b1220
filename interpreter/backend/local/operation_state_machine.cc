#include "backend/local/operation_state_machine.h"

#include <array>
#include <cstdint>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "backend/durable_backend.h"

namespace cairn::backend::local {
namespace {

using nlohmann::json;
using protocol::ErrorObject;
using protocol::ExecutionStatus;
using protocol::Operation;
using protocol::OperationAction;
using protocol::OperationStatus;
using protocol::OperationType;
using protocol::OperationUpdate;
using protocol::Timestamp;

// [A-Za-z0-9_-], as a table: every Id, ParentId and SubType of every update
// is checked character by character.
constexpr std::array<bool, 256> kIdChars = [] {
  std::array<bool, 256> t{};
  for (int c = 'a'; c <= 'z'; ++c) t[static_cast<size_t>(c)] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[static_cast<size_t>(c)] = true;
  for (int c = '0'; c <= '9'; ++c) t[static_cast<size_t>(c)] = true;
  t['_'] = true;
  t['-'] = true;
  return t;
}();

bool IsIdChar(char c) { return kIdChars[static_cast<unsigned char>(c)]; }

bool IsToken(const std::string& s, size_t max) {
  if (s.empty() || s.size() > max) return false;
  for (char c : s) {
    if (!IsIdChar(c)) return false;
  }
  return true;
}

bool IsPrintable(const std::string& s, size_t max) {
  if (s.empty() || s.size() > max) return false;
  for (char c : s) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

std::string Str(OperationStatus s) { return std::string(protocol::ToString(s)); }

// {k1: v1, k2: v2} built in place: nlohmann's initializer-list form builds
// (and then frees) a two-element array and a key string per pair. Used for
// the details of the events every step records.
json Object(const char* k1, json v1, const char* k2, json v2) {
  json j(json::value_t::object);
  auto& o = j.get_ref<json::object_t&>();
  o.emplace(k1, std::move(v1));
  o.emplace(k2, std::move(v2));
  return j;
}

json Object(const char* k, json v) {
  json j(json::value_t::object);
  j.get_ref<json::object_t&>().emplace(k, std::move(v));
  return j;
}

// Builds the plan of one checkpoint, update by update.
class Planner {
 public:
  Planner(const OperationLookup& lookup, const PlanContext& ctx) : lookup_(lookup), ctx_(ctx) {}

  Result<Plan> Run(const std::vector<OperationUpdate>& updates) {
    if (updates.size() > kMaxUpdatesPerCheckpoint) {
      return InvalidRequestError("a checkpoint may carry at most " +
                                 std::to_string(kMaxUpdatesPerCheckpoint) + " updates, not " +
                                 std::to_string(updates.size()));
    }
    size_t executions = 0;
    for (const auto& u : updates) executions += u.type == OperationType::kExecution;
    if (executions > 1) return InvalidRequestError("Cannot checkpoint multiple EXECUTION updates.");
    if (executions == 1 && updates.back().type != OperationType::kExecution) {
      return InvalidRequestError("EXECUTION checkpoint must be the last update.");
    }
    seen_.reserve(updates.size());
    plan_.changes.reserve(updates.size());
    plan_.events.reserve(updates.size());
    for (size_t i = 0; i < updates.size(); ++i) {
      if (auto st = Apply(i, updates[i]); !st.ok()) return st.error();
    }
    return std::move(plan_);
  }

 private:
  Error Bad(size_t i, const OperationUpdate& u, const std::string& message) const {
    return InvalidRequestError("update " + std::to_string(i) + " (" +
                               std::string(protocol::ToString(u.type)) + " " +
                               std::string(protocol::ToString(u.action)) + " '" +
                               u.id.substr(0, protocol::kMaxIdLength) + "'): " + message);
  }

  // What the plan knows of one Id it was sent.
  struct Seen {
    std::string_view id;  // the update's Id (the updates outlive the planner)
    OperationAction last_action = OperationAction::kStart;
    size_t change = kNoChange;  // into plan_.changes
  };
  static constexpr size_t kNoChange = SIZE_MAX;
  // Batches mostly hold one or two Ids: a scan of a short vector beats a
  // hash map (whose nodes and key copies cost more than the lookups); the
  // map is built only for large batches.
  static constexpr size_t kScanLimit = 16;

  Seen* Lookup(std::string_view id) {
    if (seen_.size() <= kScanLimit) {
      for (Seen& s : seen_) {
        if (s.id == id) return &s;
      }
      return nullptr;
    }
    auto it = seen_index_.find(id);
    return it == seen_index_.end() ? nullptr : &seen_[it->second];
  }

  Seen& Add(std::string_view id, OperationAction action) {
    seen_.push_back({id, action, kNoChange});
    if (seen_.size() == kScanLimit + 1) {
      for (size_t k = 0; k < seen_.size(); ++k) seen_index_.emplace(seen_[k].id, k);
    } else if (seen_.size() > kScanLimit + 1) {
      seen_index_.emplace(id, seen_.size() - 1);
    }
    return seen_.back();
  }

  const Operation* Find(const std::string& id) {
    if (const Seen* s = Lookup(id); s && s->change != kNoChange) {
      return &plan_.changes[s->change].operation;
    }
    return lookup_(id);
  }

  // Records the new state of the operation of the update being applied.
  Operation& Put(Operation op, bool created) {
    Seen& s = seen_[current_];
    if (s.change != kNoChange) {
      plan_.changes[s.change].operation = std::move(op);
      return plan_.changes[s.change].operation;
    }
    s.change = plan_.changes.size();
    plan_.changes.push_back({std::move(op), created});
    return plan_.changes.back().operation;
  }

  void Event(std::string type, const Operation& op, json details) {
    plan_.events.push_back(OperationEvent(std::move(type), op, ctx_.now, std::move(details)));
  }
  void Event(std::string type, const Operation& op, std::string details_text) {
    plan_.events.push_back(OperationEvent(std::move(type), op, ctx_.now, std::move(details_text)));
  }

  TimerKey Timer(const std::string& op_id, TimerKind kind) const {
    return {ctx_.execution->arn, op_id, kind};
  }

  Status CheckFields(size_t i, const OperationUpdate& u) const {
    if (!IsToken(u.id, protocol::kMaxIdLength)) {
      return Bad(i, u, "Id must be 1 to 64 characters of [A-Za-z0-9_-]");
    }
    if (u.parent_id && !IsToken(*u.parent_id, protocol::kMaxIdLength)) {
      return Bad(i, u, "ParentId must be 1 to 64 characters of [A-Za-z0-9_-]");
    }
    if (u.name && !IsPrintable(*u.name, protocol::kMaxNameLength)) {
      return Bad(i, u, "Name must be 1 to 256 printable ASCII characters");
    }
    if (u.sub_type && !IsToken(*u.sub_type, protocol::kMaxSubTypeLength)) {
      return Bad(i, u, "SubType must be 1 to 32 characters of [A-Za-z0-9_-]");
    }
    size_t limit = u.type == OperationType::kExecution ? kMaxExecutionPayloadBytes
                                                       : protocol::kMaxOperationPayloadBytes;
    if (u.payload && u.payload->size() > limit) {
      return Bad(i, u,
                 "Payload is " + std::to_string(u.payload->size()) + " bytes; the limit is " +
                     std::to_string(limit) + " bytes");
    }
    if (u.error && ErrorObjectSize(*u.error) >= protocol::kMaxErrorObjectBytes) {
      return Bad(i, u,
                 "Error object size must be less than " +
                     std::to_string(protocol::kMaxErrorObjectBytes) + " bytes");
    }
    auto in_range = [](const std::optional<int64_t>& v, int64_t lo) {
      return !v || (*v >= lo && *v <= protocol::kMaxDelaySeconds);
    };
    if (!in_range(u.next_attempt_delay_seconds, 1)) {
      return Bad(i, u, "StepOptions.NextAttemptDelaySeconds must be 1 to 31622400");
    }
    if (!in_range(u.wait_seconds, 1))
      return Bad(i, u, "WaitOptions.WaitSeconds must be 1 to 31622400");
    if (!in_range(u.callback_timeout_seconds, 0) ||
        !in_range(u.callback_heartbeat_timeout_seconds, 0)) {
      return Bad(i, u, "CallbackOptions timeouts must be 0 to 31622400 seconds");
    }
    if (u.action == OperationAction::kSucceed && u.error) {
      return Bad(i, u, "Cannot provide an Error for SUCCEED action.");
    }
    if (u.action == OperationAction::kFail && u.payload) {
      return Bad(i, u, "Cannot provide a Payload for FAIL action.");
    }
    return {};
  }

  Status Apply(size_t i, const OperationUpdate& u) {
    if (auto st = CheckFields(i, u); !st.ok()) return st;
    if (u.type == OperationType::kExecution) return ApplyExecution(i, u);

    // No Id twice, except START then a closing action of a STEP or CONTEXT.
    if (Seen* seen = Lookup(u.id)) {
      bool allowed = (u.type == OperationType::kStep || u.type == OperationType::kContext) &&
                     seen->last_action == OperationAction::kStart &&
                     u.action != OperationAction::kStart;
      if (!allowed) return Bad(i, u, "Cannot update the same operation twice in a single request.");
      seen->last_action = u.action;
      current_ = static_cast<size_t>(seen - seen_.data());
    } else {
      Add(u.id, u.action);
      current_ = seen_.size() - 1;
    }

    const Operation* current = Find(u.id);
    if (current) {
      if (current->type != u.type) {
        return Bad(i, u,
                   "the operation is a " + std::string(protocol::ToString(current->type)) +
                       "; its Type cannot change");
      }
      if (u.sub_type && current->sub_type != u.sub_type) {
        return Bad(i, u, "SubType cannot change (was '" + current->sub_type.value_or("") + "')");
      }
      if (u.name && current->name != u.name) {
        return Bad(i, u, "Name cannot change (was '" + current->name.value_or("") + "')");
      }
      if (u.parent_id && current->parent_id != u.parent_id) {
        return Bad(i, u, "ParentId cannot change (was '" + current->parent_id.value_or("") + "')");
      }
    }
    if (u.parent_id && !current) {
      if (*u.parent_id == u.id) return Bad(i, u, "an operation cannot be its own parent");
      const Operation* parent = Find(*u.parent_id);
      if (!parent || parent->type != OperationType::kContext) {
        return Bad(i, u,
                   "Invalid parent operation id '" + *u.parent_id +
                       "': a ParentId must name a CONTEXT operation");
      }
      if (parent->status != OperationStatus::kStarted) {
        return Bad(i, u,
                   "parent CONTEXT '" + *u.parent_id + "' is " + Str(parent->status) +
                       "; operations can only be created inside a STARTED CONTEXT");
      }
    }
    switch (u.type) {
      case OperationType::kStep:
        return ApplyStep(i, u, current);
      case OperationType::kWait:
        return ApplyWait(i, u, current);
      case OperationType::kCallback:
        return ApplyCallback(i, u, current);
      case OperationType::kContext:
        return ApplyContext(i, u, current);
      case OperationType::kChainedInvoke:
        return ApplyChainedInvoke(i, u, current);
      case OperationType::kExecution:
        break;
    }
    return Bad(i, u, "unknown operation type");
  }

  Operation New(const OperationUpdate& u) const {
    Operation op;
    op.id = u.id;
    op.parent_id = u.parent_id;
    op.name = u.name;
    op.type = u.type;
    op.sub_type = u.sub_type;
    op.start_timestamp = ctx_.now;
    op.status = OperationStatus::kStarted;
    return op;
  }

  Status ApplyStep(size_t i, const OperationUpdate& u, const Operation* current) {
    const bool open = current && (current->status == OperationStatus::kStarted ||
                                  current->status == OperationStatus::kReady);
    switch (u.action) {
      case OperationAction::kStart: {
        if (current && current->status != OperationStatus::kReady) {
          return Bad(i, u,
                     "Invalid current STEP state to start: it is " + Str(current->status) +
                         " (START is legal for a new STEP or a READY one)");
        }
        Operation op = current ? *current : New(u);
        op.status = OperationStatus::kStarted;
        op.next_attempt_timestamp.reset();
        if (!op.attempt) op.attempt = 0;
        Event("StepStarted", Put(std::move(op), current == nullptr), std::string("{}"));
        return {};
      }
      case OperationAction::kSucceed:
      case OperationAction::kFail: {
        if (!open) {
          return Bad(i, u,
                     std::string("Invalid current STEP state to close: ") +
                         (current ? "it is " + Str(current->status) : "it was never started") +
                         " (SUCCEED and FAIL are legal from STARTED or READY)");
        }
        Operation op = *current;
        const bool ok = u.action == OperationAction::kSucceed;
        op.status = ok ? OperationStatus::kSucceeded : OperationStatus::kFailed;
        op.end_timestamp = ctx_.now;
        op.attempt = op.attempt.value_or(0) + 1;
        op.next_attempt_timestamp.reset();
        op.result = ok ? u.payload : std::nullopt;
        op.error = ok ? std::nullopt : std::optional<ErrorObject>(u.error.value_or(ErrorObject{}));
        const int attempt = *op.attempt;
        const Operation& put = Put(std::move(op), false);
        if (ok) {
          Event("StepSucceeded", put, ResultDetailsText(u.payload, attempt));
        } else {
          json retry = Object("CurrentAttempt", attempt);
          Event("StepFailed", put,
                Object("Error", ErrorPayloadObject(put.error), "RetryDetails", std::move(retry)));
        }
        // Only a RETRY sets a retry timer (and counts an attempt): a step
        // never retried has none to clear.
        if (current->attempt.value_or(0) > 0) {
          plan_.timers_cleared.push_back(Timer(u.id, TimerKind::kStepRetry));
        }
        return {};
      }
      case OperationAction::kRetry: {
        if (!open) {
          return Bad(i, u,
                     std::string("Invalid current STEP state to re-attempt: ") +
                         (current ? "it is " + Str(current->status) : "it was never started") +
                         " (RETRY is legal from STARTED or READY)");
        }
        if (!u.next_attempt_delay_seconds) {
          return Bad(i, u,
                     "Invalid StepOptions for the given action: RETRY needs "
                     "StepOptions.NextAttemptDelaySeconds");
        }
        if (u.payload && u.error) {
          return Bad(i, u, "Cannot provide both error and payload to RETRY a STEP.");
        }
        Operation op = *current;
        op.status = OperationStatus::kPending;
        op.attempt = op.attempt.value_or(0) + 1;
        op.next_attempt_timestamp = ctx_.now + *u.next_attempt_delay_seconds * 1000;
        op.result = u.payload;
        op.error = u.error;
        json retry = {{"CurrentAttempt", *op.attempt},
                      {"NextAttemptDelaySeconds", *u.next_attempt_delay_seconds}};
        const Operation& put = Put(std::move(op), false);
        if (u.error) {
          Event("StepFailed", put,
                Object("Error", ErrorPayloadObject(u.error), "RetryDetails", std::move(retry)));
        } else {
          Event("StepSucceeded", put,
                Object("Result", PayloadObject(u.payload), "RetryDetails", std::move(retry)));
        }
        plan_.timers_set.push_back(
            {Timer(u.id, TimerKind::kStepRetry), *put.next_attempt_timestamp});
        return {};
      }
      case OperationAction::kCancel:
        break;
    }
    return Bad(i, u, "Invalid STEP action: a STEP takes START, SUCCEED, FAIL or RETRY");
  }

  Status ApplyWait(size_t i, const OperationUpdate& u, const Operation* current) {
    switch (u.action) {
      case OperationAction::kStart: {
        if (current) return Bad(i, u, "Cannot start a WAIT that already exists.");
        if (!u.wait_seconds) return Bad(i, u, "START of a WAIT needs WaitOptions.WaitSeconds");
        Operation op = New(u);
        op.scheduled_end_timestamp = ctx_.now + *u.wait_seconds * 1000;
        const Operation& put = Put(std::move(op), true);
        Event("WaitStarted", put,
              {{"Duration", *u.wait_seconds},
               {"ScheduledEndTimestamp", protocol::TimestampToJson(*put.scheduled_end_timestamp)}});
        plan_.timers_set.push_back(
            {Timer(u.id, TimerKind::kWaitEnd), *put.scheduled_end_timestamp});
        return {};
      }
      case OperationAction::kCancel: {
        if (!current || current->status != OperationStatus::kStarted) {
          return Bad(i, u, "Cannot cancel a WAIT that does not exist or has already completed.");
        }
        Operation op = *current;
        op.status = OperationStatus::kCancelled;
        op.end_timestamp = ctx_.now;
        const Operation& put = Put(std::move(op), false);
        json details = json::object();
        if (u.error) details["Error"] = ErrorPayloadObject(u.error);
        Event("WaitCancelled", put, std::move(details));
        plan_.timers_cleared.push_back(Timer(u.id, TimerKind::kWaitEnd));
        return {};
      }
      default:
        break;
    }
    return Bad(i, u,
               "Invalid WAIT action: a WAIT takes START or CANCEL; the service completes it "
               "when it is due");
  }

  Status ApplyCallback(size_t i, const OperationUpdate& u, const Operation* current) {
    if (u.action != OperationAction::kStart) {
      return Bad(i, u,
                 "Invalid CALLBACK action: a CALLBACK takes START only; it is completed "
                 "through the callback API or by its timeouts");
    }
    if (current) return Bad(i, u, "Cannot start a CALLBACK that already exists.");
    Operation op = New(u);
    op.callback_id = ctx_.new_callback_id();
    const Operation& put = Put(std::move(op), true);
    const int64_t timeout = u.callback_timeout_seconds.value_or(0);
    const int64_t heartbeat = u.callback_heartbeat_timeout_seconds.value_or(0);
    json details = {{"CallbackId", *put.callback_id}};
    if (timeout > 0) {
      details["Timeout"] = timeout;
      plan_.timers_set.push_back(
          {Timer(u.id, TimerKind::kCallbackTimeout), ctx_.now + timeout * 1000});
    }
    if (heartbeat > 0) {
      details["HeartbeatTimeout"] = heartbeat;
      plan_.timers_set.push_back(
          {Timer(u.id, TimerKind::kCallbackHeartbeat), ctx_.now + heartbeat * 1000});
    }
    Event("CallbackStarted", put, std::move(details));
    plan_.callbacks.push_back({*put.callback_id, ctx_.execution->arn, put.id, heartbeat, true});
    return {};
  }

  Status ApplyContext(size_t i, const OperationUpdate& u, const Operation* current) {
    switch (u.action) {
      case OperationAction::kStart: {
        if (current) return Bad(i, u, "Cannot start a CONTEXT that already exists.");
        Operation op = New(u);
        op.replay_children = u.replay_children;
        Event("ContextStarted", Put(std::move(op), true), std::string("{}"));
        return {};
      }
      case OperationAction::kSucceed:
      case OperationAction::kFail: {
        if (!current || current->status != OperationStatus::kStarted) {
          return Bad(i, u,
                     std::string("Invalid current CONTEXT state to close: ") +
                         (current ? "it is " + Str(current->status) : "it was never started"));
        }
        Operation op = *current;
        const bool ok = u.action == OperationAction::kSucceed;
        op.status = ok ? OperationStatus::kSucceeded : OperationStatus::kFailed;
        op.end_timestamp = ctx_.now;
        op.result = ok ? u.payload : std::nullopt;
        op.error = ok ? std::nullopt : std::optional<ErrorObject>(u.error.value_or(ErrorObject{}));
        if (u.replay_children) op.replay_children = u.replay_children;
        const Operation& put = Put(std::move(op), false);
        if (ok) {
          Event("ContextSucceeded", put, ResultDetailsText(u.payload, std::nullopt));
        } else {
          Event("ContextFailed", put, {{"Error", ErrorPayloadObject(put.error)}});
        }
        return {};
      }
      default:
        break;
    }
    return Bad(i, u, "Invalid CONTEXT action: a CONTEXT takes START, SUCCEED or FAIL");
  }

  Status ApplyChainedInvoke(size_t i, const OperationUpdate& u, const Operation* current) {
    if (u.action != OperationAction::kStart) {
      return Bad(i, u,
                 "Invalid CHAINED_INVOKE action: a CHAINED_INVOKE takes START only; the "
                 "service completes it when the invoked execution ends");
    }
    if (current) return Bad(i, u, "Cannot start a CHAINED_INVOKE that already exists.");
    if (!u.function_name || u.function_name->empty()) {
      return Bad(i, u, "START of a CHAINED_INVOKE needs ChainedInvokeOptions.FunctionName");
    }
    const Operation& put = Put(New(u), true);
    json details = {{"FunctionName", *u.function_name}, {"Input", PayloadObject(u.payload)}};
    if (u.tenant_id) details["TenantId"] = *u.tenant_id;
    Event("ChainedInvokeStarted", put, std::move(details));
    plan_.chained_invokes.push_back(
        {u.id, *u.function_name, u.tenant_id, u.payload, plan_.events.size() - 1});
    return {};
  }

  Status ApplyExecution(size_t i, const OperationUpdate& u) {
    if (u.action != OperationAction::kSucceed && u.action != OperationAction::kFail) {
      return Bad(i, u, "Invalid EXECUTION action: an EXECUTION takes SUCCEED or FAIL");
    }
    ExecutionEnd end;
    if (u.action == OperationAction::kSucceed) {
      end.status = ExecutionStatus::kSucceeded;
      end.result = u.payload;
    } else {
      end.status = ExecutionStatus::kFailed;
      end.error = u.error.value_or(ErrorObject{});
    }
    plan_.events.push_back(
        ExecutionEndedEvent(*ctx_.execution, end.status, end.result, end.error, ctx_.now));
    plan_.execution_end = std::move(end);
    return {};
  }

  const OperationLookup& lookup_;
  const PlanContext& ctx_;
  Plan plan_;
  std::vector<Seen> seen_;  // in order of first update
  std::unordered_map<std::string_view, size_t> seen_index_;  // into seen_, when large
  size_t current_ = 0;  // seen_ entry of the update being applied
};

}  // namespace

bool IsValidOperationId(const std::string& id) { return IsToken(id, protocol::kMaxIdLength); }

size_t ErrorObjectSize(const ErrorObject& error) { return protocol::ToJson(error).dump().size(); }

Result<Plan> PlanCheckpoint(const std::vector<OperationUpdate>& updates,
                            const OperationLookup& lookup, const PlanContext& ctx) {
  return Planner(lookup, ctx).Run(updates);
}

ServiceTransition WaitElapsed(const Operation& wait, Timestamp now) {
  ServiceTransition t{wait, std::nullopt};
  t.operation.status = OperationStatus::kSucceeded;
  t.operation.end_timestamp = now;
  int64_t duration_ms =
      wait.scheduled_end_timestamp.value_or(now) - wait.start_timestamp.value_or(now);
  t.event = OperationEvent("WaitSucceeded", t.operation, now, {{"Duration", duration_ms / 1000}});
  return t;
}

ServiceTransition StepReady(const Operation& step, Timestamp) {
  ServiceTransition t{step, std::nullopt};
  t.operation.status = OperationStatus::kReady;
  return t;
}

ServiceTransition CallbackCompleted(const Operation& callback, OperationStatus status,
                                    const std::optional<std::string>& result,
                                    const std::optional<ErrorObject>& error, Timestamp now) {
  ServiceTransition t{callback, std::nullopt};
  t.operation.status = status;
  t.operation.end_timestamp = now;
  t.operation.result = status == OperationStatus::kSucceeded ? result : std::nullopt;
  t.operation.error = status == OperationStatus::kSucceeded ? std::nullopt : error;
  switch (status) {
    case OperationStatus::kSucceeded:
      t.event = OperationEvent("CallbackSucceeded", t.operation, now,
                               {{"Result", PayloadObject(result)}});
      break;
    case OperationStatus::kTimedOut:
      t.event = OperationEvent("CallbackTimedOut", t.operation, now,
                               {{"Error", ErrorPayloadObject(error)}});
      break;
    default:
      t.event = OperationEvent("CallbackFailed", t.operation, now,
                               {{"Error", ErrorPayloadObject(error)}});
      break;
  }
  return t;
}

ServiceTransition ChainedInvokeCompleted(const Operation& invoke, OperationStatus status,
                                         const std::optional<std::string>& result,
                                         const std::optional<ErrorObject>& error, Timestamp now) {
  ServiceTransition t{invoke, std::nullopt};
  t.operation.status = status;
  t.operation.end_timestamp = now;
  t.operation.result = status == OperationStatus::kSucceeded ? result : std::nullopt;
  t.operation.error = status == OperationStatus::kSucceeded ? std::nullopt : error;
  switch (status) {
    case OperationStatus::kSucceeded:
      t.event = OperationEvent("ChainedInvokeSucceeded", t.operation, now,
                               {{"Result", PayloadObject(result)}});
      break;
    case OperationStatus::kTimedOut:
      t.event = OperationEvent("ChainedInvokeTimedOut", t.operation, now,
                               {{"Error", ErrorPayloadObject(error)}});
      break;
    case OperationStatus::kStopped:
      t.event = OperationEvent("ChainedInvokeStopped", t.operation, now,
                               {{"Error", ErrorPayloadObject(error)}});
      break;
    default:
      t.event = OperationEvent("ChainedInvokeFailed", t.operation, now,
                               {{"Error", ErrorPayloadObject(error)}});
      break;
  }
  return t;
}

}  // namespace cairn::backend::local
