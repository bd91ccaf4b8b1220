#include "cli/workflow_catalog.h"

#include "actions/aws_actions.h"
#include "actions/process_action.h"
#include "cli/environment.h"
#include "cli/local_state.h"
#include "compile/compile.h"
#include "validate/validate.h"

namespace cairn::cli {
namespace {

thread_local const std::string* current_arn = nullptr;

}  // namespace

std::string FunctionNameOfArn(const std::string& arn) {
  auto parts = protocol::ParseExecutionArn(arn);
  return parts ? std::string(parts->function) : "";
}

WorkflowCatalog::WorkflowCatalog(std::string store_path, EventSink on_event)
    : store_path_(std::move(store_path)), on_event_(std::move(on_event)) {
  actions_.Register("process.run", std::make_unique<actions::ProcessAction>(runner_));
  actions::RegisterDefaultAwsActions(
      actions_, [](std::string_view name) { return GetEnv(std::string(name)); },
      SystemClock::Instance());
}

WorkflowCatalog::~WorkflowCatalog() = default;

Result<std::shared_ptr<engine::Engine>> WorkflowCatalog::Load(const std::string& file) {
  ValidationResult r = ValidateFile(file);
  if (!r.ok()) {
    for (const auto& d : r.diagnostics) {
      if (d.is_error()) {
        return MakeError("validate", file + " no longer validates: " + d.location.ToString() +
                                         ": " + d.message);
      }
    }
    return MakeError("validate", file + " does not validate");
  }
  auto params = engine::ResolveParams(r.definition, &RawGetEnv);
  if (!params.ok()) return MakeError("params", file + ": " + params.error().ToString());
  auto definition = std::make_shared<const WorkflowDefinition>(std::move(r.definition));
  auto expressions = std::make_shared<const expr::ExpressionTable>(std::move(r.expressions));
  auto graph = CompileWorkflow(definition, expressions);
  if (!graph.ok()) return MakeError("compile", file + ": " + graph.error().ToString());
  engine::EngineOptions options;
  options.params = std::move(*params);
  // The local service records the end from the last checkpoint.
  options.end_in_last_checkpoint = true;
  if (on_event_) {
    options.on_event = [sink = on_event_](const engine::StepEvent& e) {
      sink(current_arn != nullptr ? *current_arn : std::string(), e);
    };
  }
  return std::make_shared<engine::Engine>(*graph, &actions_, std::move(options));
}

Result<std::string> WorkflowCatalog::Add(const std::string& file) {
  auto engine = Load(file);
  if (!engine.ok()) return engine.error();
  std::string name = (*engine)->graph().definition().name;
  std::lock_guard lock(mu_);
  engines_[name] = *engine;
  return name;
}

Result<std::shared_ptr<engine::Engine>> WorkflowCatalog::Find(const std::string& name) {
  {
    std::lock_guard lock(mu_);
    auto it = engines_.find(name);
    if (it != engines_.end()) return it->second;
  }
  auto registry = ReadRegistry(store_path_);
  auto it = registry.find(name);
  if (it == registry.end()) {
    return MakeError("catalog", "workflow '" + name + "' is not known: run it once with `cairn run FILE` "
                                "or pass `cairn serve --workflows DIR`");
  }
  auto engine = Load(it->second);
  if (!engine.ok()) return engine.error();
  std::string loaded = (*engine)->graph().definition().name;
  if (loaded != name) {
    return MakeError("catalog", it->second + " now defines workflow '" + loaded + "', not '" +
                                    name + "'");
  }
  std::lock_guard lock(mu_);
  return engines_.emplace(name, *engine).first->second;
}

Result<protocol::InvocationOutput> WorkflowCatalog::Invoke(const protocol::Invocation& invocation,
                                                           backend::CheckpointClient& client) {
  auto engine = Find(FunctionNameOfArn(invocation.durable_execution_arn));
  if (!engine.ok()) return engine.error();
  current_arn = &invocation.durable_execution_arn;
  auto out = (*engine)->Invoke(invocation, client);
  current_arn = nullptr;
  return out;
}

}  // namespace cairn::cli
