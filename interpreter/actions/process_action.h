// process.run: runs a local process (the embedded stand-in for a container
// task) through a ProcessRunner.
//
// Parameters (schema/workflow.schema.json › process.run), checked again
// here because expressions produce them:
//   command      a list (argv, no shell) or a string (run by /bin/sh -c)
//   env          extra variables; strings as they are, other values but null
//                as compact JSON. cairn's own environment is inherited.
//   cwd          working directory; relative to the workflow's folder, which
//                is also the default
//   stdin        text, or any other JSON value written compactly
//   parseOutput  "text" (default) or "json"
//   detach       start the process and return at once with {pid}
// The step's `timeout:` bounds the process (SIGTERM to its process group,
// SIGKILL after a grace period).
//
// Result: {exitCode, stdout, stderr} (stdout parsed when parseOutput is
// json; text is valid UTF-8, invalid bytes replaced by U+FFFD, and output
// beyond the cap ends with a "[cairn: ... truncated ...]" marker), or {pid}
// when detached. Workflow errors:
//   Cairn.InvalidParameters  a parameter has the wrong type or value
//   Process.SpawnFailed      the program or the directory is missing, ...
//   Process.ExitCode         "exited with status N: <last line of stderr>",
//                            data {exitCode, stdout, stderr} (tails)
//   Process.Signal           killed by a signal, data {signal, signalNumber,
//                            stdout, stderr}
//   Process.InvalidOutput    parseOutput is json and stdout is not JSON
//   Cairn.Timeout            the step's timeout passed; data {stdout, stderr}
#pragma once

#include <cstddef>

#include "actions/action.h"
#include "actions/process_runner.h"
#include "core/duration.h"

namespace cairn::actions {

struct ProcessActionOptions {
  size_t max_output_bytes = size_t{1} << 20;   // kept of stdout and of stderr, each
  Duration kill_grace = Duration::Seconds(2);  // between SIGTERM and SIGKILL
};

class ProcessAction final : public Action {
 public:
  // `runner` must outlive the action.
  explicit ProcessAction(ProcessRunner& runner, ProcessActionOptions options = {})
      : runner_(runner), options_(options) {}

  // Thread-safe when the runner is.
  ActionOutcome Run(const ActionRequest& request) override;

 private:
  ProcessRunner& runner_;
  const ProcessActionOptions options_;
};

}  // namespace cairn::actions
