// libFuzzer target: arbitrary bytes through every phase of expr/ — template
// parsing, the sandbox check, reference finding, and compiling and
// evaluating the expressions found (each part, and the whole input as one
// expression).
//
// Evaluation runs only programs that cannot loop or allocate without bound
// (jq 1.6 has no way to interrupt one); see IsBoundedProgram. Built only by
// the fuzz preset (ASan + UBSan + libFuzzer).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "expr/expression_set.h"
#include "expr/jq_lexer.h"
#include "expr/references.h"
#include "expr/sandbox.h"
#include "expr/template.h"

namespace {

using cairn::expr::Token;
using cairn::expr::TokenKind;

// True when every call in `source` is to a builtin that runs in time and
// memory bounded by its input, and the program has no `*` (string
// repetition), assignment, `def`, `reduce`, `foreach`, `label` or `..`.
bool IsBoundedProgram(std::string_view source) {
  static constexpr std::string_view kAllowed[] = {
      "length",       "keys",    "type",       "tostring",   "tojson",
      "add",          "not",     "has",        "tonumber",   "ascii_downcase",
      "ascii_upcase", "join",    "startswith", "endswith",   "ltrimstr",
      "rtrimstr",     "select",  "map",        "to_entries", "from_entries",
      "sort",         "unique",  "min",        "max",        "first",
      "last",         "empty",   "error",      "values",     "arrays",
      "objects",      "strings", "numbers",    "booleans",   "nulls",
      "floor",        "sqrt",    "explode",    "implode",    "if",
      "then",         "else",    "elif",       "end",        "and",
      "or",           "try",     "catch",      "as",         "null",
      "true",         "false",   "reverse",    "env",        "input",
      "now",          "debug",   "halt",       "halt_error", "input_filename",
      "$__loc__"};
  const cairn::expr::LexResult lexed = cairn::expr::LexJq(source);
  for (const Token& t : lexed.tokens) {
    if (t.kind == TokenKind::kIdentifier) {
      bool ok = false;
      for (std::string_view a : kAllowed) ok = ok || t.text == a;
      if (!ok) return false;
    }
    if (t.kind == TokenKind::kPunct &&
        (t.text == "*" || t.text == ".." || t.text.find('=') != std::string_view::npos)) {
      if (t.text != "==" && t.text != "!=" && t.text != "<=" && t.text != ">=") return false;
    }
    if (t.kind == TokenKind::kNumber && t.text.size() > 6) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)cairn::expr::ContainsExpression(text);
  (void)cairn::expr::CheckSandbox(text);
  (void)cairn::expr::FindStepReferences(text);
  (void)cairn::expr::FindRootFields(text);

  cairn::expr::ExpressionSet set;
  set.Add(std::string(text));
  cairn::Result<cairn::expr::Template> tmpl = cairn::expr::ParseTemplate(text);
  cairn::expr::TemplateProgram program;
  if (tmpl.ok()) {
    for (const cairn::expr::TemplatePart& part : tmpl->parts) {
      if (part.is_expression()) (void)cairn::expr::CheckSandbox(part.text);
    }
    program = set.AddTemplate(std::move(tmpl).value());
  }
  const std::vector<cairn::expr::CompileIssue> issues = set.Compile();
  for (const cairn::expr::CompileIssue& issue : issues) {
    if (issue.offset && *issue.offset > set.source(issue.index).size()) __builtin_trap();
  }

  const nlohmann::json context = {
      {"input", {{"a", 1}, {"s", "x\xC3\xA9"}, {"list", {1, "two", nullptr, {{"k", true}}}}}},
      {"steps", {{"first", {{"id", "s-1"}}}}},
      {"execution", {{"id", "e-1"}, {"startedAt", "2025-01-01T00:00:00Z"}}}};
  bool bounded = true;
  for (int i = 0; i < set.size(); ++i) bounded = bounded && IsBoundedProgram(set.source(i));
  if (!bounded) return 0;
  for (int i = 0; i < set.size(); ++i) (void)set.Evaluate(i, context);
  if (!program.indices.empty()) (void)set.Render(program, context);
  return 0;
}
