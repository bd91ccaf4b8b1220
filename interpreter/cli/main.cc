// cairn — a durable interpreter for declarative workflows.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>
#include <map>

#include "cli/commands.h"
#include "cli/environment.h"
#include "cli/exec_commands.h"
#include "cli/lambda_command.h"
#include "cli/version.h"

namespace {

constexpr const char* kDescription =
    "cairn — a durable interpreter for declarative workflows.\n\n"
    "Write a workflow in YAML, check it offline, and run it durably: every step is a\n"
    "checkpoint, so an execution survives crashes and can wait for hours or days.\n";

constexpr const char* kFooter =
    "\nExamples:\n"
    "  cairn validate workflows/*.yaml          check workflows offline\n"
    "  cairn validate --format json w.yaml      machine-readable diagnostics for CI\n"
    "  cairn graph workflows/ecs-poll.yaml      the compiled step graph (Mermaid)\n"
    "  cairn graph --format dot w.yaml | dot -Tsvg > w.svg\n"
    "  cairn run workflows/local-callback.yaml --input '{\"message\": \"hi there\"}'\n"
    "  cairn callback succeed ID --result '{\"ok\": true}'\n"
    "  cairn serve                              resume pending executions (timers, callbacks)\n"
    "  cairn list --status RUNNING              executions in the store\n"
    "  cairn history NAME                       one line per event of an execution\n\n"
    "Store: --store PATH, else $CAIRN_STORE, else $XDG_STATE_HOME/cairn/cairn.db, else\n"
    "~/.local/state/cairn/cairn.db.\n"
    "Exit status: 0 success, 1 failure (workflow errors, failed execution), 2 usage error,\n"
    "130 interrupted.\n"
    "Language reference: schema/workflow.schema.json and README.md.";

bool ColorWanted(int fd) { return isatty(fd) && !cairn::cli::GetEnv("NO_COLOR"); }

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{kDescription, "cairn"};
  app.footer(kFooter);
  app.set_version_flag("-V,--version", std::string("cairn ") + cairn::kVersion);
  app.require_subcommand(1);
  app.get_formatter()->column_width(36);

  std::vector<std::string> files;
  std::string format = "text";
  bool quiet = false;
  auto* validate = app.add_subcommand("validate", "Check workflows offline: schema, names, "
                                                  "references, reachability, expressions, "
                                                  "action parameters");
  validate->add_option("files", files, "Workflow files (YAML)")->required()->check(CLI::ExistingFile);
  validate->add_option("--format", format, "Output: text (default) or json")
      ->check(CLI::IsMember({"text", "json"}));
  validate->add_flag("-q,--quiet", quiet, "Print only problems");

  std::string graph_file;
  std::string graph_format = "mermaid";
  auto* graph = app.add_subcommand("graph", "Show the compiled step graph with each step's "
                                            "durable operation");
  graph->add_option("file", graph_file, "Workflow file (YAML)")->required()->check(CLI::ExistingFile);
  graph->add_option("--format", graph_format, "mermaid (default) or dot")
      ->check(CLI::IsMember({"mermaid", "dot"}));

  constexpr const char* kStoreHelp = "Store file (default: $CAIRN_STORE, $XDG_STATE_HOME/cairn/cairn.db or ~/.local/state/cairn/cairn.db)";

  cairn::cli::RunCommand run_cmd;
  auto* run = app.add_subcommand("run", "Run a workflow in the foreground until its execution ends");
  run->add_option("file", run_cmd.file, "Workflow file (YAML)")->required()->check(CLI::ExistingFile);
  run->add_option("--input", run_cmd.input, "Input: JSON text, or @file (default {})");
  run->add_option("--name", run_cmd.name, "Execution name (default: a random UUID); "
                                          "running a name again resumes it");
  run->add_option("--port", run_cmd.port, "Port of the local HTTP API on 127.0.0.1 (0 = any free)")
      ->check(CLI::Range(0, 65535));
  run->add_option("--store", run_cmd.store, kStoreHelp);
  run->footer(
      "\nShows each step as it starts and ends, prints callback ids with the command that\n"
      "completes them, then the result (JSON, on stdout). Ctrl-C keeps the execution in the\n"
      "store: `cairn serve` resumes it. Processes started by the workflow get CAIRN_ENDPOINT,\n"
      "CAIRN_STORE and CAIRN_BIN, so `cairn callback` reaches this run.\n\n"
      "Examples:\n"
      "  cairn run workflows/local-callback.yaml --input '{\"message\": \"hello world\"}'\n"
      "  cairn run order.yaml --input @order.json --name order-7\n\n"
      "Exit status: 0 SUCCEEDED, 1 FAILED/TIMED_OUT/STOPPED or workflow errors, 2 usage,\n"
      "130 interrupted.");

  cairn::cli::ServeCommand serve_cmd;
  auto* serve = app.add_subcommand("serve", "Drive every pending execution (timers, callbacks, "
                                            "resumes after a restart) until Ctrl-C");
  serve->add_option("--port", serve_cmd.port, "Port of the local HTTP API on 127.0.0.1 (0 = any free)")
      ->check(CLI::Range(0, 65535));
  serve->add_option("--workflows", serve_cmd.workflows_dir,
                    "Folder whose *.yaml workflows are served (besides those `cairn run` recorded)")
      ->check(CLI::ExistingDirectory);
  serve->add_option("--store", serve_cmd.store, kStoreHelp);
  serve->footer("\nExamples:\n"
                "  cairn serve\n"
                "  cairn serve --port 9000 --workflows workflows/\n"
                "  aws lambda send-durable-execution-callback-success --endpoint-url "
                "http://127.0.0.1:9000 --callback-id ID --result '\"ok\"'");

  cairn::cli::CallbackCommand cb_cmd;
  auto* callback = app.add_subcommand("callback", "Complete a callback: succeed, fail or heartbeat");
  callback->require_subcommand(1);
  callback->footer("\nThe running server (CAIRN_ENDPOINT, or the one holding the store) is used;\n"
                   "without one the store is updated directly.\n\n"
                   "Examples:\n"
                   "  cairn callback succeed ID --result '{\"approved\": true}'\n"
                   "  cairn callback succeed ID --result @result.json\n"
                   "  echo '{\"n\": 1}' | cairn callback succeed ID --result -\n"
                   "  cairn callback fail ID --error Rejected --message 'not today'\n"
                   "  cairn callback heartbeat ID\n\n"
                   "Exit status: 0 sent, 1 refused (unknown, expired or completed id), 2 usage.");
  auto* cb_succeed = callback->add_subcommand("succeed", "Complete the callback with a result");
  cb_succeed->add_option("id", cb_cmd.id, "Callback ID")->required();
  cb_succeed->add_option("--result", cb_cmd.result, "Result: JSON text, @file or - (stdin); default null");
  cb_succeed->add_option("--store", cb_cmd.store, kStoreHelp);
  auto* cb_fail = callback->add_subcommand("fail", "Fail the callback with an error");
  cb_fail->add_option("id", cb_cmd.id, "Callback ID")->required();
  cb_fail->add_option("--error", cb_cmd.error_name, "Error name (default Error)");
  cb_fail->add_option("--message", cb_cmd.message, "Error message");
  cb_fail->add_option("--store", cb_cmd.store, kStoreHelp);
  auto* cb_heartbeat = callback->add_subcommand("heartbeat", "Restart the callback's heartbeat timeout");
  cb_heartbeat->add_option("id", cb_cmd.id, "Callback ID")->required();
  cb_heartbeat->add_option("--store", cb_cmd.store, kStoreHelp);

  cairn::cli::QueryCommand query;
  std::string query_format = "text";
  auto* list = app.add_subcommand("list", "List executions (a table, newest last)");
  list->add_option("--workflow", query.workflow, "Only executions of this workflow");
  list->add_option("--status", query.status, "Only this status")
      ->check(CLI::IsMember({"RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "STOPPED"}));
  list->add_option("--format", query_format, "text (default) or json")
      ->check(CLI::IsMember({"text", "json"}));
  list->add_option("--store", query.store, kStoreHelp);
  list->footer("\nExamples:\n  cairn list\n  cairn list --workflow local-callback --status RUNNING");

  auto* show = app.add_subcommand("show", "Show one execution: status, times, input, result or error");
  show->add_option("execution", query.execution, "Execution ARN or name")->required();
  show->add_option("--format", query_format, "text (default) or json (GetDurableExecution)")
      ->check(CLI::IsMember({"text", "json"}));
  show->add_option("--store", query.store, kStoreHelp);
  show->footer("\nExamples:\n  cairn show order-7\n  cairn show --format json order-7 | jq .Result");

  auto* history = app.add_subcommand("history", "Show an execution's events, one per line");
  history->add_option("execution", query.execution, "Execution ARN or name")->required();
  history->add_option("--format", query_format,
                      "text (default) or json (GetDurableExecutionHistory events)")
      ->check(CLI::IsMember({"text", "json"}));
  history->add_option("--store", query.store, kStoreHelp);
  history->footer("\nExamples:\n  cairn history order-7\n  cairn history --format json order-7");

  auto* stop = app.add_subcommand("stop", "Stop a running execution (it ends STOPPED)");
  stop->add_option("execution", query.execution, "Execution ARN or name")->required();
  stop->add_option("--store", query.store, kStoreHelp);
  stop->footer("\nExample:\n  cairn stop order-7");

  cairn::cli::LambdaCommand lambda_cmd;
  auto* lambda = app.add_subcommand("lambda", "Serve durable executions as an AWS Lambda custom "
                                              "runtime (the function's bootstrap)");
  lambda->add_option("--workflows", lambda_cmd.workflows_dir,
                     "Folder of the bundled *.yaml workflows (default $LAMBDA_TASK_ROOT/workflows)");
  lambda->add_option("--default-workflow", lambda_cmd.default_workflow,
                     "Workflow run when the input names none (default $_HANDLER, the function's "
                     "Handler; a .yaml suffix is dropped)");
  lambda->add_option("--deadline-margin", lambda_cmd.deadline_margin_ms,
                     "Milliseconds before the invocation's deadline after which no step starts "
                     "(default 2000)")
      ->check(CLI::Range(0, 900000));
  lambda->add_option("--endpoint", lambda_cmd.endpoint,
                     "Checkpoint API endpoint (default $AWS_ENDPOINT_URL_LAMBDA, else "
                     "https://lambda.$AWS_REGION.amazonaws.com)");
  lambda->add_option("--max-invocations", lambda_cmd.max_invocations,
                     "Exit after this many invocations (tests, benchmarks; default: never)");
  lambda->add_flag("-q,--quiet", lambda_cmd.quiet, "No log line per step");
  lambda->footer(
      "\nEnvironment (set by Lambda): AWS_LAMBDA_RUNTIME_API (required), AWS_REGION,\n"
      "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN (checkpoint calls are\n"
      "SigV4-signed with them), LAMBDA_TASK_ROOT, _HANDLER.\n\n"
      "Input of an execution: {\"workflow\": NAME, \"input\": {...}} runs workflow NAME (the\n"
      "file NAME.yaml of the folder, or the workflow whose name: is NAME) with that input;\n"
      "any other input runs the default workflow with the whole input. A workflow that does\n"
      "not validate fails the execution with the validator's diagnostics.\n\n"
      "Example bootstrap:\n"
      "  exec \"$LAMBDA_TASK_ROOT/bin/cairn\" lambda --workflows \"$LAMBDA_TASK_ROOT/workflows\"\n\n"
      "Exit status: 0 after --max-invocations, 1 start-up or Runtime API failure, 2 not in Lambda.");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }

  cairn::Terminal term{&std::cout, &std::cerr, ColorWanted(STDOUT_FILENO)};
  if (*validate) {
    return cairn::RunValidate(files, format == "json" ? cairn::OutputFormat::kJson
                                                      : cairn::OutputFormat::kText,
                              quiet, term);
  }
  if (*graph) {
    return cairn::RunGraph(graph_file, graph_format == "dot" ? cairn::GraphFormat::kDot
                                                             : cairn::GraphFormat::kMermaid,
                           term);
  }
  if (*run) return cairn::cli::RunRun(run_cmd, term);
  if (*serve) return cairn::cli::RunServe(serve_cmd, term);
  if (*lambda) return cairn::cli::RunLambda(lambda_cmd, term);
  if (*callback) {
    cb_cmd.action = *cb_succeed ? "succeed" : *cb_fail ? "fail" : "heartbeat";
    return cairn::cli::RunCallback(cb_cmd, term);
  }
  query.format = query_format == "json" ? cairn::OutputFormat::kJson : cairn::OutputFormat::kText;
  if (*list) return cairn::cli::RunList(query, term);
  if (*show) return cairn::cli::RunShow(query, term);
  if (*history) return cairn::cli::RunHistory(query, term);
  if (*stop) return cairn::cli::RunStop(query, term);
  return 2;
}
