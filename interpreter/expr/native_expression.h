// NativeExpression: the expressions workflows use most (`.input.orderId`,
// `.tasks[0].lastStatus == "STOPPED"`, `.comment // "none"`, `.n + 1`,
// `.items | length`), parsed and evaluated directly on nlohmann::json,
// without a jq program (only `tonumber` calls libjq's JSON parser).
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
//   pipe    := alt ( '|' alt )*                 each part runs on the previous value
//   alt     := or ( '//' alt )?                 right-associative
//   or      := and ( 'or' and )*
//   and     := cmp ( 'and' cmp )*
//   cmp     := add ( ('=='|'!='|'<'|'<='|'>'|'>=') add )?
//   add     := unary ( ('+'|'-') unary )*       left-associative
//   unary   := '-' unary | postfix
//   postfix := term suffix*
//   term    := '.' | '.' IDENT | '.' STRING | '$ctx' | NUMBER | STRING
//            | 'true' | 'false' | 'null' | 'length' | 'tonumber' | '(' pipe ')'
//   suffix  := '.' IDENT | '.' STRING | '[' '-'? NUMBER ']' | '[' STRING ']'
//
// with jq 1.6's precedence (`|` binds loosest, then `//`, `or`, `and`, the
// comparisons, which do not chain, then `+` and `-`; a unary minus binds
// like a binary one, so `-1 + 2` is `(-1) + 2` and `-1 .a` is `-(1 | .a)`),
// its lexer (`.if` is a field, `1and 2` is `1 and 2`, `.n-1` and `.n -1` are
// `.n - 1`; only space, tab and newline are blanks, a comment ends at `\n`
// or `\r`; numbers are `[0-9.]+` with an exponent, so `1.5.a` and `.e3` are
// invalid numbers) and strings without `\(...)`, lone surrogates or invalid
// UTF-8. Number literals that overflow or underflow a double, and
// parentheses or unary minuses nested deeper than 64, are left to jq too.
// `*`, `/` and `%` are not in the subset (Debian's jq 1.6 patches their
// string and object cases). Parse never reports an error: a source it does
// not take (a call other than `length` and `tonumber`, `?`, `.[]`, any
// other variable, anything jq would reject) is simply not native, and jq
// compiles it and reports its problems as before.
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
// (`.a == .a`, even with a NaN inside). A comparison or `+`/`-` evaluates
// its right operand first, so the right one's error wins (`a - b - c` runs
// c, b, a, then the operators from the left). `and`/`or` short-circuit on
// truthiness (only false and null are false) and give booleans. `a // b` is
// a unless a is false or null; jq 1.6 does NOT suppress an error raised by a
// (unlike later versions).
// Arithmetic (jq's f_plus, f_minus, f_negate): `null + x` and `x + null`
// are x; numbers add and subtract as doubles; strings and arrays
// concatenate; objects merge shallowly (the right one's values win, keys
// keep the place of their first insertion); `a - b` on arrays drops every
// element of a equal to one of b (jv_equal: an array or object of the
// inputs is equal to itself); `x + []` and `x + {}` are x itself. Anything
// else fails with jq's message, `number (1) and string ("a") cannot be
// added`, `... cannot be subtracted`, `string ("a") cannot be negated`: each
// value printed as jq prints it (compact; object keys in jq's order;
// numbers with the shortest digits, `1e+17`, `1.5e-07`, NaN as null) and,
// past 14 bytes, cut to 11 bytes and `...` (a character cut in two becomes
// U+FFFD). `length`: null 0, a number its absolute value, a string its code
// points, an array or object its size, `boolean (true) has no length`.
// `tonumber`: a number as is; a string through libjq's own JSON parser (see
// ParseNumberLikeJq in expression_set.h: its values, "nan" included, and its
// messages, `Invalid numeric literal at EOF at line 1, column 3 (while
// parsing 'abc')`); JSON that is not a number and other kinds fail with
// `string ("[1]") cannot be parsed as a number`.
// Results come back as the jq path returns them: floats that are whole
// numbers become integers, strings and keys with invalid UTF-8 get U+FFFD as
// jq's conversion gives them, NaN becomes null.
//
// Intended differences from the jq path, both about input values only:
//  * integers beyond 2^53 come back exactly when returned as they are
//    (`.n`, `.n + null`, `.n | tonumber`; jq 1.6 rounds them through a
//    double); they still compute and compare as doubles, as in jq;
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
#include <vector>

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

  // The workflow steps whose results the expression may read: the NAMEs of
  // `.steps.NAME...` and `$ctx.steps.NAME...` (sorted, without duplicates),
  // or nullopt when it may read any step's result. Static, without running
  // anything, and conservative: a name missing from the list is one the
  // expression cannot read, whatever the context; when unsure, nullopt.
  //
  // `.` is taken to be the context wherever it is the expression's input
  // (also when a caller passes another value as `.`, as `result:` does), so
  // a bare `.`, `$ctx`, `.steps` or `$ctx.steps`, or `.steps` followed by
  // anything but a key (`.steps[0]`), may read everything. On the right of
  // `|`, `.` is the value of the left side: only `$ctx` reads the context
  // there (the left side already counts when it gives the context itself).
  // `length` and `tonumber` read no step's result (of the context, `length`
  // counts its keys), nor do literals.
  std::optional<std::vector<std::string>> StepReads() const;

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
