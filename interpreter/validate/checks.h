// The check families of the validator (one .cc file each) and the context
// they share. Internal to validate/; the entry points are in validate.h.
//
// Each check appends diagnostics with the codes documented in README.md and
// never fails: a check reads only the parts of the definition that are well
// formed and leaves malformed parts to the schema check, so one mistake gives
// one diagnostic.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/diagnostic.h"
#include "definition/workflow_definition.h"
#include "expr/expression_table.h"
#include "validate/flow_analysis.h"

namespace cairn::validate {

struct CheckContext {
  const WorkflowDefinition& def;
  const FlowAnalysis& flow;
  std::string_view source;  // the YAML text, or empty when not known
  Diagnostics* out;

  // Reports at the value at `pointer` (or, with at_key, at its key).
  void Report(const char* code, Severity severity, std::string_view pointer, std::string message,
              std::string hint = {}, bool at_key = false) const;
  // Reports at an explicit location (e.g. inside a string).
  void ReportAt(const char* code, Severity severity, SourceLocation where, std::string_view pointer,
                std::string message, std::string hint = {}) const;
  void Error(const char* code, std::string_view pointer, std::string message, std::string hint = {},
             bool at_key = false) const {
    Report(code, Severity::kError, pointer, std::move(message), std::move(hint), at_key);
  }
  void Warning(const char* code, std::string_view pointer, std::string message,
               std::string hint = {}, bool at_key = false) const {
    Report(code, Severity::kWarning, pointer, std::move(message), std::move(hint), at_key);
  }
};

// "step `name`", or "the step at /steps/3" for a step without a name.
std::string StepLabel(const Step& step);
// `text` in backquotes.
std::string Quote(std::string_view text);
// "a, b or c" (each quoted with Quote when `quote`).
std::string JoinOr(const std::vector<std::string>& items, bool quote = true);
// `s` with every invalid UTF-8 sequence replaced by U+FFFD (YAML files may
// hold any bytes; messages, JSON output and valijson need valid UTF-8).
std::string ValidUtf8(std::string_view s);
bool IsValidUtf8(std::string_view s);
// A JSON value as compact text; invalid UTF-8 in strings becomes U+FFFD.
std::string JsonText(const nlohmann::json& value);
// "`a`, `b` and `c`".
std::string JoinAnd(const std::vector<std::string>& items);
// The hint "did you mean `x`?" for the closest candidate, or empty.
std::string DidYouMean(std::string_view word, const std::vector<std::string>& candidates);

// CRN010–CRN014, CRN023: the document against schema/workflow.schema.json.
void CheckSchema(const CheckContext& ctx);
// CRN020–CRN022, CRN024, CRN025: step kinds, names, switch cases.
void CheckNames(const CheckContext& ctx);
// CRN030–CRN033: next/catch targets, reachability, termination.
void CheckFlow(const CheckContext& ctx);
// CRN050–CRN052: durations.
void CheckDurations(const CheckContext& ctx);
// CRN060–CRN064: action parameters, callbacks, completion policies.
void CheckActions(const CheckContext& ctx);
// CRN070: the `input:` JSON Schema.
void CheckInputSchema(const CheckContext& ctx);
// CRN040–CRN046, CRN071: expressions (compiled once into `table`) and the
// references they make.
class ExpressionChecks {
 public:
  // `ctx` and `table` must outlive this object.
  ExpressionChecks(const CheckContext& ctx, expr::ExpressionTable* table);
  ~ExpressionChecks();  // waits for a compile still running
  // Parses every expression, reports template, sandbox and reference
  // problems, and starts the single jq compile on another thread.
  void Start();
  // Waits for the compile, reports jq errors and unused params, and fills
  // the table. REQUIRES: Start() was called; no other check reports
  // concurrently with Start() or Finish().
  void Finish();

 private:
  struct State;
  const CheckContext& ctx_;
  expr::ExpressionTable* table_;
  std::unique_ptr<State> state_;
};

}  // namespace cairn::validate
