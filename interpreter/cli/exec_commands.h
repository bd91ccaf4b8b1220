// The execution subcommands of `cairn`: run, serve, callback, list, show,
// history, stop. Each returns the process exit status: 0 success, 1
// failure (the execution failed, a callback was refused, the store is
// unavailable), 2 usage (bad arguments), 130 interrupted (Ctrl-C).
//
// Every command finds the store with ResolveStorePath (local_state.h). A
// running server (`cairn run`, `cairn serve`) holds the store exclusively
// and announces its port in the server file; the other commands then go
// through its HTTP API, else they open the store directly.
#pragma once

#include <string>

#include "cli/commands.h"

namespace cairn::cli {

struct RunCommand {
  std::string file;
  std::string input = "{}";  // JSON text, or @file
  std::string name;          // execution name; random when empty
  std::string store;         // --store; empty = default
  int port = 0;              // 0 = any free port
};
// Runs FILE in the foreground until its execution ends (0 SUCCEEDED, 1
// otherwise) or Ctrl-C (130, the execution is kept for `cairn serve`).
int RunRun(const RunCommand& cmd, const Terminal& term);

struct ServeCommand {
  std::string store;
  int port = 0;
  std::string workflows_dir;  // every *.yaml / *.yml in it is added
  bool no_batch_scheduling = false;  // core/scheduling.h
};
// Drives every pending execution of the store until Ctrl-C (exit 130... as
// a normal end: 0).
int RunServe(const ServeCommand& cmd, const Terminal& term);

struct CallbackCommand {
  std::string action;  // succeed | fail | heartbeat
  std::string id;
  std::string result = "null";  // JSON text, @file or - (stdin)
  std::string error_name = "Error";
  std::string message;
  std::string store;
};
int RunCallback(const CallbackCommand& cmd, const Terminal& term);

struct QueryCommand {
  std::string store;
  std::string execution;  // ARN or execution name
  std::string workflow;   // list: only this workflow
  std::string status;     // list: only this status
  OutputFormat format = OutputFormat::kText;
};
int RunList(const QueryCommand& cmd, const Terminal& term);
int RunShow(const QueryCommand& cmd, const Terminal& term);
int RunHistory(const QueryCommand& cmd, const Terminal& term);
int RunStop(const QueryCommand& cmd, const Terminal& term);

}  // namespace cairn::cli
