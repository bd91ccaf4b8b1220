// cairn — a durable interpreter for declarative workflows.
//
// This is the front end, the executable users type: it parses every command
// (cli_app.h: the same help, version and usage errors as the engine), runs
// validate and graph itself, and execs cairn-engine with the same argv for
// the execution commands. It links only what validate and graph need — no
// libcurl, OpenSSL, SQLite or cpp-httplib — so that it starts in a few
// milliseconds instead of the ~32 ms the loader spends on the engine's 44
// libraries (engine_locator.h).
#include <iostream>

#include "cli/cli_app.h"
#include "cli/engine_locator.h"

int main(int argc, char** argv) {
  cairn::cli::CommandLine command_line;
  if (auto status = command_line.Parse(argc, argv)) return *status;
  if (cairn::cli::IsOfflineCommand(command_line.command())) {
    return cairn::cli::RunOfflineCommand(command_line.command(), command_line.options(),
                                         cairn::cli::StandardTerminal());
  }
  return cairn::cli::ExecEngine(argv, std::cerr);
}
