// cairn — a durable interpreter for declarative workflows.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>
#include <map>

#include "cli/commands.h"
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
    "  cairn graph --format dot w.yaml | dot -Tsvg > w.svg\n\n"
    "Exit status: 0 success, 1 the workflow has errors, 2 usage error.\n"
    "Language reference: schema/workflow.schema.json and README.md.";

bool ColorWanted(int fd) { return isatty(fd) && std::getenv("NO_COLOR") == nullptr; }

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
  return 2;
}
