#include "cli/lambda_command.h"

#include <iostream>
#include <memory>

#include "actions/aws_actions.h"
#include "actions/process_action.h"
#include "actions/process_runner.h"
#include "aws/httplib_http_client.h"
#include "backend/lambda/lambda_checkpoint_client.h"
#include "cli/environment.h"
#include "cli/version.h"
#include "lambda/bundle_manifest.h"
#include "lambda/durable_handler.h"
#include "lambda/runtime_loop.h"

namespace cairn::cli {
namespace {

std::string Or(std::optional<std::string> v, std::string fallback) {
  return v && !v->empty() ? *v : std::move(fallback);
}

std::string DropYamlExtension(std::string name) {
  for (const char* ext : {".yaml", ".yml"}) {
    std::string e = ext;
    if (name.size() > e.size() && name.compare(name.size() - e.size(), e.size(), e) == 0) {
      return name.substr(0, name.size() - e.size());
    }
  }
  return name;
}

// A handler that only reports a start-up problem found before the real one
// could be built (no region, no credentials).
class InitFailure final : public lambda::InvocationHandler {
 public:
  explicit InitFailure(Error e) : error_(std::move(e)) {}
  Status Init() override { return error_; }
  lambda::HandlerReply Handle(const lambda::NextInvocation&) override { return {}; }

 private:
  Error error_;
};

}  // namespace

int RunLambda(const LambdaCommand& cmd, const Terminal& term) {
  const std::string workflows_dir = !cmd.workflows_dir.empty()
                                        ? cmd.workflows_dir
                                        : Or(GetEnv("LAMBDA_TASK_ROOT"), ".") + "/workflows";
  const std::string build = std::string("cairn ") + kVersion;
  if (cmd.write_manifest) {
    auto report = lambda::WriteBundleManifest(workflows_dir, build);
    if (!report.ok()) {
      *term.err << "cairn lambda: " << report.error().ToString() << '\n';
      return 1;
    }
    for (const std::string& name : report->invalid) {
      *term.err << "cairn lambda: " << workflows_dir << '/' << name
                << " does not validate (`cairn validate` shows why): not in the manifest\n";
    }
    *term.out << workflows_dir << '/' << lambda::kManifestFileName << ": "
              << report->listed.size() << " of "
              << report->listed.size() + report->invalid.size() << " workflows\n";
    return report->invalid.empty() ? 0 : 1;
  }
  auto runtime_api = GetEnv("AWS_LAMBDA_RUNTIME_API");
  if (!runtime_api || runtime_api->empty()) {
    *term.err << "cairn lambda: AWS_LAMBDA_RUNTIME_API is not set: this command is the Lambda "
                 "runtime (run it as the function's bootstrap)\n";
    return 2;
  }
  // Lambda collects stdout/stderr; one line per event.
  auto log = [&term](const std::string& line) { *term.err << line << '\n' << std::flush; };

  // The Runtime API and checkpoint calls go through cpp-httplib, which the
  // engine links anyway: libcurl (and its ~25 libraries) is loaded only if a
  // workflow makes an AWS action, by that action's first call (the actions'
  // CurlHttpClient loads it on first Send), so it stays off the cold start.
  std::shared_ptr<aws::HttpClient> http =
      aws::MakeHttplibHttpClient([](std::string_view name) { return GetEnv(std::string(name)); });
  lambda::HttpRuntimeApi api(*http, *runtime_api);
  lambda::RuntimeLoopOptions loop_options;
  loop_options.max_invocations = cmd.max_invocations;
  loop_options.log = log;

  std::string region = Or(GetEnv("AWS_REGION"), Or(GetEnv("AWS_DEFAULT_REGION"), ""));
  auto key_id = GetEnv("AWS_ACCESS_KEY_ID");
  auto secret = GetEnv("AWS_SECRET_ACCESS_KEY");
  Error problem;
  if (region.empty()) {
    problem = MakeError("Runtime.Configuration", "AWS_REGION is not set");
  } else if (!key_id || key_id->empty() || !secret || secret->empty()) {
    problem = MakeError("Runtime.Configuration",
                        "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY are not set (the execution "
                        "role's credentials)");
  }
  if (!problem.code.empty()) {
    InitFailure failure(problem);
    (void)lambda::RunRuntimeLoop(api, failure, loop_options);
    return 1;
  }

  backend::lambda::LambdaCheckpointClientOptions client_options;
  client_options.region = region;
  client_options.endpoint =
      !cmd.endpoint.empty()
          ? cmd.endpoint
          : Or(GetEnv("AWS_ENDPOINT_URL_LAMBDA"),
               Or(GetEnv("AWS_ENDPOINT_URL"), backend::lambda::DefaultLambdaEndpoint(region)));
  client_options.credentials =
      aws::Credentials(*key_id, *secret, Or(GetEnv("AWS_SESSION_TOKEN"), ""));
  backend::lambda::LambdaCheckpointClient client(*http, std::move(client_options));

  actions::PosixProcessRunner runner;
  actions::ActionRegistry registry;
  registry.Register("process.run", std::make_unique<actions::ProcessAction>(runner));
  actions::RegisterDefaultAwsActions(
      registry, [](std::string_view name) { return GetEnv(std::string(name)); },
      SystemClock::Instance());

  lambda::DurableHandlerOptions options;
  options.workflows_dir = workflows_dir;
  options.build = build;
  options.default_workflow =
      DropYamlExtension(!cmd.default_workflow.empty() ? cmd.default_workflow : Or(GetEnv("_HANDLER"), ""));
  options.actions = &registry;
  options.client = &client;
  options.deadline_margin_ms = cmd.deadline_margin_ms;
  options.lookup_env = &RawGetEnv;
  if (!cmd.quiet) options.log = log;
  lambda::DurableHandler handler(options);
  auto s = lambda::RunRuntimeLoop(api, handler, loop_options);
  return s.ok() ? 0 : 1;
}

}  // namespace cairn::cli
