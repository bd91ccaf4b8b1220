// Actions: the step kinds that do something in the world (dynamodb.*,
// ecs.*, lambda.invoke, http.request, process.run), behind one interface.
//
// The engine renders a step's parameters (evaluates its expressions), then
// asks an ActionRunner to run the action once: one attempt. Retries, timeouts
// of the whole step, checkpoints and replay are the engine's business; an
// action only reports what happened in this attempt.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>

#include "core/duration.h"

namespace cairn::actions {

struct ActionRequest {
  std::string type;                 // "process.run"
  nlohmann::json params;            // rendered: no expressions left
  std::string operation_id;         // stable across attempts: material for idempotency tokens
  int attempt = 1;                  // 1 for the first attempt
  std::optional<Duration> timeout;  // the step's `timeout:`, if any
  std::string workflow_dir;         // folder of the workflow file (relative paths)
  // The durable execution's ARN: with operation_id, names this step of this
  // execution (operation ids repeat across executions of one workflow), so
  // actions derive idempotency tokens from both.
  std::string execution_arn;
};

// A workflow error: {error, message, data} (LANGUAGE.md › Errors). Names are
// dotted, e.g. "Process.ExitCode", "Cairn.Timeout", "Cairn.Transient".
struct WorkflowError {
  std::string name;
  std::string message;
  nlohmann::json data;  // null when there is none
};

struct ActionOutcome {
  bool ok = true;
  nlohmann::json result;  // when ok
  WorkflowError error;    // when !ok

  static ActionOutcome Success(nlohmann::json result) { return {true, std::move(result), {}}; }
  static ActionOutcome Failure(std::string name, std::string message, nlohmann::json data = nullptr) {
    return {false, nullptr, {std::move(name), std::move(message), std::move(data)}};
  }
};

// One kind of action. Implementations must be thread-safe: the engine may
// run several attempts of different steps at once.
class Action {
 public:
  virtual ~Action() = default;
  // Runs one attempt. Never throws; every failure is an ActionOutcome.
  virtual ActionOutcome Run(const ActionRequest& request) = 0;
};

// What the engine calls. Thread-safe.
class ActionRunner {
 public:
  virtual ~ActionRunner() = default;
  virtual ActionOutcome Run(const ActionRequest& request) = 0;
};

// An ActionRunner that dispatches on ActionRequest::type. An unknown type is
// the workflow error "Cairn.UnsupportedAction". Register before use; Run is
// thread-safe once registration is over.
class ActionRegistry final : public ActionRunner {
 public:
  void Register(std::string type, std::unique_ptr<Action> action);
  ActionOutcome Run(const ActionRequest& request) override;

 private:
  std::unordered_map<std::string, std::unique_ptr<Action>> actions_;
};

}  // namespace cairn::actions
