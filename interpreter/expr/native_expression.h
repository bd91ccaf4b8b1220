// NativeExpression: the expressions workflows use most (`.input.orderId`,
// `.tasks[0].lastStatus == "STOPPED"`, `.comment // "none"`), parsed and
// evaluated directly on nlohmann::json, without libjq.
//
// Why: compiling jq 1.6 costs ~16 ms of CPU whatever the program (it
// re-parses and binds its builtin library), the largest part of a cold
// `cairn validate` and of a Lambda cold start, while nearly every expression
// is a path or a comparison. ExpressionSet evaluates what Parse accepts here
// and hands everything else to jq (see expression_set.h).
//
// The subset (whitespace and `#` comments between tokens, as jq 1.6 lexes
// them):
//
//   alt     := or ( '//' alt )?                 right-associative
//   or      := and ( 'or' and )*
//   and     := cmp ( 'and' cmp )*
//   cmp     := postfix ( ('=='|'!='|'<'|'<='|'>'|'>=') postfix )?
//   postfix := term suffix*
//   term    := '.' | '.' IDENT | '.' STRING | '$ctx' | '-'? NUMBER | STRING
//            | 'true' | 'false' | 'null' | '(' alt ')'
//   suffix  := '.' IDENT | '.' STRING | '[' '-'? NUMBER ']' | '[' STRING ']'
//
// with jq 1.6's precedence (`//` binds loosest; comparisons do not chain;
// `-1 .a` is `-(1 | .a)`, which fails like `(-1).a`), its lexer (`.if` is a
// field, `1and 2` is `1 and 2`; only space, tab and newline are blanks, a
// comment ends at `\n` or `\r`; numbers are `[0-9.]+` with an exponent, so
// `1.5.a` and `.e3` are invalid numbers) and strings without `\(...)`, lone
// surrogates or invalid UTF-8. Number literals that overflow or underflow a
// double, and parentheses nested deeper than 64, are left to jq too. Parse
// never reports an error: a source it does not take (a pipe, a call, `?`,
// `.[]`, any other variable, anything jq would reject) is simply not native,
// and jq compiles it and reports its problems as before.
//
// Semantics are jq 1.6's (as Debian builds it), values and error messages
// alike (checked by a differential test against libjq): indexing null gives
// null, a missing key or an array index out of range null, a negative index
// counts from the end, a number index that is not a whole number within
// int's range null; `Cannot index number with string "b"` (the key is shown
// when shorter than 30 bytes, up to a NUL), `Cannot index object with
// number` and the like otherwise. Comparisons follow jq's order (null <
// false < true < numbers < strings < arrays < objects; numbers as doubles,
// NaN below every number; strings by bytes; objects by sorted keys, then
// values); `==` also holds for one array or object compared with itself
// (`.a == .a`, even with a NaN inside). A comparison evaluates its right
// operand first, so the right one's error wins. `and`/`or` short-circuit on
// truthiness (only false and null are false) and give booleans. `a // b` is
// a unless a is false or null; jq 1.6 does NOT suppress an error raised by a
// (unlike later versions).
// Results come back as the jq path returns them: floats that are whole
// numbers become integers, strings and keys with invalid UTF-8 get U+FFFD as
// jq's conversion gives them, NaN becomes null.
//
// Intended differences from the jq path, both about input values only:
//  * integers beyond 2^53 come back exactly (jq 1.6 rounds them through a
//    double); they still compare as doubles, as in jq;
//  * a context nested deeper than kMaxValueDepth fails only when the
//    expression reaches that depth (the message is then the jq path's,
//    "context: value nested deeper than 512 levels"); jq rejects the whole
//    context up front. Likewise for binary values.
//
// Thread-safety: a NativeExpression is immutable after Parse; Evaluate may be
// called from any number of threads at once.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace cairn::expr {

// An evaluation failure of a native expression.
struct NativeError {
  std::string message;  // as jq words it, e.g. `Cannot index array with string "a"`
  // True when the input could not be read as jq reads it (nested too deep,
  // binary values): the jq path fails converting the input with this
  // message, before running the expression.
  bool about_input = false;
};

class NativeExpression {
 public:
  // The expression when `source` (the text between `${` and `}`) is in the
  // subset; nullopt otherwise.
  static std::optional<NativeExpression> Parse(std::string_view source);

  ~NativeExpression();
  NativeExpression(NativeExpression&&) noexcept;
  NativeExpression& operator=(NativeExpression&&) noexcept;

  // Runs the expression with `.` = `dot` and $ctx = `*ctx`, or $ctx = `dot`
  // when `ctx` is null. On success `value` is set; otherwise `error`.
  struct Outcome {
    std::optional<nlohmann::json> value;
    NativeError error;
  };
  Outcome Evaluate(const nlohmann::json& dot, const nlohmann::json* ctx) const;

  struct Node;

 private:
  explicit NativeExpression(std::unique_ptr<Node> root);
  std::unique_ptr<Node> root_;
};

// A number as it comes back from jq 1.6 (an IEEE double): whole numbers
// within int64 (else uint64) as integers, others as floats, NaN as null and
// ±infinity as ±DBL_MAX (as jq prints them).
nlohmann::json NumberFromJq(double d);

// `bytes` as jq 1.6 stores a string: each ill-formed UTF-8 sequence replaced
// by U+FFFD. Returns nullopt when `bytes` is valid UTF-8 (nothing to change).
std::optional<std::string> ReplaceInvalidUtf8(std::string_view bytes);

}  // namespace cairn::expr
