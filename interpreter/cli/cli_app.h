// The command line of `cairn`: every subcommand with its options and help
// texts, defined once and shared by cairn's two executables (README.md of
// interpreter/, "cli/"):
//
//  * `cairn` (main.cc), the front end: runs validate and graph itself and
//    hands every other command to the engine executable (engine_locator.h);
//  * `cairn-engine` (engine_main.cc): runs every command.
//
// Both parse with the same CommandLine, so help, version and usage errors
// are the same whichever executable prints them, and the front end hands the
// engine only command lines that parse.
//
// This file and cli_app.cc link no execution code: exec_commands.h and
// lambda_command.h are included for their option structs only.
//
// Thread-safety: a CommandLine is used by one thread (main's).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/commands.h"
#include "cli/exec_commands.h"
#include "cli/lambda_command.h"

namespace CLI {
class App;
}  // namespace CLI

namespace cairn::cli {

enum class Command {
  kValidate,
  kGraph,
  kRun,
  kServe,
  kCallback,
  kList,
  kShow,
  kHistory,
  kStop,
  kLambda,
};

// True for the commands that only read workflow files (validate, graph):
// the ones the front end runs itself, without SQLite, libcurl or OpenSSL.
bool IsOfflineCommand(Command command);

// The values of every option, filled by CommandLine::Parse. Only the fields
// of the selected command are meaningful.
struct CommandOptions {
  std::vector<std::string> validate_files;
  OutputFormat validate_format = OutputFormat::kText;
  bool validate_quiet = false;

  std::string graph_file;
  GraphFormat graph_format = GraphFormat::kMermaid;

  RunCommand run;
  ServeCommand serve;
  CallbackCommand callback;  // .action: succeed | fail | heartbeat
  QueryCommand query;        // list, show, history, stop
  LambdaCommand lambda;
};

class CommandLine {
 public:
  // Defines the top-level command (its help, version flag and footer).
  CommandLine();
  ~CommandLine();
  CommandLine(const CommandLine&) = delete;
  CommandLine& operator=(const CommandLine&) = delete;

  // Defines the subcommands — only the one argv[1] names, when it names
  // one — and parses argv (argv[0] is not used: messages always say
  // "cairn"). Call once.
  // Returns nullopt when a command was selected (command() and options()
  // then say which, with what); else the process should exit with the
  // returned status now: 0 after printing help or the version, 2 after a
  // usage error (printed on stderr).
  std::optional<int> Parse(int argc, char** argv);

  // REQUIRES: Parse returned nullopt.
  Command command() const { return command_; }
  const CommandOptions& options() const { return options_; }

 private:
  struct Subcommands;  // the CLI::App of each command, owned by app_

  // Defines the subcommand named `only`, or every one when it is empty.
  void DefineCommands(std::string_view only);

  CommandOptions options_;
  // Raw strings of the enum options, converted by Parse.
  std::string validate_format_ = "text";
  std::string graph_format_ = "mermaid";
  std::string query_format_ = "text";

  std::unique_ptr<CLI::App> app_;
  std::unique_ptr<Subcommands> subcommands_;
  Command command_ = Command::kValidate;
};

// Runs validate or graph (the commands IsOfflineCommand accepts) and returns
// the exit status. REQUIRES: IsOfflineCommand(command).
int RunOfflineCommand(Command command, const CommandOptions& options, const Terminal& term);

// The terminal of a command: std::cout / std::cerr, colored when stdout is a
// terminal and NO_COLOR is unset.
Terminal StandardTerminal();

}  // namespace cairn::cli
