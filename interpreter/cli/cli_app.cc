#include "cli/cli_app.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/environment.h"
#include "cli/version.h"

namespace cairn::cli {
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

constexpr std::string_view kCommandNames[] = {"validate", "graph",   "run",  "serve",
                                             "callback", "list",    "show", "history",
                                             "stop",     "lambda"};

}  // namespace

// The CLI::App of each defined command (null: not defined), owned by app_.
struct CommandLine::Subcommands {
  CLI::App* validate = nullptr;
  CLI::App* graph = nullptr;
  CLI::App* run = nullptr;
  CLI::App* serve = nullptr;
  CLI::App* callback = nullptr;
  CLI::App* cb_succeed = nullptr;
  CLI::App* cb_fail = nullptr;
  CLI::App* list = nullptr;
  CLI::App* show = nullptr;
  CLI::App* history = nullptr;
  CLI::App* stop = nullptr;
  CLI::App* lambda = nullptr;
};

CommandLine::CommandLine()
    : app_(std::make_unique<CLI::App>(kDescription, "cairn")),
      subcommands_(std::make_unique<Subcommands>()) {
  CLI::App& app = *app_;
  app.footer(kFooter);
  app.set_version_flag("-V,--version", std::string("cairn ") + kVersion);
  app.require_subcommand(1);
  app.get_formatter()->column_width(36);
}

void CommandLine::DefineCommands(std::string_view only) {
  CLI::App& app = *app_;
  Subcommands& s = *subcommands_;
  auto wanted = [only](std::string_view name) { return only.empty() || only == name; };

  if (wanted("validate")) {
    auto* validate = app.add_subcommand("validate", "Check workflows offline: schema, names, "
                                                    "references, reachability, expressions, "
                                                    "action parameters");
    validate->add_option("files", options_.validate_files, "Workflow files (YAML)")->required()->check(CLI::ExistingFile);
    validate->add_option("--format", validate_format_, "Output: text (default) or json")
        ->check(CLI::IsMember({"text", "json"}));
    validate->add_flag("-q,--quiet", options_.validate_quiet, "Print only problems");
    s.validate = validate;
  }

  if (wanted("graph")) {
    auto* graph = app.add_subcommand("graph", "Show the compiled step graph with each step's "
                                              "durable operation");
    graph->add_option("file", options_.graph_file, "Workflow file (YAML)")->required()->check(CLI::ExistingFile);
    graph->add_option("--format", graph_format_, "mermaid (default) or dot")
        ->check(CLI::IsMember({"mermaid", "dot"}));
    s.graph = graph;
  }

  constexpr const char* kStoreHelp = "Store file (default: $CAIRN_STORE, $XDG_STATE_HOME/cairn/cairn.db or ~/.local/state/cairn/cairn.db)";

  if (wanted("run")) {
    auto* run = app.add_subcommand("run", "Run a workflow in the foreground until its execution ends");
    run->add_option("file", options_.run.file, "Workflow file (YAML)")->required()->check(CLI::ExistingFile);
    run->add_option("--input", options_.run.input, "Input: JSON text, or @file (default {})");
    run->add_option("--name", options_.run.name, "Execution name (default: a random UUID); "
                                            "running a name again resumes it");
    run->add_option("--port", options_.run.port, "Port of the local HTTP API on 127.0.0.1 (0 = any free)")
        ->check(CLI::Range(0, 65535));
    run->add_option("--store", options_.run.store, kStoreHelp);
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
    s.run = run;
  }

  if (wanted("serve")) {
    auto* serve = app.add_subcommand("serve", "Drive every pending execution (timers, callbacks, "
                                              "resumes after a restart) until Ctrl-C");
    serve->add_option("--port", options_.serve.port, "Port of the local HTTP API on 127.0.0.1 (0 = any free)")
        ->check(CLI::Range(0, 65535));
    serve->add_option("--workflows", options_.serve.workflows_dir,
                      "Folder whose *.yaml workflows are served (besides those `cairn run` recorded)")
        ->check(CLI::ExistingDirectory);
    serve->add_option("--store", options_.serve.store, kStoreHelp);
    serve->add_flag("--no-batch-scheduling", options_.serve.no_batch_scheduling,
                    "Keep Linux's default scheduling policy for the server's threads (by default "
                    "they use SCHED_BATCH: no wake-up preemption, more executions per second "
                    "under many clients)");
    serve->footer("\nExamples:\n"
                  "  cairn serve\n"
                  "  cairn serve --port 9000 --workflows workflows/\n"
                  "  aws lambda send-durable-execution-callback-success --endpoint-url "
                  "http://127.0.0.1:9000 --callback-id ID --result '\"ok\"'");
    s.serve = serve;
  }

  if (wanted("callback")) {
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
    cb_succeed->add_option("id", options_.callback.id, "Callback ID")->required();
    cb_succeed->add_option("--result", options_.callback.result, "Result: JSON text, @file or - (stdin); default null");
    cb_succeed->add_option("--store", options_.callback.store, kStoreHelp);
    auto* cb_fail = callback->add_subcommand("fail", "Fail the callback with an error");
    cb_fail->add_option("id", options_.callback.id, "Callback ID")->required();
    cb_fail->add_option("--error", options_.callback.error_name, "Error name (default Error)");
    cb_fail->add_option("--message", options_.callback.message, "Error message");
    cb_fail->add_option("--store", options_.callback.store, kStoreHelp);
    auto* cb_heartbeat = callback->add_subcommand("heartbeat", "Restart the callback's heartbeat timeout");
    cb_heartbeat->add_option("id", options_.callback.id, "Callback ID")->required();
    cb_heartbeat->add_option("--store", options_.callback.store, kStoreHelp);
    s.callback = callback;
    s.cb_succeed = cb_succeed;
    s.cb_fail = cb_fail;
  }

  if (wanted("list")) {
    auto* list = app.add_subcommand("list", "List executions (a table, newest last)");
    list->add_option("--workflow", options_.query.workflow, "Only executions of this workflow");
    list->add_option("--status", options_.query.status, "Only this status")
        ->check(CLI::IsMember({"RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "STOPPED"}));
    list->add_option("--format", query_format_, "text (default) or json")
        ->check(CLI::IsMember({"text", "json"}));
    list->add_option("--store", options_.query.store, kStoreHelp);
    list->footer("\nExamples:\n  cairn list\n  cairn list --workflow local-callback --status RUNNING");
    s.list = list;
  }

  if (wanted("show")) {
    auto* show = app.add_subcommand("show", "Show one execution: status, times, input, result or error");
    show->add_option("execution", options_.query.execution, "Execution ARN or name")->required();
    show->add_option("--format", query_format_, "text (default) or json (GetDurableExecution)")
        ->check(CLI::IsMember({"text", "json"}));
    show->add_option("--store", options_.query.store, kStoreHelp);
    show->footer("\nExamples:\n  cairn show order-7\n  cairn show --format json order-7 | jq .Result");
    s.show = show;
  }

  if (wanted("history")) {
    auto* history = app.add_subcommand("history", "Show an execution's events, one per line");
    history->add_option("execution", options_.query.execution, "Execution ARN or name")->required();
    history->add_option("--format", query_format_,
                        "text (default) or json (GetDurableExecutionHistory events)")
        ->check(CLI::IsMember({"text", "json"}));
    history->add_option("--store", options_.query.store, kStoreHelp);
    history->footer("\nExamples:\n  cairn history order-7\n  cairn history --format json order-7");
    s.history = history;
  }

  if (wanted("stop")) {
    auto* stop = app.add_subcommand("stop", "Stop a running execution (it ends STOPPED)");
    stop->add_option("execution", options_.query.execution, "Execution ARN or name")->required();
    stop->add_option("--store", options_.query.store, kStoreHelp);
    stop->footer("\nExample:\n  cairn stop order-7");
    s.stop = stop;
  }

  if (wanted("lambda")) {
    auto* lambda = app.add_subcommand("lambda", "Serve durable executions as an AWS Lambda custom "
                                                "runtime (the function's bootstrap)");
    lambda->add_option("--workflows", options_.lambda.workflows_dir,
                       "Folder of the bundled *.yaml workflows (default $LAMBDA_TASK_ROOT/workflows)");
    lambda->add_option("--default-workflow", options_.lambda.default_workflow,
                       "Workflow run when the input names none (default $_HANDLER, the function's "
                       "Handler; a .yaml suffix is dropped)");
    lambda->add_option("--deadline-margin", options_.lambda.deadline_margin_ms,
                       "Milliseconds before the invocation's deadline after which no step starts "
                       "(default 2000)")
        ->check(CLI::Range(0, 900000));
    lambda->add_option("--endpoint", options_.lambda.endpoint,
                       "Checkpoint API endpoint (default $AWS_ENDPOINT_URL_LAMBDA, else "
                       "https://lambda.$AWS_REGION.amazonaws.com)");
    lambda->add_option("--max-invocations", options_.lambda.max_invocations,
                       "Exit after this many invocations (tests, benchmarks; default: never)");
    lambda->add_flag("-q,--quiet", options_.lambda.quiet, "No log line per step");
    lambda->add_flag("--write-manifest", options_.lambda.write_manifest,
                     "Packaging: validate the --workflows folder, write its "
                     "cairn-manifest.json and exit");
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
    s.lambda = lambda;
  }
}

CommandLine::~CommandLine() = default;

std::optional<int> CommandLine::Parse(int argc, char** argv) {
  CLI::App& app = *app_;
  // Only the command argv[1] names, when it names one: a command's parse
  // never looks at the others, and defining all of them (every option,
  // validator, help text) is a measurable part of a Lambda cold start.
  // Anything else (--help, --version, a typo, nothing) sees them all.
  std::string_view only;
  if (argc > 1) {
    for (std::string_view name : kCommandNames) {
      if (name == argv[1]) only = name;
    }
  }
  DefineCommands(only);
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

  options_.validate_format = validate_format_ == "json" ? OutputFormat::kJson : OutputFormat::kText;
  options_.graph_format = graph_format_ == "dot" ? GraphFormat::kDot : GraphFormat::kMermaid;
  options_.query.format = query_format_ == "json" ? OutputFormat::kJson : OutputFormat::kText;
  const Subcommands& s = *subcommands_;
  if (s.callback && *s.callback) {
    options_.callback.action = *s.cb_succeed ? "succeed" : *s.cb_fail ? "fail" : "heartbeat";
  }
  const std::pair<const CLI::App*, Command> table[] = {
      {s.validate, Command::kValidate}, {s.graph, Command::kGraph},
      {s.run, Command::kRun},           {s.serve, Command::kServe},
      {s.callback, Command::kCallback}, {s.list, Command::kList},
      {s.show, Command::kShow},         {s.history, Command::kHistory},
      {s.stop, Command::kStop},         {s.lambda, Command::kLambda},
  };
  for (const auto& [sub, command] : table) {
    if (sub && sub->parsed()) {
      command_ = command;
      return std::nullopt;
    }
  }
  // require_subcommand(1) makes this unreachable; a usage error if not.
  std::cerr << app.help();
  return 2;
}

bool IsOfflineCommand(Command command) {
  return command == Command::kValidate || command == Command::kGraph;
}

int RunOfflineCommand(Command command, const CommandOptions& options, const Terminal& term) {
  if (command == Command::kGraph) return RunGraph(options.graph_file, options.graph_format, term);
  return RunValidate(options.validate_files, options.validate_format, options.validate_quiet, term);
}

Terminal StandardTerminal() {
  return Terminal{&std::cout, &std::cerr, isatty(STDOUT_FILENO) && !GetEnv("NO_COLOR")};
}

}  // namespace cairn::cli
