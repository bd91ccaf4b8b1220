// WorkflowCatalog: the Invoker of the CLI's local service. It maps a
// function (= workflow) name to the compiled Engine of that workflow.
//
// Workflows are added explicitly (Add: `cairn run FILE`, `cairn serve
// --workflows DIR`) or found lazily: an invocation for a name the catalog
// does not know looks the name up in the registry file next to the store
// (local_state.h, workflows.json), then validates, compiles and keeps it.
// When the name is not registered, the file is gone, it no longer
// validates, its name no longer matches, or its params cannot be resolved,
// the invocation fails with an Error saying so (the service retries it
// later and finally fails the execution with that error).
//
// Actions: one ActionRegistry with process.run (PosixProcessRunner) and the
// AWS actions (actions/aws_actions.h: region, endpoints and credentials from
// the environment); other action types fail with Cairn.UnsupportedAction.
//
// Thread-safety: Add and Invoke are thread-safe.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "actions/action.h"
#include "actions/process_runner.h"
#include "backend/durable_backend.h"
#include "engine/engine.h"

namespace cairn::cli {

// A live step event of execution `arn` (engine::StepEvent).
using EventSink = std::function<void(const std::string& arn, const engine::StepEvent&)>;

class WorkflowCatalog final : public backend::Invoker {
 public:
  // `store_path` locates the registry; `on_event` may be empty.
  WorkflowCatalog(std::string store_path, EventSink on_event);
  ~WorkflowCatalog() override;

  // Validates and compiles `file` and adds it under its workflow name
  // (replacing an earlier one). Returns the name. Errors: "validate" (the
  // message lists the first error), "compile", "params" (a required
  // variable is not set; the message names it).
  Result<std::string> Add(const std::string& file);

  Result<protocol::InvocationOutput> Invoke(const protocol::Invocation& invocation,
                                            backend::CheckpointClient& client) override;

 private:
  Result<std::shared_ptr<engine::Engine>> Find(const std::string& name);
  Result<std::shared_ptr<engine::Engine>> Load(const std::string& file);

  const std::string store_path_;
  EventSink on_event_;
  actions::PosixProcessRunner runner_;
  actions::ActionRegistry actions_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<engine::Engine>> engines_;  // guarded by mu_
};

// The function (workflow) name in an execution ARN
// (…:function:<name>:$LATEST/durable-execution/…); "" when there is none.
std::string FunctionNameOfArn(const std::string& arn);

}  // namespace cairn::cli
