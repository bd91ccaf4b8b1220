// A tiny durable execution SDK for tests: replays operations and checkpoints
// like the real SDKs do (one checkpoint call per update, always with the
// newest token), so scripted handlers can drive the local service without
// the engine. ScriptedInvoker runs a handler as an Invoker.
//
// Operation ids are "1", "2", … in call order; inside a child context
// "<context id>-1", …. Handlers suspend (return PENDING) by letting Suspend
// propagate; a FAILED step surfaces as StepFailure.
//
// Thread-safety: a MiniSdk belongs to one invocation; ScriptedInvoker may be
// called concurrently for different executions if the handler allows it.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "backend/durable_backend.h"
#include "protocol/protocol.h"

namespace cairn::backend::local::testing {

// Ends the invocation with PENDING.
struct Suspend {};
// A step, callback or context that FAILED; uncaught, the execution FAILS.
struct StepFailure {
  protocol::ErrorObject error;
};
// A checkpoint call failed; the invoker maps it to PROTOCOL.md's classes.
struct CheckpointFailure {
  Error error;
};
// Thrown by a step function to fail the attempt.
struct StepError {
  protocol::ErrorObject error;
};

class MiniSdk {
 public:
  MiniSdk(const protocol::Invocation& invocation, CheckpointClient& client)
      : state_(std::make_shared<State>()) {
    state_->client = &client;
    state_->arn = invocation.durable_execution_arn;
    state_->token = invocation.checkpoint_token;
    Absorb(invocation.initial_state.operations);
    std::string marker = invocation.initial_state.next_marker;
    while (!marker.empty()) {
      auto page = client.GetState(state_->arn, state_->token, marker);
      if (!page.ok()) throw CheckpointFailure{page.error()};
      Absorb(page->operations);
      marker = page->next_marker;
    }
  }

  const std::string& input() const { return state_->input; }
  const std::string& arn() const { return state_->arn; }
  int checkpoints() const { return state_->checkpoints; }
  const protocol::Operation* Find(const std::string& id) const {
    auto it = state_->ops.find(id);
    return it == state_->ops.end() ? nullptr : &it->second;
  }

  // Sends one checkpoint; returns the operations it changed.
  std::vector<protocol::Operation> Checkpoint(std::vector<protocol::OperationUpdate> updates) {
    protocol::CheckpointRequest request;
    request.checkpoint_token = state_->token;
    request.updates = std::move(updates);
    auto response = state_->client->Checkpoint(state_->arn, request);
    if (!response.ok()) throw CheckpointFailure{response.error()};
    ++state_->checkpoints;
    state_->token = response->checkpoint_token.value_or("");
    Absorb(response->new_state.operations);
    return response->new_state.operations;
  }

  // A STEP: returns its result; runs `fn` when it has none yet. A throwing
  // attempt is retried (RETRY, `retry_delay_seconds`) until `max_attempts`.
  std::string Step(const std::string& name, const std::function<std::string()>& fn,
                   int max_attempts = 1, int64_t retry_delay_seconds = 1,
                   const std::string& sub_type = "Step") {
    const std::string id = NextId();
    const protocol::Operation* op = Find(id);
    if (op) {
      switch (op->status) {
        case protocol::OperationStatus::kSucceeded:
          return op->result.value_or("");
        case protocol::OperationStatus::kFailed:
          throw StepFailure{op->error.value_or(protocol::ErrorObject{})};
        case protocol::OperationStatus::kPending:
          throw Suspend{};
        default:
          break;
      }
    }
    if (!op || op->status == protocol::OperationStatus::kReady) {
      Checkpoint({Update(id, name, protocol::OperationType::kStep, sub_type,
                         protocol::OperationAction::kStart)});
    }
    const int attempt = Find(id)->attempt.value_or(0) + 1;
    std::optional<protocol::ErrorObject> failure;
    std::string result;
    try {
      result = fn();
    } catch (const StepError& e) {
      failure = e.error;
    } catch (const std::exception& e) {
      failure = protocol::ErrorObject{"Error", e.what(), std::nullopt, {}};
    }
    if (!failure) {
      auto u = Update(id, name, protocol::OperationType::kStep, sub_type,
                      protocol::OperationAction::kSucceed);
      u.payload = result;
      Checkpoint({u});
      return result;
    }
    if (attempt < max_attempts) {
      auto u = Update(id, name, protocol::OperationType::kStep, sub_type,
                      protocol::OperationAction::kRetry);
      u.error = failure;
      u.next_attempt_delay_seconds = retry_delay_seconds;
      Checkpoint({u});
      throw Suspend{};
    }
    auto u = Update(id, name, protocol::OperationType::kStep, sub_type,
                    protocol::OperationAction::kFail);
    u.error = failure;
    Checkpoint({u});
    throw StepFailure{*failure};
  }

  // A WAIT of `seconds`.
  void Wait(int64_t seconds, const std::optional<std::string>& name = std::nullopt) {
    const std::string id = NextId();
    const protocol::Operation* op = Find(id);
    if (op && op->status == protocol::OperationStatus::kSucceeded) return;
    if (op) throw Suspend{};
    auto u =
        Update(id, name, protocol::OperationType::kWait, "Wait", protocol::OperationAction::kStart);
    u.wait_seconds = seconds;
    Checkpoint({u});
    throw Suspend{};
  }

  // Creates a CALLBACK (if this invocation is the first to reach it) and
  // returns (operation id, callback id); does not wait for it.
  std::pair<std::string, std::string> CreateCallback(const std::optional<std::string>& name,
                                                     int64_t timeout_seconds = 0,
                                                     int64_t heartbeat_seconds = 0) {
    const std::string id = NextId();
    if (!Find(id)) {
      auto u = Update(id, name, protocol::OperationType::kCallback, "Callback",
                      protocol::OperationAction::kStart);
      if (timeout_seconds) u.callback_timeout_seconds = timeout_seconds;
      if (heartbeat_seconds) u.callback_heartbeat_timeout_seconds = heartbeat_seconds;
      Checkpoint({u});
    }
    const protocol::Operation* op = Find(id);
    return {id, op && op->callback_id ? *op->callback_id : std::string()};
  }

  // The result of CALLBACK `op_id`; suspends while it is open.
  std::string AwaitCallback(const std::string& op_id) {
    const protocol::Operation* op = Find(op_id);
    if (!op || op->status == protocol::OperationStatus::kStarted) throw Suspend{};
    if (op->status == protocol::OperationStatus::kSucceeded) return op->result.value_or("");
    throw StepFailure{op->error.value_or(protocol::ErrorObject{})};
  }

  // CreateCallback then AwaitCallback; `on_created` sees the callback id
  // when this invocation created it.
  std::string Callback(const std::optional<std::string>& name, int64_t timeout_seconds = 0,
                       int64_t heartbeat_seconds = 0,
                       const std::function<void(const std::string&)>& on_created = {}) {
    const bool is_new = !Find(PeekId());
    auto [op_id, callback_id] = CreateCallback(name, timeout_seconds, heartbeat_seconds);
    if (is_new && on_created) on_created(callback_id);
    return AwaitCallback(op_id);
  }

  // A CONTEXT running `fn` with its own child ids.
  std::string ChildContext(const std::string& name, const std::function<std::string(MiniSdk&)>& fn,
                           const std::string& sub_type = "RunInChildContext") {
    const std::string id = NextId();
    const protocol::Operation* op = Find(id);
    if (op && op->status == protocol::OperationStatus::kSucceeded) return op->result.value_or("");
    if (op && op->status == protocol::OperationStatus::kFailed) {
      throw StepFailure{op->error.value_or(protocol::ErrorObject{})};
    }
    if (!op) {
      Checkpoint({Update(id, name, protocol::OperationType::kContext, sub_type,
                         protocol::OperationAction::kStart)});
    }
    MiniSdk child(state_, id);
    std::string result;
    try {
      result = fn(child);
    } catch (const StepFailure& f) {
      auto u = Update(id, name, protocol::OperationType::kContext, sub_type,
                      protocol::OperationAction::kFail);
      u.error = f.error;
      Checkpoint({u});
      throw;
    }
    auto u = Update(id, name, protocol::OperationType::kContext, sub_type,
                    protocol::OperationAction::kSucceed);
    u.payload = result;
    Checkpoint({u});
    return result;
  }

  // A polling STEP (SubType WaitForCondition): `check` maps the state to
  // (new state, done); not done → RETRY with the state as payload.
  std::string WaitForCondition(
      const std::string& initial_state,
      const std::function<std::pair<std::string, bool>(const std::string&)>& check,
      int64_t delay_seconds) {
    const std::string id = NextId();
    const protocol::Operation* op = Find(id);
    if (op && op->status == protocol::OperationStatus::kSucceeded) return op->result.value_or("");
    if (op && op->status == protocol::OperationStatus::kPending) throw Suspend{};
    std::string state = op && op->result ? *op->result : initial_state;
    if (!op || op->status == protocol::OperationStatus::kReady) {
      Checkpoint({Update(id, std::nullopt, protocol::OperationType::kStep, "WaitForCondition",
                         protocol::OperationAction::kStart)});
    }
    auto [next, done] = check(state);
    if (done) {
      auto u = Update(id, std::nullopt, protocol::OperationType::kStep, "WaitForCondition",
                      protocol::OperationAction::kSucceed);
      u.payload = next;
      Checkpoint({u});
      return next;
    }
    auto u = Update(id, std::nullopt, protocol::OperationType::kStep, "WaitForCondition",
                    protocol::OperationAction::kRetry);
    u.payload = next;
    u.next_attempt_delay_seconds = delay_seconds;
    Checkpoint({u});
    throw Suspend{};
  }

  // The update an SDK would send for operation `id` of this context.
  protocol::OperationUpdate Update(const std::string& id, const std::optional<std::string>& name,
                                   protocol::OperationType type, const std::string& sub_type,
                                   protocol::OperationAction action) const {
    protocol::OperationUpdate u;
    u.id = id;
    if (name && !name->empty()) u.name = name;
    u.type = type;
    u.sub_type = sub_type;
    u.action = action;
    if (!parent_.empty()) u.parent_id = parent_;
    return u;
  }

  std::string PeekId() const {
    return parent_.empty() ? std::to_string(counter_ + 1)
                           : parent_ + "-" + std::to_string(counter_ + 1);
  }

  std::string NextId() {
    ++counter_;
    return parent_.empty() ? std::to_string(counter_) : parent_ + "-" + std::to_string(counter_);
  }

 private:
  struct State {
    CheckpointClient* client = nullptr;
    std::string arn;
    std::string token;
    std::string input;
    std::map<std::string, protocol::Operation> ops;
    int checkpoints = 0;
  };

  MiniSdk(std::shared_ptr<State> state, std::string parent)
      : state_(std::move(state)), parent_(std::move(parent)) {}

  void Absorb(const std::vector<protocol::Operation>& ops) {
    for (const auto& op : ops) {
      if (op.type == protocol::OperationType::kExecution && op.input_payload)
        state_->input = *op.input_payload;
      state_->ops[op.id] = op;
    }
  }

  std::shared_ptr<State> state_;
  std::string parent_;
  int counter_ = 0;
};

// Runs a handler as the engine would: its return value is the result;
// Suspend → PENDING; an uncaught StepFailure → FAILED; a failed checkpoint
// → per ClassifyError (stale token and retryable: the invocation fails;
// permanent: FAILED).
class ScriptedInvoker final : public Invoker {
 public:
  using Handler = std::function<std::string(MiniSdk&)>;
  explicit ScriptedInvoker(Handler handler) : handler_(std::move(handler)) {}

  Result<protocol::InvocationOutput> Invoke(const protocol::Invocation& invocation,
                                            CheckpointClient& client) override {
    ++invocations;
    protocol::InvocationOutput out;
    try {
      MiniSdk sdk(invocation, client);
      out.result = handler_(sdk);
      out.status = protocol::InvocationStatus::kSucceeded;
    } catch (const Suspend&) {
      out.status = protocol::InvocationStatus::kPending;
    } catch (const StepFailure& f) {
      out.status = protocol::InvocationStatus::kFailed;
      out.error = f.error;
    } catch (const CheckpointFailure& f) {
      if (ClassifyError(f.error) != ErrorClass::kPermanent) return f.error;
      out.status = protocol::InvocationStatus::kFailed;
      out.error = protocol::ErrorObject{"CheckpointError", f.error.message, std::nullopt, {}};
    }
    return out;
  }

  std::atomic<int> invocations{0};

 private:
  Handler handler_;
};

}  // namespace cairn::backend::local::testing
