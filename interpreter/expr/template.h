// Templates: workflow string values that contain runtime expressions.
//
// A string value may contain `${ <jq program> }`. ParseTemplate splits it into
// literal parts and expression parts; it does not compile anything. Rules:
//
//  * The end of an expression is the first `}` that closes no bracket opened
//    inside it. Brackets (`()`, `[]`, `{}`), jq string literals (which may
//    contain `}` and `\(...)` interpolations) and `#` comments (to the end of
//    the line, as in jq) are respected, so `${ {a: "}"} }` is one expression.
//  * `$${` is an escape for a literal `${` (so `$${ x }` renders as `${ x }`).
//  * A string that is exactly one expression, with only whitespace around
//    it, yields the expression's JSON value; otherwise the parts are
//    concatenated as text (see ExpressionSet::Render).
//
// Offsets are byte offsets into the string that was parsed (the YAML scalar's
// value, not the YAML source text): callers add them to the scalar's position
// to point at a column.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace cairn::expr {

struct TemplatePart {
  enum class Kind { kLiteral, kExpression };

  Kind kind = Kind::kLiteral;
  // Literal: the text with `$${` escapes resolved. Expression: the jq source
  // between `${` and `}`, exactly as written (not trimmed).
  std::string text;
  // Byte offset in the parsed string where this part starts; for an
  // expression, the first byte after `${` (the first byte of `text`).
  size_t offset = 0;

  bool is_expression() const { return kind == Kind::kExpression; }
};

struct Template {
  std::vector<TemplatePart> parts;  // in order; adjacent literals are merged

  // Number of expression parts.
  size_t expression_count() const;
  // True when the string is exactly one expression with optional
  // whitespace (space, tab, newline, carriage return) around it: the
  // template's value is then the expression's JSON value.
  bool is_single_expression() const;
  // The expression part of a single-expression template.
  // REQUIRES: is_single_expression().
  const TemplatePart& single_expression() const;
};

// Splits `text` into literal and expression parts.
// On failure (an unterminated `${`, a string literal or bracket left open
// inside it, or a closing bracket that does not match), an error with code
// "expr.template" whose message says what is wrong and at which byte offsets,
// e.g. "`${` at offset 4: `(` is not closed (offset 7)" or
// "`${` at offset 0 is not closed by `}`".
Result<Template> ParseTemplate(std::string_view text);

// True when `text` contains a `${` that is not the escape `$${`, i.e. when
// ParseTemplate would find an expression or fail. Cheap; does not lex jq.
bool ContainsExpression(std::string_view text);

}  // namespace cairn::expr
