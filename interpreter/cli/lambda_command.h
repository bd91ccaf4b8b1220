// `cairn lambda`: the AWS Lambda custom runtime (what the deployment's
// `bootstrap` runs). Reads the Lambda environment, then serves invocations
// of durable executions over the Runtime API until the Runtime API fails.
#pragma once

#include <string>

#include "cli/commands.h"

namespace cairn::cli {

struct LambdaCommand {
  std::string workflows_dir;     // default $LAMBDA_TASK_ROOT/workflows
  std::string default_workflow;  // default $_HANDLER (a trailing .yaml/.yml dropped)
  int64_t deadline_margin_ms = 2000;
  std::string endpoint;          // checkpoint API; default $AWS_ENDPOINT_URL_LAMBDA, else AWS
  int max_invocations = -1;      // tests, benchmarks
  bool quiet = false;            // no step log lines
  // Packaging: validate the workflows and write their manifest
  // (lambda/bundle_manifest.h), then exit; no Runtime API is needed.
  bool write_manifest = false;
};

// Exit status: 0 after --max-invocations, 1 when the Runtime API failed or
// start-up failed (reported to /runtime/init/error when the API is known),
// 2 when AWS_LAMBDA_RUNTIME_API is not set.
// With write_manifest: 0 when every workflow validated and the manifest was
// written, 1 otherwise (the ones that did not are named).
int RunLambda(const LambdaCommand& cmd, const Terminal& term);

}  // namespace cairn::cli
