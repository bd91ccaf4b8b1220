// A small lexer for jq 1.6 source, shared by cairn's static checks of
// expressions (template scanning, sandbox, step references, and the checks
// that keep one expression inside its slot of a combined program).
//
// It follows jq 1.6's lexer (src/lexer.l) where that matters for these checks:
// comments (`#` to the end of the line), string literals with escapes and
// `\(...)` interpolation, `.name` fields, `$name` variables (whitespace and
// comments may separate `$` from the name, as jq allows), `@format`s,
// identifiers (with `a::b` module paths) and keywords. It also matches
// brackets: `(` `)`, `[` `]`, `{` `}` and the `)` that ends an interpolation.
// Anything it does not understand becomes a one-byte kPunct token; jq itself
// reports such input when the expression is compiled.
//
// The lexer never recurses, so deeply nested input cannot exhaust the stack.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cairn::expr {

enum class TokenKind {
  kIdentifier,    // foo, a::b, and keywords (if, def, reduce, ...); text as written
  kField,         // .foo; text is "foo"
  kVariable,      // $foo or `$ foo`; text is "foo" ($__loc__ gives "__loc__")
  kFormat,        // @base64; text is "base64"
  kNumber,        // 12, 1.5e3, .5
  kString,        // "..." without interpolation; text is the body between the quotes
  kStringStart,   // `"...\(`: a string that continues after an interpolation
  kStringMiddle,  // `)...\(`: string text between two interpolations
  kStringEnd,     // `)..."`: the last piece of an interpolated string
  kPunct,         // ( ) [ ] { } . .. ? ; , : | and the other operators, as written
};

struct Token {
  TokenKind kind;
  std::string_view text;  // see TokenKind; a view into the lexed source
  size_t offset = 0;      // byte offset of the token's first byte in the source
  size_t end = 0;         // byte offset just past the token

  bool Is(TokenKind k, std::string_view t) const { return kind == k && text == t; }
  bool IsPunct(std::string_view t) const { return Is(TokenKind::kPunct, t); }
  // True for kIdentifier tokens that are jq keywords (def, if, then, end, ...).
  bool IsKeyword() const;
};

struct LexError {
  size_t offset = 0;    // the opening bracket or quote left open, or the bad closing bracket
  std::string message;  // without offsets, e.g. "`(` is not closed", "`]` does not match `(`"
};

// Lexes `source` one token at a time.
class JqLexer {
 public:
  // `source` must outlive the lexer and the tokens it returns.
  explicit JqLexer(std::string_view source);

  // The next token, or nullopt at the end of the input, at a `}` that closes
  // no bracket opened by this lexer (when StopAtUnmatchedBrace() was asked
  // for; position() is then that `}`), or on an error (error() is then set).
  // At the end of the input, an unclosed bracket or string is an error.
  std::optional<Token> Next();

  // Makes Next() stop at a `}` that closes nothing instead of reporting an
  // error: used to find the end of `${ ... }` in a template.
  void StopAtUnmatchedBrace() { stop_at_unmatched_brace_ = true; }

  const std::optional<LexError>& error() const { return error_; }
  // Byte offset of the next unread byte.
  size_t position() const { return pos_; }
  // Number of currently open brackets (interpolations included).
  size_t depth() const { return open_.size(); }

 private:
  struct Open {
    char closer;    // ')' ']' '}' or 'i' for an interpolation
    size_t offset;  // where it was opened
  };

  void SkipSpaceAndComments();
  // Lexes string text from pos_ (just after `"` or the `)` that ended an
  // interpolation) to the closing quote or the next `\(`.
  std::optional<Token> LexStringPiece(size_t start, bool continued);
  std::optional<Token> Fail(size_t offset, std::string message);

  std::string_view src_;
  size_t pos_ = 0;
  std::vector<Open> open_;
  std::optional<LexError> error_;
  bool stop_at_unmatched_brace_ = false;
};

// All tokens of `source`. On a lexing error, the tokens before it and the
// error. Never stops at an unmatched `}` (that is an error here).
struct LexResult {
  std::vector<Token> tokens;
  std::optional<LexError> error;
};
LexResult LexJq(std::string_view source);

// The value of a jq string literal body without interpolation (the text of a
// kString token): resolves \" \\ \/ \b \f \n \r \t and \uXXXX (with surrogate
// pairs). Nullopt when an escape is invalid.
std::optional<std::string> DecodeJqString(std::string_view body);

// True when a `.` (or `.name`) token after `prev` (nullptr at the start)
// starts a new path (`.steps.x` reads the context) instead of indexing the
// value of the term before it (`f.x`, `$v.x`, `(…).x`).
bool StartsPath(const Token* prev);

}  // namespace cairn::expr
