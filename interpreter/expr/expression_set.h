// ExpressionSet: all runtime expressions of a workflow, compiled together
// with at most ONE jq_compile and evaluated against a context.
//
// Native first: an expression in the subset of NativeExpression
// (native_expression.h: paths, `$ctx`, literals, comparisons, `and`, `or`,
// `//`, `+`, `-`, `|`, `length`, `tonumber`; nearly every expression of a
// workflow) is parsed and evaluated by cairn itself, with jq 1.6's values
// and error messages, and is not part of the jq program. A set whose
// expressions are all native never creates a jq_state nor calls jq_compile
// (jq_compile_count() == 0), which is what
// keeps a cold `cairn validate` and a Lambda cold start fast. Native
// evaluation reads the context in place (no conversion to jq's values) and
// takes no lock. Options::native = false sends every expression to jq (the
// reference that the native path is tested against).
//
// Why the rest goes together: jq 1.6 re-parses and re-binds its whole
// builtin library on every jq_compile (~16 ms of CPU each, independent of
// the program), so compiling 50 expressions one by one costs ~0.8 s. The set
// compiles one jq program of the expressions that are not native:
//
//   <sandbox prelude: shadows env, input, now, ...>  {} as $ENV |
//   .[0] as $__cairn_i | .[2] as $ctx | .[1] |
//   if $__cairn_i < 2 then
//     if $__cairn_i < 1 then def __cairn_e0:
//   <expression 0>
//   ;
//   __cairn_e0 else def __cairn_e1:
//   ...
//
// and evaluates expression i by running it on [i, dot, ctx] (dot and $ctx
// are both the context, except for Evaluate(i, dot, ctx)): a balanced tree
// of `if`s (O(log n)) reaches a leaf that defines and calls expression i.
// Before combining, each expression is checked on its own (brackets and
// strings balanced, every `;` at its top level ends a `def` of its own, no
// reserved `__cairn_` names), so it cannot end its `def` early and change
// another. If the combined compile fails, jq's error positions (lines of the
// combined program) say which expression is at fault; it is set aside and
// the rest compiled again (a syntax error costs ~0.2 ms a try, as jq stops
// before binding builtins; "not defined" errors are all reported by one
// try). When jq gives no usable position the set is bisected. A clean set
// costs exactly one jq_compile (none when all its expressions are native).
//
// Values: the context is converted to jq's jv tree directly (no text round
// trip). jq 1.6 numbers are IEEE doubles: integers beyond 2^53 lose precision
// (2^53+1 comes back as 2^53); integral results within int64 (or uint64)
// come back as JSON integers, others as floats; NaN becomes null and
// ±infinity ±DBL_MAX, as jq prints them. Object keys come back sorted
// (nlohmann::json), whatever order jq built them in. Values nested deeper
// than kMaxValueDepth are rejected. Native expressions give the same values
// and errors, with two differences about inputs (native_expression.h):
// integers beyond 2^53 come back exact, and a value too deep (or binary) is
// an error only when the expression reaches it.
//
// Limits of jq 1.6 that the caller must know: `error(null)` cannot be told
// apart from no output. An expression can loop forever (`repeat(.)`, and
// jq bugs: `indices("")`, `gsub(""; "x")` on any string) or allocate
// without bound (`[range(1e9)]`, `.[1e9] = 1`), and nothing can interrupt
// it; when an allocation fails jq prints to stderr and aborts the process.
// jq 1.6 also imports `$HOME/.jq` on every compile and binds its definitions
// ahead of the builtins; Compile keeps it from doing so by pointing HOME at
// /dev/null for the duration of each jq_compile (other threads of the
// process that read HOME meanwhile see /dev/null; the value is restored).
#pragma once

#include <cstddef>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "expr/template.h"

namespace cairn::expr {

// Error code of every evaluation failure (it is the workflow error name too).
inline constexpr char kExpressionErrorCode[] = "Cairn.Expression";

// Deepest nesting of a context or result value that is converted.
inline constexpr int kMaxValueDepth = 512;

// Why one expression does not compile. To point at it in a workflow file:
// position of the YAML scalar + TemplatePart::offset (where the expression
// starts in the scalar's value) + offset (where the problem is in the
// expression); exact for plain and unescaped single-line scalars.
struct CompileIssue {
  int index = 0;  // the expression, as returned by Add
  // jq's words without "jq: error:" and jq's position, e.g. "syntax error,
  // unexpected INVALID_CHARACTER", "foo/1 is not defined", "$x is not
  // defined", "syntax error, unexpected end of expression", or cairn's own
  // checks: "`(` is not closed", "string literal is not terminated".
  std::string message;
  // Byte offset in the expression's source where jq or the check places the
  // problem (for "unexpected end of expression": the source's size); unset
  // when jq gave no position.
  std::optional<size_t> offset;
};

// A template whose expression parts are registered in an ExpressionSet.
struct TemplateProgram {
  Template source;
  std::vector<int> indices;  // per part of source: the expression's index, or -1 for a literal
};

// jq 1.6's `tonumber` of a string, as libjq does it, for NativeExpression:
// `text` (up to a NUL, as jq reads it) parsed with libjq's JSON parser
// (jv_parse; no jq_state, nothing compiled). `number` is set when it is one
// JSON number; otherwise `error` holds jq's message (`Invalid numeric
// literal at EOF at line 1, column 3 (while parsing 'abc')`), or is empty
// when the text is JSON but not a number (jq then reports the string: `string
// ("[1]") cannot be parsed as a number`). `text` must be valid UTF-8.
// Thread-safe.
struct JqParsedNumber {
  std::optional<double> number;
  std::string error;
};
JqParsedNumber ParseNumberLikeJq(std::string_view text);

class ExpressionSet {
 public:
  struct Options {
    // Evaluate the expressions NativeExpression accepts natively; false
    // sends all of them to jq (for tests that compare the two).
    bool native = true;
  };

  ExpressionSet();
  explicit ExpressionSet(Options options);
  ~ExpressionSet();
  ExpressionSet(ExpressionSet&&) noexcept;
  ExpressionSet& operator=(ExpressionSet&&) noexcept;

  // Registers a jq program (the text between `${` and `}`) and returns its
  // index (0, 1, 2, ... in order of registration).
  // REQUIRES: Compile() has not been called.
  int Add(std::string jq_source);

  // Registers every expression part of `tmpl`.
  // REQUIRES: Compile() has not been called.
  TemplateProgram AddTemplate(Template tmpl);

  // Compiles every registered expression. Returns one issue per expression
  // that does not compile, sorted by index; empty when all compiled. An
  // expression with an issue fails every Evaluate.
  // REQUIRES: Compile() has not been called. Add, AddTemplate and Compile
  // are not thread-safe: build and compile the set on one thread, then
  // share it.
  std::vector<CompileIssue> Compile();

  // Runs expression `index` on `context` and returns its first output.
  // Fails with code kExpressionErrorCode when the expression did not
  // compile, jq raises an error (the message is jq's: a string error as is,
  // any other error value as compact JSON), there is no output, or a value
  // is too deep to convert. The error's context quotes the expression.
  // REQUIRES: Compile() has been called; 0 <= index < size().
  // Thread-safe: native expressions run concurrently without locking; calls
  // of jq expressions are serialized on one internal mutex (a jq_state runs
  // one program at a time).
  Result<nlohmann::json> Evaluate(int index, const nlohmann::json& context) const;

  // As Evaluate, with `.` = `dot` and $ctx = `ctx`. Every expression can
  // read $ctx: the workflow context; the one-argument forms set it to the
  // context itself, this one lets expressions whose `.` is something else
  // (a raw result: `result:`, `poll.until`) read the context too.
  Result<nlohmann::json> Evaluate(int index, const nlohmann::json& dot,
                                  const nlohmann::json& ctx) const;

  // The value of a template: for a single expression, its value; otherwise
  // the parts joined as text, expression values inserted raw when strings
  // and as compact JSON otherwise (a template without expressions is its
  // literal text). Fails like Evaluate on the first failing expression.
  // REQUIRES: as for Evaluate; `program` came from this set's AddTemplate.
  // Thread-safe like Evaluate.
  Result<nlohmann::json> Render(const TemplateProgram& program,
                                const nlohmann::json& context) const;
  // As Render, with `.` = `dot` and $ctx = `ctx` (see Evaluate).
  Result<nlohmann::json> Render(const TemplateProgram& program, const nlohmann::json& dot,
                                const nlohmann::json& ctx) const;

  int size() const;
  // REQUIRES: 0 <= index < size().
  const std::string& source(int index) const;

  // True when an expression added so far is outside the native subset, so
  // Compile() will call jq_compile (~16 ms); false means Compile() is cheap
  // (no thread worth starting for it).
  bool NeedsJq() const;

  // How many times this set has called jq_compile (for tests): 0 when every
  // expression is native.
  int jq_compile_count() const;

  // The workflow steps whose results some expression of the set may read
  // (NativeExpression::StepReads, united over every expression added so
  // far; sorted, without duplicates), or nullopt when one of them may read
  // any step's result: a bare context read, or any expression that is not
  // native (jq is not analysed), including every expression of a set with
  // Options::native = false. Conservative: a step missing from the list is
  // read by no expression of the set.
  std::optional<std::vector<std::string>> StepReads() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cairn::expr
