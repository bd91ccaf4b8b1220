#include "expr/jq_lexer.h"

#include <array>
#include <cstdint>

namespace cairn::expr {
namespace {

constexpr std::array<std::string_view, 19> kKeywords = {
    "__loc__", "and",    "as",      "break", "catch",  "def", "elif",   "else", "end", "foreach",
    "if",      "import", "include", "label", "module", "or",  "reduce", "then", "try"};

bool IsIdentStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsIdentChar(char c) { return IsIdentStart(c) || (c >= '0' && c <= '9'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Length of the identifier (with `a::b` module paths) starting at `s[i]`.
size_t IdentifierLength(std::string_view s, size_t i) {
  size_t j = i;
  while (true) {
    size_t k = j;
    if (k >= s.size() || !IsIdentStart(s[k])) return j - i;
    while (k < s.size() && IsIdentChar(s[k])) ++k;
    j = k;
    if (j + 2 < s.size() && s[j] == ':' && s[j + 1] == ':' && IsIdentStart(s[j + 2])) {
      j += 2;
      continue;
    }
    return j - i;
  }
}

// Multi-byte operators of jq 1.6, longest first where one is a prefix of another.
constexpr std::array<std::string_view, 16> kOperators = {
    "?//", "//=", "!=", "==", "//", "|=", "+=", "-=", "*=", "/=", "%=", "<=", ">=", "..", "?", "."};

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void AppendUtf8(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::optional<uint32_t> ReadHex4(std::string_view s, size_t i) {
  if (i + 4 > s.size()) return std::nullopt;
  uint32_t v = 0;
  for (size_t k = i; k < i + 4; ++k) {
    int h = HexValue(s[k]);
    if (h < 0) return std::nullopt;
    v = v * 16 + static_cast<uint32_t>(h);
  }
  return v;
}

}  // namespace

bool Token::IsKeyword() const {
  if (kind != TokenKind::kIdentifier) return false;
  for (std::string_view k : kKeywords) {
    if (k == text) return true;
  }
  return false;
}

JqLexer::JqLexer(std::string_view source) : src_(source) {}

std::optional<Token> JqLexer::Fail(size_t offset, std::string message) {
  error_ = LexError{offset, std::move(message)};
  return std::nullopt;
}

void JqLexer::SkipSpaceAndComments() {
  while (pos_ < src_.size()) {
    char c = src_[pos_];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      ++pos_;
    } else if (c == '#') {
      while (pos_ < src_.size() && src_[pos_] != '\n' && src_[pos_] != '\r') ++pos_;
    } else {
      return;
    }
  }
}

std::optional<Token> JqLexer::LexStringPiece(size_t start, bool continued) {
  size_t body = pos_;
  while (pos_ < src_.size()) {
    char c = src_[pos_];
    if (c == '"') {
      std::string_view text = src_.substr(body, pos_ - body);
      ++pos_;
      return Token{continued ? TokenKind::kStringEnd : TokenKind::kString, text, start, pos_};
    }
    if (c == '\\') {
      if (pos_ + 1 >= src_.size()) break;
      if (src_[pos_ + 1] == '(') {
        std::string_view text = src_.substr(body, pos_ - body);
        pos_ += 2;
        open_.push_back({'i', pos_ - 2});
        return Token{continued ? TokenKind::kStringMiddle : TokenKind::kStringStart, text, start,
                     pos_};
      }
      pos_ += 2;
      continue;
    }
    ++pos_;
  }
  return Fail(start, "string literal is not terminated");
}

std::optional<Token> JqLexer::Next() {
  if (error_) return std::nullopt;
  SkipSpaceAndComments();
  if (pos_ >= src_.size()) {
    if (!open_.empty()) {
      const Open& o = open_.back();
      if (o.closer == 'i') return Fail(o.offset, "string interpolation `\\(` is not closed");
      return Fail(o.offset, std::string("`") + src_[o.offset] + "` is not closed");
    }
    return std::nullopt;
  }
  const size_t start = pos_;
  const char c = src_[pos_];

  if (c == '"') {
    ++pos_;
    return LexStringPiece(start, false);
  }
  if (c == '(' || c == '[' || c == '{') {
    open_.push_back({c == '(' ? ')' : c == '[' ? ']' : '}', start});
    ++pos_;
    return Token{TokenKind::kPunct, src_.substr(start, 1), start, pos_};
  }
  if (c == ')' || c == ']' || c == '}') {
    if (open_.empty()) {
      if (c == '}' && stop_at_unmatched_brace_) return std::nullopt;
      return Fail(start, std::string("`") + c + "` closes nothing");
    }
    const Open o = open_.back();
    if (o.closer == 'i' && c == ')') {
      open_.pop_back();
      ++pos_;
      return LexStringPiece(start, true);
    }
    if (o.closer != c) {
      std::string opener = o.closer == 'i' ? "\\(" : std::string(1, src_[o.offset]);
      return Fail(start, std::string("`") + c + "` does not match `" + opener + "`");
    }
    open_.pop_back();
    ++pos_;
    return Token{TokenKind::kPunct, src_.substr(start, 1), start, pos_};
  }
  if (c == '$') {
    ++pos_;
    SkipSpaceAndComments();
    size_t n = IdentifierLength(src_, pos_);
    if (n == 0) return Token{TokenKind::kPunct, src_.substr(start, 1), start, start + 1};
    size_t name = pos_;
    pos_ += n;
    return Token{TokenKind::kVariable, src_.substr(name, n), start, pos_};
  }
  if (c == '@') {
    size_t n = 1;
    while (start + n < src_.size() && IsIdentChar(src_[start + n])) ++n;
    if (n > 1) {
      pos_ += n;
      return Token{TokenKind::kFormat, src_.substr(start + 1, n - 1), start, pos_};
    }
  }
  if (c == '.' && pos_ + 1 < src_.size() && IsIdentStart(src_[pos_ + 1])) {
    size_t n = 0;
    while (pos_ + 1 + n < src_.size() && IsIdentChar(src_[pos_ + 1 + n])) ++n;
    pos_ += 1 + n;
    return Token{TokenKind::kField, src_.substr(start + 1, n), start, pos_};
  }
  if (IsDigit(c) || (c == '.' && pos_ + 1 < src_.size() && IsDigit(src_[pos_ + 1]))) {
    while (pos_ < src_.size() && (IsDigit(src_[pos_]) || src_[pos_] == '.')) ++pos_;
    if (pos_ < src_.size() && (src_[pos_] == 'e' || src_[pos_] == 'E')) {
      size_t k = pos_ + 1;
      if (k < src_.size() && (src_[k] == '+' || src_[k] == '-')) ++k;
      if (k < src_.size() && IsDigit(src_[k])) {
        while (k < src_.size() && IsDigit(src_[k])) ++k;
        pos_ = k;
      }
    }
    return Token{TokenKind::kNumber, src_.substr(start, pos_ - start), start, pos_};
  }
  if (IsIdentStart(c)) {
    size_t n = IdentifierLength(src_, pos_);
    pos_ += n;
    return Token{TokenKind::kIdentifier, src_.substr(start, n), start, pos_};
  }
  for (std::string_view op : kOperators) {
    if (src_.substr(pos_, op.size()) == op) {
      pos_ += op.size();
      return Token{TokenKind::kPunct, op, start, pos_};
    }
  }
  ++pos_;
  return Token{TokenKind::kPunct, src_.substr(start, 1), start, pos_};
}

LexResult LexJq(std::string_view source) {
  LexResult result;
  JqLexer lexer(source);
  while (std::optional<Token> t = lexer.Next()) result.tokens.push_back(*t);
  result.error = lexer.error();
  return result;
}

std::optional<std::string> DecodeJqString(std::string_view body) {
  std::string out;
  out.reserve(body.size());
  for (size_t i = 0; i < body.size(); ++i) {
    char c = body[i];
    if (c != '\\') {
      out += c;
      continue;
    }
    if (++i >= body.size()) return std::nullopt;
    switch (body[i]) {
      case '"':
        out += '"';
        break;
      case '\\':
        out += '\\';
        break;
      case '/':
        out += '/';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'u': {
        std::optional<uint32_t> cp = ReadHex4(body, i + 1);
        if (!cp) return std::nullopt;
        i += 4;
        if (*cp >= 0xD800 && *cp < 0xDC00) {
          std::optional<uint32_t> low;
          if (i + 2 < body.size() && body[i + 1] == '\\' && body[i + 2] == 'u') {
            low = ReadHex4(body, i + 3);
          }
          if (!low || *low < 0xDC00 || *low >= 0xE000) return std::nullopt;
          i += 6;
          *cp = 0x10000 + ((*cp - 0xD800) << 10) + (*low - 0xDC00);
        } else if (*cp >= 0xDC00 && *cp < 0xE000) {
          return std::nullopt;
        }
        AppendUtf8(*cp, out);
        break;
      }
      default:
        return std::nullopt;
    }
  }
  return out;
}

// True when a `.` (or `.name`) after `prev` starts a new path instead of
// indexing the value of a previous term.
bool StartsPath(const Token* prev) {
  if (prev == nullptr) return true;
  switch (prev->kind) {
    case TokenKind::kField:
    case TokenKind::kVariable:
    case TokenKind::kNumber:
    case TokenKind::kString:
    case TokenKind::kStringEnd:
    case TokenKind::kFormat:
      return false;
    case TokenKind::kIdentifier:
      // A call (`f.x`) or a term-ending keyword; other keywords start an expression.
      return prev->IsKeyword() && prev->text != "end" && prev->text != "__loc__";
    case TokenKind::kStringStart:
    case TokenKind::kStringMiddle:
      return true;
    case TokenKind::kPunct:
      return !(prev->text == ")" || prev->text == "]" || prev->text == "}" || prev->text == "?" ||
               prev->text == "." || prev->text == "..");
  }
  return true;
}

}  // namespace cairn::expr
