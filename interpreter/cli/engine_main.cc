// cairn-engine — the executable that runs every cairn command, the
// execution commands (run, serve, callback, list, show, history, stop,
// lambda) among them. Users type `cairn`: the front end (main.cc) runs
// validate and graph itself and execs this executable, with the same argv,
// for the others (engine_locator.h says why there are two).
//
// It takes the same command line as `cairn` (cli_app.h) and can be run
// directly: the Lambda package ships it as bin/cairn.
#include "cli/cli_app.h"
#include "cli/environment.h"
#include "cli/exec_commands.h"
#include "cli/lambda_command.h"
#include "core/allocator_tuning.h"

int main(int argc, char** argv) {
  using cairn::cli::Command;
  cairn::TuneAllocatorForLongRuns(cairn::cli::GetEnv("GLIBC_TUNABLES").value_or(""));
  cairn::cli::CommandLine command_line;
  if (auto status = command_line.Parse(argc, argv)) return *status;
  const cairn::cli::CommandOptions& o = command_line.options();
  const cairn::Terminal term = cairn::cli::StandardTerminal();
  switch (command_line.command()) {
    case Command::kValidate:
    case Command::kGraph:
      return cairn::cli::RunOfflineCommand(command_line.command(), o, term);
    case Command::kRun:
      return cairn::cli::RunRun(o.run, term);
    case Command::kServe:
      return cairn::cli::RunServe(o.serve, term);
    case Command::kCallback:
      return cairn::cli::RunCallback(o.callback, term);
    case Command::kList:
      return cairn::cli::RunList(o.query, term);
    case Command::kShow:
      return cairn::cli::RunShow(o.query, term);
    case Command::kHistory:
      return cairn::cli::RunHistory(o.query, term);
    case Command::kStop:
      return cairn::cli::RunStop(o.query, term);
    case Command::kLambda:
      return cairn::cli::RunLambda(o.lambda, term);
  }
  return 2;
}
