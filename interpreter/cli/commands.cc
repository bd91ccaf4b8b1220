#include "cli/commands.h"

#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/diagnostic_printer.h"
#include "compile/compile.h"
#include "compile/graph_export.h"
#include "validate/validate.h"

namespace cairn {
namespace {

std::string ReadSource(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string Plural(size_t n, const char* word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

}  // namespace

void PrintDiagnostics(const Diagnostics& ds, const std::string& file, const Terminal& term,
                      std::ostream& out) {
  if (ds.empty()) return;
  std::string source = ReadSource(file);
  for (const auto& d : ds) out << FormatDiagnostic(d, source, {.color = term.color}) << "\n";
}

int RunValidate(const std::vector<std::string>& files, OutputFormat format, bool quiet,
                const Terminal& term) {
  size_t errors = 0;
  size_t warnings = 0;
  nlohmann::json report = {{"files", nlohmann::json::array()}};
  for (const auto& file : files) {
    ValidationResult r = ValidateFile(file);
    size_t file_errors = 0;
    for (const auto& d : r.diagnostics) (d.is_error() ? file_errors : warnings)++;
    errors += file_errors;
    if (format == OutputFormat::kJson) {
      nlohmann::json entry = {{"file", file}, {"ok", file_errors == 0},
                              {"diagnostics", nlohmann::json::array()}};
      for (const auto& d : r.diagnostics) entry["diagnostics"].push_back(DiagnosticToJson(d));
      report["files"].push_back(std::move(entry));
    } else {
      PrintDiagnostics(r.diagnostics, file, term, *term.out);
      if (!quiet && r.diagnostics.empty()) *term.out << file << ": ok\n";
    }
  }
  if (format == OutputFormat::kJson) {
    report["errors"] = errors;
    report["warnings"] = warnings;
    *term.out << report.dump(2) << "\n";
  } else if (!quiet || errors > 0) {
    *term.out << Plural(files.size(), "file") << " checked: " << Plural(errors, "error") << ", "
              << Plural(warnings, "warning") << "\n";
  }
  return errors > 0 ? 1 : 0;
}

int RunGraph(const std::string& file, GraphFormat format, const Terminal& term) {
  ValidationResult r = ValidateFile(file);
  if (!r.ok()) {
    PrintDiagnostics(r.diagnostics, file, term, *term.err);
    *term.err << file << ": not graphed: the workflow has errors (see above)\n";
    return 1;
  }
  auto definition = std::make_shared<const WorkflowDefinition>(std::move(r.definition));
  auto expressions = std::make_shared<const expr::ExpressionTable>(std::move(r.expressions));
  auto graph = CompileWorkflow(definition, expressions);
  if (!graph.ok()) {
    *term.err << file << ": " << graph.error().ToString() << "\n";
    return 1;
  }
  *term.out << (format == GraphFormat::kDot ? ToDot(**graph) : ToMermaid(**graph));
  return 0;
}

}  // namespace cairn
