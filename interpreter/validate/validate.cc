#include "validate/validate.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <tuple>

#include "validate/checks.h"
#include "validate/flow_analysis.h"

namespace cairn {
namespace {

auto SortKey(const Diagnostic& d) {
  return std::tie(d.location.line, d.location.column, d.severity, d.code, d.path, d.message);
}

void SortAndDedupe(Diagnostics* ds) {
  for (Diagnostic& d : *ds) {
    d.message = validate::ValidUtf8(d.message);
    d.hint = validate::ValidUtf8(d.hint);
    d.path = validate::ValidUtf8(d.path);
  }
  std::stable_sort(ds->begin(), ds->end(), [](const Diagnostic& a, const Diagnostic& b) {
    return SortKey(a) < SortKey(b);
  });
  ds->erase(std::unique(
                ds->begin(), ds->end(),
                [](const Diagnostic& a, const Diagnostic& b) { return SortKey(a) == SortKey(b); }),
            ds->end());
}

}  // namespace

Diagnostics ValidateDefinition(const WorkflowDefinition& def, expr::ExpressionTable* expressions,
                               std::string_view source, const ValidateOptions& options) {
  *expressions = expr::ExpressionTable{};
  Diagnostics ds;
  validate::FlowAnalysis flow(def);
  const validate::CheckContext ctx{def, flow, source, &ds};
  // Expressions first: their jq compile overlaps the other checks.
  validate::ExpressionChecks expression_checks(ctx, expressions);
  expression_checks.Start();
  if (!options.skip_schema_check) validate::CheckSchema(ctx);
  validate::CheckNames(ctx);
  validate::CheckFlow(ctx);
  validate::CheckDurations(ctx);
  validate::CheckActions(ctx);
  validate::CheckInputSchema(ctx);
  expression_checks.Finish();
  SortAndDedupe(&ds);
  return ds;
}

ValidationResult ValidateText(std::string_view yaml, std::string file,
                              const ValidateOptions& options) {
  ValidationResult r;
  Document doc = LoadDocument(yaml, std::move(file), &r.diagnostics);
  const bool readable = !doc.root().is_null();
  r.definition = BuildDefinition(std::move(doc));
  if (readable) {
    Diagnostics more = ValidateDefinition(r.definition, &r.expressions, yaml, options);
    r.diagnostics.insert(r.diagnostics.end(), std::make_move_iterator(more.begin()),
                         std::make_move_iterator(more.end()));
  } else {
    r.expressions.set = std::make_shared<expr::ExpressionSet>();
    (void)r.expressions.set->Compile();  // empty: no jq_compile
  }
  SortAndDedupe(&r.diagnostics);
  return r;
}

ValidationResult ValidateFile(const std::string& path) {
  auto unreadable = [&](const std::string& why) {
    ValidationResult r;
    Diagnostics ignored;  // an empty document, only to carry the file name
    r.definition = BuildDefinition(LoadDocument("", path, &ignored));
    r.diagnostics.push_back(Diagnostic{"CRN000", Severity::kError, SourceLocation{path, 0, 0}, "",
                                       "cannot read " + path + ": " + why,
                                       "check the path and its permissions"});
    r.expressions.set = std::make_shared<expr::ExpressionSet>();
    (void)r.expressions.set->Compile();  // empty: no jq_compile
    return r;
  };
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return unreadable(std::strerror(EISDIR));
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) return unreadable(std::strerror(errno != 0 ? errno : ENOENT));
  std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) return unreadable(std::strerror(errno != 0 ? errno : EIO));
  return ValidateText(text, path);
}

}  // namespace cairn
