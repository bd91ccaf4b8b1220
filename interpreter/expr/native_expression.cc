#include "expr/native_expression.h"

#include <algorithm>
#include <cfloat>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "expr/expression_set.h"
#include "expr/jq_lexer.h"

namespace cairn::expr {
namespace {

using nlohmann::json;

// ---- UTF-8 as jq 1.6 reads it (jv_unicode.c, jvp_utf8_next) ---------------

// Bytes of the sequence a lead byte starts: 1 for ASCII, 2-4 for a lead byte,
// 0 for a byte that never starts one (0xC0, 0xC1, 0xF5-0xFF), -1 for a
// continuation byte.
int CodingLength(unsigned char c) {
  if (c < 0x80) return 1;
  if (c < 0xC0) return -1;
  if (c < 0xC2) return 0;
  if (c < 0xE0) return 2;
  if (c < 0xF0) return 3;
  if (c < 0xF5) return 4;
  return 0;
}

// Decodes the character at s[i]: returns how many bytes jq consumes there
// and sets `cp` to the code point, or -1 when jq replaces those bytes with
// one U+FFFD. Note jq's quirks: a sequence cut short by the end of the
// string is one bad character whatever its bytes, and a lead byte followed
// by too few continuation bytes is one bad character up to the first
// non-continuation byte.
size_t Utf8Next(std::string_view s, size_t i, int* cp) {
  const auto first = static_cast<unsigned char>(s[i]);
  const int length = CodingLength(first);
  if (length == 1) {
    *cp = first;
    return 1;
  }
  if (length <= 0) {
    *cp = -1;
    return 1;
  }
  if (i + static_cast<size_t>(length) > s.size()) {
    *cp = -1;
    return s.size() - i;
  }
  static constexpr int kFirstCodepoint[] = {0, 0, 0x80, 0x800, 0x10000};
  int code = first & (0xFF >> (length + 1));
  for (int k = 1; k < length; ++k) {
    const auto c = static_cast<unsigned char>(s[i + static_cast<size_t>(k)]);
    if (CodingLength(c) != -1) {
      *cp = -1;
      return static_cast<size_t>(k);
    }
    code = (code << 6) | (c & 0x3F);
  }
  if (code < kFirstCodepoint[length] || (code >= 0xD800 && code <= 0xDFFF) || code > 0x10FFFF) {
    code = -1;
  }
  *cp = code;
  return static_cast<size_t>(length);
}

bool IsValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    int cp = 0;
    i += Utf8Next(s, i, &cp);
    if (cp < 0) return false;
  }
  return true;
}

// ---- tokens (jq 1.6's src/lexer.l, for the subset) ------------------------

enum class Tok {
  kDot,       // .
  kField,     // .name
  kNumber,    // 12, 1.5e3, .5, 1.
  kString,    // "..." without interpolation; text is the decoded value
  kDollar,    // $
  kIdent,     // true, false, null, ctx, or any other identifier (not in the subset)
  kAnd,       // and
  kOr,        // or
  kLParen,    // (
  kRParen,    // )
  kLBracket,  // [
  kRBracket,  // ]
  kMinus,     // -
  kPlus,      // +
  kPipe,      // |
  kCompare,   // == != < <= > >=
  kAlt,       // //
};

enum class CmpOp { kEq, kNe, kLt, kLe, kGt, kGe };

struct Lexeme {
  Tok kind;
  std::string text;  // kField: the name; kString: the value; kIdent: as written
  double number = 0;
  CmpOp op = CmpOp::kEq;
};

bool IsIdentStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsIdentChar(char c) { return IsIdentStart(c) || (c >= '0' && c <= '9'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool IsJqKeyword(std::string_view s) {
  static constexpr std::string_view kKeywords[] = {
      "__loc__", "and",    "as",      "break", "catch",  "def", "elif",   "else", "end", "foreach",
      "if",      "import", "include", "label", "module", "or",  "reduce", "then", "try"};
  for (std::string_view k : kKeywords) {
    if (k == s) return true;
  }
  return false;
}

// Lexes the whole source, or returns false for anything outside the subset
// (the caller then leaves the expression to jq).
class Lexer {
 public:
  explicit Lexer(std::string_view src) : src_(src) {}

  bool Run(std::vector<Lexeme>& out) {
    while (true) {
      SkipSpace();
      if (pos_ >= src_.size()) return true;
      Lexeme t;
      if (!Next(t)) return false;
      out.push_back(std::move(t));
    }
  }

 private:
  // jq 1.6 skips only ` `, `\t`, `\n` and `#` comments up to `\n` or `\r`
  // (a `\r` is then an invalid character).
  void SkipSpace() {
    while (pos_ < src_.size()) {
      const char c = src_[pos_];
      if (c == ' ' || c == '\t' || c == '\n') {
        ++pos_;
      } else if (c == '#') {
        while (pos_ < src_.size() && src_[pos_] != '\n' && src_[pos_] != '\r') ++pos_;
      } else {
        return;
      }
    }
  }

  char At(size_t i) const { return i < src_.size() ? src_[i] : '\0'; }

  // `([a-zA-Z_][a-zA-Z_0-9]*::)*[a-zA-Z_][a-zA-Z0-9_]*` from pos_.
  std::string_view LexIdent() {
    const size_t start = pos_;
    while (true) {
      while (IsIdentChar(At(pos_))) ++pos_;
      if (At(pos_) == ':' && At(pos_ + 1) == ':' && IsIdentStart(At(pos_ + 2))) {
        pos_ += 2;
        continue;
      }
      break;
    }
    return src_.substr(start, pos_ - start);
  }

  // jq 1.6's number rule, `[0-9.]+([eE][+-]?[0-9]+)?`, from pos_ (the
  // caller has ruled out `.`, `..` and `.name`). The text must then read as a
  // number in full: `1.5.` is jq's "Invalid numeric literal".
  bool LexNumber(Lexeme& t) {
    const size_t start = pos_;
    while (IsDigit(At(pos_)) || At(pos_) == '.') ++pos_;
    if (At(pos_) == 'e' || At(pos_) == 'E') {
      size_t e = pos_ + 1;
      if (At(e) == '+' || At(e) == '-') ++e;
      if (IsDigit(At(e))) {
        while (IsDigit(At(e))) ++e;
        pos_ = e;
      }
    }
    const std::string_view text = src_.substr(start, pos_ - start);
    t.kind = Tok::kNumber;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), t.number);
    // Overflow and underflow are left to jq (it gives ±infinity or zero).
    return ec == std::errc() && end == text.data() + text.size();
  }

  // A string literal from pos_ (at `"`): raw text must be valid UTF-8 and
  // escapes are those of JSON, decoded as jq_lexer does (DecodeJqString);
  // `\(` (interpolation), invalid escapes and lone surrogates are not in the
  // subset.
  bool LexString(Lexeme& t) {
    const size_t start = ++pos_;
    while (pos_ < src_.size() && src_[pos_] != '"') pos_ += src_[pos_] == '\\' ? 2 : 1;
    if (pos_ >= src_.size()) return false;
    const std::string_view body = src_.substr(start, pos_ - start);
    ++pos_;
    if (!IsValidUtf8(body)) return false;
    std::optional<std::string> text = DecodeJqString(body);
    if (!text) return false;
    t.kind = Tok::kString;
    t.text = std::move(*text);
    return true;
  }

  bool Next(Lexeme& t) {
    const char c = src_[pos_];
    const char d = At(pos_ + 1);
    auto punct = [&](Tok kind, size_t length) {
      t.kind = kind;
      pos_ += length;
      return true;
    };
    auto compare = [&](CmpOp op, size_t length) {
      t.op = op;
      return punct(Tok::kCompare, length);
    };
    switch (c) {
      case '.':
        // `..` is recurse, and `..5` or `...` invalid numbers.
        if (d == '.') return false;
        if (IsDigit(d)) return LexNumber(t);
        if (IsIdentStart(d)) {
          size_t end = pos_ + 1;
          while (IsIdentChar(At(end))) ++end;
          if (d == 'e' || d == 'E') {
            // `.e3` is as long as the number rule's match `.e3`, which comes
            // first in jq's lexer: an invalid number, not a field.
            size_t k = pos_ + 2;
            if (At(k) == '+' || At(k) == '-') ++k;
            if (IsDigit(At(k))) {
              while (IsDigit(At(k))) ++k;
              if (end <= k) return false;
            }
          }
          ++pos_;
          const size_t start = pos_;
          pos_ = end;
          t.kind = Tok::kField;
          t.text = std::string(src_.substr(start, pos_ - start));
          return true;
        }
        return punct(Tok::kDot, 1);
      case '"':
        return LexString(t);
      case '$':
        return punct(Tok::kDollar, 1);
      case '(':
        return punct(Tok::kLParen, 1);
      case ')':
        return punct(Tok::kRParen, 1);
      case '[':
        return punct(Tok::kLBracket, 1);
      case ']':
        return punct(Tok::kRBracket, 1);
      case '-':
        return d != '=' && punct(Tok::kMinus, 1);  // `-=` is an update
      case '+':
        return d != '=' && punct(Tok::kPlus, 1);  // `+=`
      case '|':
        return d != '=' && punct(Tok::kPipe, 1);  // `|=`
      case '/':
        return d == '/' && At(pos_ + 2) != '=' && punct(Tok::kAlt, 2);
      case '=':
        return d == '=' && compare(CmpOp::kEq, 2);
      case '!':
        return d == '=' && compare(CmpOp::kNe, 2);
      case '<':
        return d == '=' ? compare(CmpOp::kLe, 2) : compare(CmpOp::kLt, 1);
      case '>':
        return d == '=' ? compare(CmpOp::kGe, 2) : compare(CmpOp::kGt, 1);
      default:
        break;
    }
    if (IsDigit(c)) return LexNumber(t);
    if (IsIdentStart(c)) {
      const std::string_view ident = LexIdent();
      if (ident == "and") {
        t.kind = Tok::kAnd;
      } else if (ident == "or") {
        t.kind = Tok::kOr;
      } else if (IsJqKeyword(ident)) {
        return false;
      } else {
        t.kind = Tok::kIdent;
        t.text = std::string(ident);
      }
      return true;
    }
    return false;
  }

  std::string_view src_;
  size_t pos_ = 0;
};

}  // namespace

// ---- the tree ---------------------------------------------------------------

// One index applied to a value: `.name`, `."name"`, `["name"]` or `[n]`.
struct Step {
  bool by_number = false;
  std::string key;
  double number = 0;
};

struct NativeExpression::Node {
  enum class Kind {
    kDot,       // .
    kCtx,       // $ctx
    kLiteral,   // literal (a number is kept as the double jq holds)
    kCompare,   // operands[0] op operands[1]
    kAnd,       // operands joined by `and`
    kOr,        // operands joined by `or`
    kAlt,       // operands joined by `//`
    kGroup,     // ( operands[0] ), when steps follow it
    kPipe,      // operands joined by `|`
    kArith,     // operands joined by arith[i] ('+' or '-'), left to right
    kNegate,    // - operands[0]
    kLength,    // length (of `.`)
    kToNumber,  // tonumber (of `.`)
  };
  Kind kind = Kind::kDot;
  json literal;
  CmpOp op = CmpOp::kEq;
  std::vector<std::unique_ptr<Node>> operands;
  std::vector<char> arith;  // kArith: the operator between operands[i] and [i + 1]
  std::vector<Step> steps;  // applied to the value above, in order
};

namespace {

using Node = NativeExpression::Node;

// Deepest nesting of parentheses and operators that Parse takes; deeper
// sources go to jq (this bounds the recursion of Parse and Evaluate).
constexpr int kMaxParseDepth = 64;

class Parser {
 public:
  explicit Parser(const std::vector<Lexeme>& tokens) : tokens_(tokens) {}

  std::unique_ptr<Node> ParseAll() {
    std::unique_ptr<Node> root = Pipe(0);
    if (!root || pos_ != tokens_.size()) return nullptr;
    return root;
  }

 private:
  const Lexeme* Peek(size_t ahead = 0) const {
    return pos_ + ahead < tokens_.size() ? &tokens_[pos_ + ahead] : nullptr;
  }
  bool PeekIs(Tok kind, size_t ahead = 0) const {
    const Lexeme* t = Peek(ahead);
    return t != nullptr && t->kind == kind;
  }

  // pipe := alt ('|' alt)*  (right-associative in jq; with one output per
  // expression, a chain: each part runs on the value of the one before)
  std::unique_ptr<Node> Pipe(int depth) {
    return List(depth, Tok::kPipe, Node::Kind::kPipe, [this](int d) { return Alt(d); });
  }
  // alt := or ('//' alt)?  (right-associative, kept as a list)
  std::unique_ptr<Node> Alt(int depth) {
    return List(depth, Tok::kAlt, Node::Kind::kAlt, [this](int d) { return Or(d); });
  }
  // or := and ('or' and)*
  std::unique_ptr<Node> Or(int depth) {
    return List(depth, Tok::kOr, Node::Kind::kOr, [this](int d) { return And(d); });
  }
  // and := cmp ('and' cmp)*
  std::unique_ptr<Node> And(int depth) {
    return List(depth, Tok::kAnd, Node::Kind::kAnd, [this](int d) { return Compare(d); });
  }

  template <typename Sub>
  std::unique_ptr<Node> List(int depth, Tok separator, Node::Kind kind, Sub sub) {
    std::unique_ptr<Node> first = sub(depth);
    if (!first || !PeekIs(separator)) return first;
    auto node = std::make_unique<Node>();
    node->kind = kind;
    node->operands.push_back(std::move(first));
    while (PeekIs(separator)) {
      ++pos_;
      std::unique_ptr<Node> next = sub(depth);
      if (!next) return nullptr;
      node->operands.push_back(std::move(next));
    }
    return node;
  }

  // cmp := add (op add)?  (comparisons do not chain in jq)
  std::unique_ptr<Node> Compare(int depth) {
    std::unique_ptr<Node> lhs = Additive(depth);
    if (!lhs || !PeekIs(Tok::kCompare)) return lhs;
    const CmpOp op = tokens_[pos_++].op;
    std::unique_ptr<Node> rhs = Additive(depth);
    if (!rhs) return nullptr;
    auto node = std::make_unique<Node>();
    node->kind = Node::Kind::kCompare;
    node->op = op;
    node->operands.push_back(std::move(lhs));
    node->operands.push_back(std::move(rhs));
    return node;
  }

  bool PeekAdditive() const { return PeekIs(Tok::kPlus) || PeekIs(Tok::kMinus); }

  // add := unary (('+' | '-') unary)*  (left-associative, kept as a list)
  std::unique_ptr<Node> Additive(int depth) {
    std::unique_ptr<Node> first = Unary(depth);
    if (!first || !PeekAdditive()) return first;
    auto node = std::make_unique<Node>();
    node->kind = Node::Kind::kArith;
    node->operands.push_back(std::move(first));
    while (PeekAdditive()) {
      node->arith.push_back(tokens_[pos_++].kind == Tok::kPlus ? '+' : '-');
      std::unique_ptr<Node> next = Unary(depth);
      if (!next) return nullptr;
      node->operands.push_back(std::move(next));
    }
    return node;
  }

  // unary := '-' unary | postfix
  // jq's `'-' Exp` has the precedence of binary minus: it takes only what
  // binds tighter (postfix here), so `-1 + 2` is `(-1) + 2` and `-1 .a` is
  // `-(1 | .a)`. A negated number literal is folded.
  std::unique_ptr<Node> Unary(int depth) {
    if (!PeekIs(Tok::kMinus)) return Postfix(depth);
    if (depth >= kMaxParseDepth) return nullptr;
    ++pos_;
    std::unique_ptr<Node> operand = Unary(depth + 1);
    if (!operand) return nullptr;
    if (operand->kind == Node::Kind::kLiteral && operand->steps.empty() &&
        operand->literal.is_number()) {
      operand->literal = -operand->literal.get<double>();
      return operand;
    }
    auto node = std::make_unique<Node>();
    node->kind = Node::Kind::kNegate;
    node->operands.push_back(std::move(operand));
    return node;
  }

  // postfix := term suffix*
  std::unique_ptr<Node> Postfix(int depth) {
    std::unique_ptr<Node> node = Term(depth);
    if (!node) return nullptr;
    while (true) {
      if (PeekIs(Tok::kField)) {
        node->steps.push_back({false, tokens_[pos_++].text, 0});
      } else if (PeekIs(Tok::kDot) && PeekIs(Tok::kString, 1)) {
        node->steps.push_back({false, tokens_[pos_ + 1].text, 0});
        pos_ += 2;
      } else if (PeekIs(Tok::kLBracket)) {
        std::optional<Step> step = Bracket();
        if (!step) return nullptr;
        node->steps.push_back(std::move(*step));
      } else {
        return node;
      }
    }
  }

  // '[' STRING ']' | '[' '-'? NUMBER ']'
  std::optional<Step> Bracket() {
    ++pos_;
    Step step;
    if (PeekIs(Tok::kString) && PeekIs(Tok::kRBracket, 1)) {
      step.key = tokens_[pos_].text;
      pos_ += 2;
      return step;
    }
    bool negative = false;
    if (PeekIs(Tok::kMinus)) {
      negative = true;
      ++pos_;
    }
    if (!PeekIs(Tok::kNumber) || !PeekIs(Tok::kRBracket, 1)) return std::nullopt;
    step.by_number = true;
    step.number = negative ? -tokens_[pos_].number : tokens_[pos_].number;
    pos_ += 2;
    return step;
  }

  std::unique_ptr<Node> Literal(json value) {
    auto node = std::make_unique<Node>();
    node->kind = Node::Kind::kLiteral;
    node->literal = std::move(value);
    return node;
  }

  // term := '.' | '.' IDENT | '.' STRING | '$ctx' | NUMBER | STRING
  //       | 'true' | 'false' | 'null' | 'length' | 'tonumber' | '(' pipe ')'
  std::unique_ptr<Node> Term(int depth) {
    const Lexeme* t = Peek();
    if (t == nullptr) return nullptr;
    switch (t->kind) {
      case Tok::kDot:
      case Tok::kField: {
        // A leading FIELD or `."name"` is an index of `.`: leave it to Postfix.
        auto node = std::make_unique<Node>();
        node->kind = Node::Kind::kDot;
        if (t->kind == Tok::kDot && !PeekIs(Tok::kString, 1)) ++pos_;
        return node;
      }
      case Tok::kDollar: {
        const Lexeme* name = Peek(1);
        if (name == nullptr || name->kind != Tok::kIdent || name->text != "ctx") return nullptr;
        pos_ += 2;
        auto node = std::make_unique<Node>();
        node->kind = Node::Kind::kCtx;
        return node;
      }
      case Tok::kNumber:
        ++pos_;
        return Literal(t->number);
      case Tok::kString:
        ++pos_;
        return Literal(t->text);
      case Tok::kIdent:
        ++pos_;
        if (t->text == "true") return Literal(true);
        if (t->text == "false") return Literal(false);
        if (t->text == "null") return Literal(nullptr);
        if (t->text == "length" || t->text == "tonumber") {
          // Calls of jq's builtins (the sandbox prelude does not redefine them).
          auto node = std::make_unique<Node>();
          node->kind = t->text == "length" ? Node::Kind::kLength : Node::Kind::kToNumber;
          return node;
        }
        return nullptr;  // another call
      case Tok::kLParen: {
        if (depth >= kMaxParseDepth) return nullptr;
        ++pos_;
        std::unique_ptr<Node> inner = Pipe(depth + 1);
        if (!inner || !PeekIs(Tok::kRParen)) return nullptr;
        ++pos_;
        if (inner->steps.empty()) return inner;
        // `(.a).b`: the steps of the parenthesized expression come first.
        auto node = std::make_unique<Node>();
        node->kind = Node::Kind::kGroup;
        node->operands.push_back(std::move(inner));
        return node;
      }
      default:
        return nullptr;
    }
  }

  const std::vector<Lexeme>& tokens_;
  size_t pos_ = 0;
};

// ---- evaluation -------------------------------------------------------------

const json& NullValue() {
  static const json* const v = new json(nullptr);
  return *v;
}
const json& BoolValue(bool b) {
  static const json* const t = new json(true);
  static const json* const f = new json(false);
  return b ? *t : *f;
}

enum class Origin : uint8_t { kConstant, kDot, kCtx };

struct Composite;

// A value met during evaluation: a reference into the expression (literals,
// booleans, null), to a number or string the evaluation computed (also
// kConstant: held as jq holds it), into one of the inputs, at `depth` below
// its root, or an array or object the evaluation built (`c`; then `v` is
// null).
struct Value {
  const json* v;
  int depth;
  Origin origin;
  const Composite* c = nullptr;
};

// An array or object built by `+` or `-`. Its elements (member values) are
// values of the inputs, kept as references: jq's `-` compares elements with
// jv_equal, for which an array or object is always equal to itself (even
// with a NaN inside), and error messages print an object's keys in jq's
// order (first insertion), not sorted.
struct Composite {
  bool is_object = false;
  std::vector<Value> items;           // elements, or member values
  std::vector<std::string> keys;      // objects: keys as jq holds them (UTF-8 fixed), jq's order
  mutable std::optional<json> built;  // the value (strings fixed, numbers as read), on first use
};

struct Inputs {
  const json* dot;
  const json* ctx;
  bool ctx_apart;  // $ctx is a separate input (else it is `dot`)
};

NativeError InputError(const Inputs& in, Origin origin, std::string message) {
  return NativeError{
      (origin == Origin::kCtx && in.ctx_apart ? "$ctx: " : "context: ") + std::move(message), true};
}

std::string DepthMessage() {
  return "value nested deeper than " + std::to_string(kMaxValueDepth) + " levels";
}
constexpr char kBinaryMessage[] = "binary values cannot be used in expressions";

bool IsBinary(const json& v) { return v.is_binary() || v.is_discarded(); }

const char* KindName(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return "boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
      return "number";
    case json::value_t::string:
      return "string";
    case json::value_t::array:
      return "array";
    case json::value_t::object:
      return "object";
    default:
      return "binary";
  }
}

double NumberValue(const json& v) {
  switch (v.type()) {
    case json::value_t::number_integer:
      return static_cast<double>(v.get<int64_t>());
    case json::value_t::number_unsigned:
      return static_cast<double>(v.get<uint64_t>());
    default:
      return v.get<double>();
  }
}

// Walks `v` (at `depth`) as the jq path converts it: fails where that
// conversion fails (depth-first, first problem wins). When `out` is set, it
// receives the value as jq gives it back (numbers as doubles, invalid UTF-8
// replaced); when `strings_only`, numbers are kept as they are (for
// comparisons, which read them as doubles anyway). Returns the message.
std::optional<std::string> Convert(const json& v, int depth, bool strings_only, json* out) {
  switch (v.type()) {
    case json::value_t::null:
    case json::value_t::boolean:
      if (out) *out = v;
      return std::nullopt;
    case json::value_t::number_integer:
      if (out) *out = v;
      return std::nullopt;
    case json::value_t::number_unsigned:
      if (out) {
        const uint64_t u = v.get<uint64_t>();
        *out = !strings_only && u <= static_cast<uint64_t>(INT64_MAX)
                   ? json(static_cast<int64_t>(u))
                   : v;
      }
      return std::nullopt;
    case json::value_t::number_float:
      if (out) *out = strings_only ? v : NumberFromJq(v.get<double>());
      return std::nullopt;
    case json::value_t::string:
      if (out) {
        std::optional<std::string> fixed = ReplaceInvalidUtf8(v.get_ref<const std::string&>());
        *out = fixed ? json(std::move(*fixed)) : v;
      }
      return std::nullopt;
    case json::value_t::array: {
      if (depth >= kMaxValueDepth) return DepthMessage();
      if (out) *out = json::array();
      for (const json& item : v) {
        json converted;
        if (auto e = Convert(item, depth + 1, strings_only, out ? &converted : nullptr)) return e;
        if (out) out->push_back(std::move(converted));
      }
      return std::nullopt;
    }
    case json::value_t::object: {
      if (depth >= kMaxValueDepth) return DepthMessage();
      if (out) *out = json::object();
      for (const auto& [key, item] : v.items()) {
        json converted;
        if (auto e = Convert(item, depth + 1, strings_only, out ? &converted : nullptr)) return e;
        if (out) {
          // Keys that become equal once fixed collapse: the last one wins, as
          // in jq's object.
          std::optional<std::string> fixed = ReplaceInvalidUtf8(key);
          (*out)[fixed ? *fixed : key] = std::move(converted);
        }
      }
      return std::nullopt;
    }
    default:
      return std::string(kBinaryMessage);
  }
}

// True when `v` holds a string or key with invalid UTF-8.
bool HasInvalidUtf8(const json& v) {
  switch (v.type()) {
    case json::value_t::string:
      return !IsValidUtf8(v.get_ref<const std::string&>());
    case json::value_t::array:
      for (const json& item : v) {
        if (HasInvalidUtf8(item)) return true;
      }
      return false;
    case json::value_t::object:
      for (const auto& [key, item] : v.items()) {
        if (!IsValidUtf8(key) || HasInvalidUtf8(item)) return true;
      }
      return false;
    default:
      return false;
  }
}

// jq's kinds in jq's order: null < false < true < number < string < array < object.
int KindRank(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return 1;
    case json::value_t::boolean:
      return v.get<bool>() ? 3 : 2;
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
      return 4;
    case json::value_t::string:
      return 5;
    case json::value_t::array:
      return 6;
    default:
      return 7;
  }
}

// jv_cmp of jq 1.6 (as Debian ships it): NaN sorts below every number.
// Strings compare by bytes (std::string compares chars as unsigned, like
// memcmp); objects by their sorted keys, then by the values in key order.
int Compare(const json& a, const json& b) {
  const int ka = KindRank(a);
  const int kb = KindRank(b);
  if (ka != kb) return ka < kb ? -1 : 1;
  switch (ka) {
    case 4: {
      const double da = NumberValue(a);
      const double db = NumberValue(b);
      if (std::isnan(da)) return -1;
      if (std::isnan(db)) return 1;
      return da < db ? -1 : (da == db ? 0 : 1);
    }
    case 5: {
      const int r = a.get_ref<const std::string&>().compare(b.get_ref<const std::string&>());
      return r < 0 ? -1 : (r > 0 ? 1 : 0);
    }
    case 6: {
      for (size_t i = 0;; ++i) {
        const bool a_done = i >= a.size();
        const bool b_done = i >= b.size();
        if (a_done || b_done) return static_cast<int>(b_done) - static_cast<int>(a_done);
        if (int r = Compare(a[i], b[i])) return r;
      }
    }
    case 7: {
      auto ia = a.items().begin();
      auto ib = b.items().begin();
      for (;; ++ia, ++ib) {
        const bool a_done = ia == a.items().end();
        const bool b_done = ib == b.items().end();
        if (a_done || b_done) {
          if (a_done != b_done) return static_cast<int>(b_done) - static_cast<int>(a_done);
          break;
        }
        const int r = ia.key().compare(ib.key());
        if (r != 0) return r < 0 ? -1 : 1;
      }
      for (ia = a.items().begin(), ib = b.items().begin(); ia != a.items().end(); ++ia, ++ib) {
        if (int r = Compare(ia.value(), ib.value())) return r;
      }
      return 0;
    }
    default:
      return 0;
  }
}

// ---- printing values as jq 1.6 does in error messages -----------------------

// A number as jv_dump prints it (jvp_dtoa_fmt): the shortest digits that
// read back as the same double; exponent form (`1e+17`, `1.5e-07`) when the
// decimal point would sit more than 15 places after the digits or 4 or more
// places before them; NaN as null and ±infinity as ±DBL_MAX.
std::string JqNumberText(double d) {
  if (std::isnan(d)) return "null";
  if (d > DBL_MAX) d = DBL_MAX;
  if (d < -DBL_MAX) d = -DBL_MAX;
  char buf[64];
  const auto [end, ec] =
      std::to_chars(buf, buf + sizeof(buf), std::fabs(d), std::chars_format::scientific);
  const std::string_view sci(buf, ec == std::errc() ? static_cast<size_t>(end - buf) : 0);
  const size_t e = sci.find('e');
  if (e == std::string_view::npos || e + 2 >= sci.size()) return "null";  // not reached
  std::string digits(1, sci[0]);
  if (e > 2) digits.append(sci.substr(2, e - 2));
  int exponent = 0;
  std::from_chars(sci.data() + e + 2, sci.data() + sci.size(), exponent);
  if (sci[e + 1] == '-') exponent = -exponent;
  const int decpt = exponent + 1;  // digits are 0.DIGITS * 10^decpt
  const int count = static_cast<int>(digits.size());
  std::string out = std::signbit(d) ? "-" : "";
  if (decpt <= -4 || decpt > count + 15) {
    out += digits[0];
    if (count > 1) out.append(".").append(digits, 1);
    const int x = decpt - 1;
    out += x < 0 ? "e-" : "e+";
    if (std::abs(x) < 10) out += '0';
    out += std::to_string(std::abs(x));
  } else if (decpt <= 0) {
    out.append("0.").append(static_cast<size_t>(-decpt), '0').append(digits);
  } else if (count <= decpt) {
    out.append(digits).append(static_cast<size_t>(decpt - count), '0');
  } else {
    out.append(digits, 0, static_cast<size_t>(decpt))
        .append(".")
        .append(digits, static_cast<size_t>(decpt));
  }
  return out;
}

// A string as jv_dump prints it (not ASCII-only): `"` and `\` escaped,
// control characters and DEL as \b \t \n \f \r or \u00XX, the rest as is.
// `s` must be valid UTF-8 (as jq holds it).
void AppendJqString(std::string_view s, std::string& out) {
  out += '"';
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20 || c == 0x7F) {
          static constexpr char kHex[] = "0123456789abcdef";
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xF];
        } else {
          out += ch;
        }
    }
  }
  out += '"';
}

// The members of an object of the inputs as jq holds it: keys with invalid
// UTF-8 fixed; keys that become equal collapse at the first one's place,
// with the last one's value (jv_object_set in key order).
std::vector<std::pair<std::string, const json*>> JqMembers(const json& object) {
  std::vector<std::pair<std::string, const json*>> members;
  members.reserve(object.size());
  bool fixed_any = false;
  for (const auto& [key, item] : object.items()) {
    std::optional<std::string> fixed = ReplaceInvalidUtf8(key);
    if (fixed) fixed_any = true;
    members.emplace_back(fixed ? std::move(*fixed) : key, &item);
  }
  if (!fixed_any) return members;
  std::vector<std::pair<std::string, const json*>> collapsed;
  std::unordered_map<std::string, size_t> where;
  for (auto& [key, item] : members) {
    auto [it, inserted] = where.emplace(key, collapsed.size());
    if (inserted) {
      collapsed.emplace_back(std::move(key), item);
    } else {
      collapsed[it->second].second = item;
    }
  }
  return collapsed;
}

// Appends jv_dump_string(v, 0) of a value of the inputs (numbers as the
// doubles jq holds), stopping soon after `out` exceeds `limit` bytes.
void AppendJqDump(const json& v, std::string& out, size_t limit) {
  if (out.size() > limit) return;
  switch (v.type()) {
    case json::value_t::null:
      out += "null";
      return;
    case json::value_t::boolean:
      out += v.get<bool>() ? "true" : "false";
      return;
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
      out += JqNumberText(NumberValue(v));
      return;
    case json::value_t::string: {
      const std::string& s = v.get_ref<const std::string&>();
      std::optional<std::string> fixed = ReplaceInvalidUtf8(s);
      AppendJqString(fixed ? *fixed : s, out);
      return;
    }
    case json::value_t::array: {
      out += '[';
      bool first = true;
      for (const json& item : v) {
        if (out.size() > limit) return;
        if (!first) out += ',';
        first = false;
        AppendJqDump(item, out, limit);
      }
      out += ']';
      return;
    }
    case json::value_t::object: {
      out += '{';
      bool first = true;
      for (const auto& [key, item] : JqMembers(v)) {
        if (out.size() > limit) return;
        if (!first) out += ',';
        first = false;
        AppendJqString(key, out);
        out += ':';
        AppendJqDump(*item, out, limit);
      }
      out += '}';
      return;
    }
    default:
      return;  // binary: checked before printing
  }
}

// jv_dump_string_trunc with jq's 15-byte buffers (type_error, type_error2):
// at most 14 bytes; a longer text is cut to 11 bytes and `...`.
constexpr size_t kDumpBytes = 14;
std::string TruncateDump(std::string dump) {
  if (dump.size() > kDumpBytes) {
    dump.resize(kDumpBytes - 3);
    dump += "...";
  }
  return dump;
}

// Code points of `s` as jq holds it (each ill-formed sequence is one U+FFFD).
size_t CodepointCount(std::string_view s) {
  size_t count = 0;
  for (size_t i = 0; i < s.size(); ++count) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
    } else {
      int cp = 0;
      i += Utf8Next(s, i, &cp);
    }
  }
  return count;
}

class Evaluator {
 public:
  explicit Evaluator(const Inputs& in) : in_(in), dot_{in.dot, 0, Origin::kDot} {}

  // On failure sets error_ and returns nullopt.
  std::optional<Value> Eval(const Node& node) {
    std::optional<Value> v = EvalTerm(node);
    if (!v) return std::nullopt;
    for (const Step& step : node.steps) {
      v = Index(*v, step);
      if (!v) return std::nullopt;
    }
    return v;
  }

  // The value as the jq path returns it.
  std::optional<json> Result(const Value& v) {
    json out;
    if (v.c != nullptr) {
      const json* built = Build(*v.c);
      if (built == nullptr) return std::nullopt;
      // Strings are fixed and depths checked already: this converts numbers.
      (void)Convert(*built, 0, false, &out);
      return out;
    }
    if (v.origin == Origin::kConstant) {
      if (v.v->is_number()) return NumberFromJq(NumberValue(*v.v));
      return *v.v;
    }
    if (auto e = Convert(*v.v, v.depth, false, &out)) {
      error_ = InputError(in_, v.origin, std::move(*e));
      return std::nullopt;
    }
    return out;
  }

  NativeError& error() { return error_; }

 private:
  std::optional<Value> Fail(std::string message) {
    error_ = NativeError{std::move(message), false};
    return std::nullopt;
  }
  std::optional<Value> FailInput(const Value& v, std::string message) {
    error_ = InputError(in_, v.origin, std::move(message));
    return std::nullopt;
  }

  // A number or string computed here.
  Value Computed(json value) {
    scalars_.push_back(std::move(value));
    return Value{&scalars_.back(), 0, Origin::kConstant};
  }
  Value Built(Composite composite) {
    composites_.push_back(std::move(composite));
    return Value{nullptr, 0, Origin::kConstant, &composites_.back()};
  }

  std::optional<Value> EvalTerm(const Node& node) {
    switch (node.kind) {
      case Node::Kind::kDot:
        return dot_;
      case Node::Kind::kCtx:
        return Value{in_.ctx, 0, in_.ctx_apart ? Origin::kCtx : Origin::kDot};
      case Node::Kind::kLiteral:
        return Value{&node.literal, 0, Origin::kConstant};
      case Node::Kind::kCompare:
        return EvalCompare(node);
      case Node::Kind::kAnd:
      case Node::Kind::kOr: {
        // jq: `a and b` runs a, then b only when a is true; gives a boolean.
        const bool is_and = node.kind == Node::Kind::kAnd;
        for (const auto& operand : node.operands) {
          std::optional<bool> truth = Truth(*operand);
          if (!truth) return std::nullopt;
          if (*truth != is_and) return Value{&BoolValue(!is_and), 0, Origin::kConstant};
        }
        return Value{&BoolValue(is_and), 0, Origin::kConstant};
      }
      case Node::Kind::kAlt: {
        // jq 1.6's `a // b`: a's value unless it is false or null; an error
        // raised by a is not suppressed.
        for (size_t i = 0; i + 1 < node.operands.size(); ++i) {
          std::optional<Value> v = Eval(*node.operands[i]);
          if (!v) return std::nullopt;
          std::optional<bool> truth = TruthOf(*v);
          if (!truth) return std::nullopt;
          if (*truth) return v;
        }
        return Eval(*node.operands.back());
      }
      case Node::Kind::kGroup:
        return Eval(*node.operands[0]);
      case Node::Kind::kPipe: {
        const Value outer = dot_;
        std::optional<Value> v = Eval(*node.operands[0]);
        for (size_t i = 1; v && i < node.operands.size(); ++i) {
          dot_ = *v;
          v = Eval(*node.operands[i]);
        }
        dot_ = outer;
        return v;
      }
      case Node::Kind::kArith: {
        // jq evaluates `(a - b) - c` as c, then b, then a, then applies the
        // operators from the left.
        std::vector<Value> values(node.operands.size());
        for (size_t i = node.operands.size(); i-- > 0;) {
          std::optional<Value> v = Eval(*node.operands[i]);
          if (!v) return std::nullopt;
          values[i] = *v;
        }
        Value acc = values[0];
        for (size_t i = 1; i < values.size(); ++i) {
          std::optional<Value> next =
              node.arith[i - 1] == '+' ? Add(acc, values[i]) : Subtract(acc, values[i]);
          if (!next) return std::nullopt;
          acc = *next;
        }
        return acc;
      }
      case Node::Kind::kNegate: {
        std::optional<Value> v = Eval(*node.operands[0]);
        if (!v) return std::nullopt;
        return Negate(*v);
      }
      case Node::Kind::kLength:
        return Length(dot_);
      case Node::Kind::kToNumber:
        return ToNumber(dot_);
    }
    return Fail("unknown expression");
  }

  // jq's truthiness: only false and null are false.
  std::optional<bool> TruthOf(const Value& v) {
    if (v.c != nullptr) return true;
    if (IsBinary(*v.v)) {
      FailInput(v, kBinaryMessage);
      return std::nullopt;
    }
    return !v.v->is_null() && !(v.v->is_boolean() && !v.v->get<bool>());
  }

  std::optional<bool> Truth(const Node& node) {
    std::optional<Value> v = Eval(node);
    if (!v) return std::nullopt;
    return TruthOf(*v);
  }

  // The array or object `c` as a json value (strings fixed, numbers as
  // read); null after an error (an element too deep or binary).
  const json* Build(const Composite& c) {
    if (c.built) return &*c.built;
    json out = c.is_object ? json::object() : json::array();
    for (size_t i = 0; i < c.items.size(); ++i) {
      const Value& item = c.items[i];
      json converted;
      if (auto e = Convert(*item.v, item.depth, true, &converted)) {
        FailInput(item, std::move(*e));
        return nullptr;
      }
      if (c.is_object) {
        out[c.keys[i]] = std::move(converted);
      } else {
        out.push_back(std::move(converted));
      }
    }
    c.built = std::move(out);
    return &*c.built;
  }

  // A comparison operand as jq holds it: checked like the jq path's
  // conversion, strings fixed as jq fixes them (into `storage` when needed).
  // Null after an error.
  const json* Prepare(const Value& v, std::optional<json>& storage) {
    if (v.c != nullptr) return Build(*v.c);
    if (v.origin == Origin::kConstant) return v.v;
    if (v.v->is_string()) {
      std::optional<std::string> fixed = ReplaceInvalidUtf8(v.v->get_ref<const std::string&>());
      if (!fixed) return v.v;
      storage = json(std::move(*fixed));
      return &*storage;
    }
    if (!v.v->is_structured()) {
      if (IsBinary(*v.v)) {
        FailInput(v, kBinaryMessage);
        return nullptr;
      }
      return v.v;
    }
    if (auto e = Convert(*v.v, v.depth, true, nullptr)) {
      FailInput(v, std::move(*e));
      return nullptr;
    }
    if (!HasInvalidUtf8(*v.v)) return v.v;
    storage.emplace();
    (void)Convert(*v.v, v.depth, true, &*storage);
    return &*storage;
  }

  // jv_identical for arrays and objects: the same jq value (one jv shared).
  static bool Identical(const Value& a, const Value& b) {
    if (a.c != nullptr || b.c != nullptr) return a.c == b.c;
    return a.v == b.v && a.origin == b.origin && a.origin != Origin::kConstant &&
           a.v->is_structured();
  }

  std::optional<Value> EvalCompare(const Node& node) {
    // jq evaluates the right operand first (its error wins).
    std::optional<Value> rhs = Eval(*node.operands[1]);
    if (!rhs) return std::nullopt;
    std::optional<Value> lhs = Eval(*node.operands[0]);
    if (!lhs) return std::nullopt;
    std::optional<json> ls, rs;
    const json* l = Prepare(*lhs, ls);
    if (l == nullptr) return std::nullopt;
    const json* r = Prepare(*rhs, rs);
    if (r == nullptr) return std::nullopt;
    bool result = false;
    if (node.op == CmpOp::kEq || node.op == CmpOp::kNe) {
      // jv_equal: the same array or object (one jv shared) is equal to
      // itself even when a NaN inside compares unequal.
      const bool equal = Identical(*lhs, *rhs) || Compare(*l, *r) == 0;
      result = node.op == CmpOp::kEq ? equal : !equal;
    } else {
      const int c = Compare(*l, *r);
      switch (node.op) {
        case CmpOp::kLt:
          result = c < 0;
          break;
        case CmpOp::kLe:
          result = c <= 0;
          break;
        case CmpOp::kGt:
          result = c > 0;
          break;
        default:
          result = c >= 0;
          break;
      }
    }
    return Value{&BoolValue(result), 0, Origin::kConstant};
  }

  // ---- jq 1.6's builtins: _plus, _minus, _negate, length, tonumber ----

  static const char* KindOf(const Value& v) {
    if (v.c != nullptr) return v.c->is_object ? "object" : "array";
    return KindName(*v.v);
  }

  // Fails like the jq path's conversion when `v` holds a binary value or is
  // nested too deep (it is about to be read whole).
  bool CheckWhole(const Value& v) {
    if (v.c != nullptr) {
      for (const Value& item : v.c->items) {
        if (!CheckWhole(item)) return false;
      }
      return true;
    }
    if (v.origin == Origin::kConstant) return true;
    if (auto e = Convert(*v.v, v.depth, true, nullptr)) {
      FailInput(v, std::move(*e));
      return false;
    }
    return true;
  }

  // jv_dump_string_trunc of `v` (CheckWhole first).
  std::string Dump(const Value& v) {
    std::string out;
    if (v.c == nullptr) {
      AppendJqDump(*v.v, out, kDumpBytes);
      return TruncateDump(std::move(out));
    }
    const Composite& c = *v.c;
    out += c.is_object ? '{' : '[';
    for (size_t i = 0; i < c.items.size() && out.size() <= kDumpBytes; ++i) {
      if (i > 0) out += ',';
      if (c.is_object) {
        AppendJqString(c.keys[i], out);
        out += ':';
      }
      AppendJqDump(*c.items[i].v, out, kDumpBytes);
    }
    out += c.is_object ? '}' : ']';
    return TruncateDump(std::move(out));
  }

  // jq's messages are built with jv_string_fmt, which fixes the UTF-8 that a
  // cut dump may have broken.
  std::optional<Value> FailFixed(std::string message) {
    std::optional<std::string> fixed = ReplaceInvalidUtf8(message);
    return Fail(fixed ? std::move(*fixed) : std::move(message));
  }

  // type_error: `number (1) cannot be negated`.
  std::optional<Value> TypeError(const Value& v, const char* message) {
    if (!CheckWhole(v)) return std::nullopt;
    return FailFixed(std::string(KindOf(v)) + " (" + Dump(v) + ") " + message);
  }

  // type_error2: `number (1) and string ("a") cannot be added`.
  std::optional<Value> TypeError2(const Value& a, const Value& b, const char* message) {
    if (!CheckWhole(a) || !CheckWhole(b)) return std::nullopt;
    return FailFixed(std::string(KindOf(a)) + " (" + Dump(a) + ") and " + KindOf(b) + " (" +
                     Dump(b) + ") " + message);
  }

  // Fails for a value jq could not have read: binary, or an array or object
  // of the inputs at kMaxValueDepth (its contents are about to be read).
  bool Readable(const Value& v) {
    if (v.c != nullptr) return true;
    if (IsBinary(*v.v)) {
      FailInput(v, kBinaryMessage);
      return false;
    }
    if (v.v->is_structured() && v.depth >= kMaxValueDepth && v.origin != Origin::kConstant) {
      FailInput(v, DepthMessage());
      return false;
    }
    return true;
  }

  // A string as jq holds it (invalid UTF-8 fixed).
  static std::string Text(const Value& v) {
    const std::string& s = v.v->get_ref<const std::string&>();
    std::optional<std::string> fixed = ReplaceInvalidUtf8(s);
    return fixed ? std::move(*fixed) : s;
  }

  static bool IsEmpty(const Value& v) { return v.c != nullptr ? v.c->items.empty() : v.v->empty(); }

  // The elements of an array (Readable).
  static void AppendItems(const Value& v, std::vector<Value>& out) {
    if (v.c != nullptr) {
      out.insert(out.end(), v.c->items.begin(), v.c->items.end());
      return;
    }
    for (const json& item : *v.v) out.push_back(Value{&item, v.depth + 1, v.origin});
  }

  // f_plus: null is the identity; numbers add, strings, arrays concatenate,
  // objects merge (the right one's members win; keys keep the place of their
  // first insertion).
  std::optional<Value> Add(const Value& a, const Value& b) {
    if (!Readable(a) || !Readable(b)) return std::nullopt;
    const std::string_view ka = KindOf(a);
    const std::string_view kb = KindOf(b);
    if (ka == "null") return b;
    if (kb == "null") return a;
    if (ka == "number" && kb == "number") {
      return Computed(json(NumberValue(*a.v) + NumberValue(*b.v)));
    }
    if (ka == "string" && kb == "string") return Computed(json(Text(a) + Text(b)));
    if (ka == "array" && kb == "array") {
      // jv_array_concat appends b's elements to a: with none, a itself.
      if (IsEmpty(b)) return a;
      Composite out;
      AppendItems(a, out.items);
      AppendItems(b, out.items);
      return Built(std::move(out));
    }
    if (ka == "object" && kb == "object") {
      if (IsEmpty(b)) return a;  // jv_object_merge sets nothing: a itself
      Composite out;
      out.is_object = true;
      std::unordered_map<std::string, size_t> where;
      auto set = [&](std::string key, const Value& item) {
        auto [it, inserted] = where.emplace(key, out.items.size());
        if (inserted) {
          out.keys.push_back(std::move(key));
          out.items.push_back(item);
        } else {
          out.items[it->second] = item;
        }
      };
      for (const Value* side : {&a, &b}) {
        if (side->c != nullptr) {
          for (size_t i = 0; i < side->c->items.size(); ++i)
            set(side->c->keys[i], side->c->items[i]);
        } else {
          for (auto& [key, item] : JqMembers(*side->v)) {
            set(std::move(key), Value{item, side->depth + 1, side->origin});
          }
        }
      }
      return Built(std::move(out));
    }
    return TypeError2(a, b, "cannot be added");
  }

  // f_minus: numbers subtract; arrays lose every element equal (jv_equal)
  // to an element of the right one.
  std::optional<Value> Subtract(const Value& a, const Value& b) {
    if (!Readable(a) || !Readable(b)) return std::nullopt;
    const std::string_view ka = KindOf(a);
    const std::string_view kb = KindOf(b);
    if (ka == "number" && kb == "number") {
      return Computed(json(NumberValue(*a.v) - NumberValue(*b.v)));
    }
    if (ka == "array" && kb == "array") {
      std::vector<Value> left, right;
      AppendItems(a, left);
      AppendItems(b, right);
      std::vector<std::optional<json>> right_storage(right.size());
      std::vector<const json*> right_held(right.size());
      for (size_t j = 0; j < right.size(); ++j) {
        right_held[j] = Prepare(right[j], right_storage[j]);
        if (right_held[j] == nullptr) return std::nullopt;
      }
      Composite out;
      for (const Value& x : left) {
        std::optional<json> storage;
        const json* held = Prepare(x, storage);
        if (held == nullptr) return std::nullopt;
        bool keep = true;
        for (size_t j = 0; j < right.size() && keep; ++j) {
          keep = !(Identical(x, right[j]) || Compare(*held, *right_held[j]) == 0);
        }
        if (keep) out.items.push_back(x);
      }
      return Built(std::move(out));
    }
    return TypeError2(a, b, "cannot be subtracted");
  }

  // f_negate.
  std::optional<Value> Negate(const Value& v) {
    if (!Readable(v)) return std::nullopt;
    if (v.c == nullptr && v.v->is_number()) return Computed(json(-NumberValue(*v.v)));
    return TypeError(v, "cannot be negated");
  }

  // f_length: null 0, a number its absolute value, a string its code points,
  // an array or object its size; booleans fail.
  std::optional<Value> Length(const Value& v) {
    if (!Readable(v)) return std::nullopt;
    if (v.c != nullptr) return Computed(json(static_cast<double>(v.c->items.size())));
    const json& t = *v.v;
    switch (t.type()) {
      case json::value_t::null:
        return Computed(json(0.0));
      case json::value_t::number_integer:
      case json::value_t::number_unsigned:
      case json::value_t::number_float:
        return Computed(json(std::fabs(NumberValue(t))));
      case json::value_t::string:
        return Computed(json(static_cast<double>(CodepointCount(t.get_ref<const std::string&>()))));
      case json::value_t::array:
        return Computed(json(static_cast<double>(t.size())));
      case json::value_t::object:
        return Computed(json(static_cast<double>(JqMembers(t).size())));
      default:
        return TypeError(v, "has no length");
    }
  }

  // f_tonumber: a number as is; a string parsed by jq's JSON parser (the
  // same libjq function, see ParseNumberLikeJq); anything else fails.
  std::optional<Value> ToNumber(const Value& v) {
    if (!Readable(v)) return std::nullopt;
    if (v.c == nullptr && v.v->is_number()) return v;
    if (v.c == nullptr && v.v->is_string()) {
      JqParsedNumber parsed = ParseNumberLikeJq(Text(v));
      if (parsed.number) return Computed(json(*parsed.number));
      if (!parsed.error.empty()) return Fail(std::move(parsed.error));
    }
    return TypeError(v, "cannot be parsed as a number");
  }

  // jq 1.6's jv_get for a string or number key.
  std::optional<Value> Index(const Value& v, const Step& step) {
    if (v.c != nullptr) return IndexBuilt(*v.c, step);
    const json& t = *v.v;
    if (IsBinary(t)) return FailInput(v, kBinaryMessage);
    if (t.is_structured() && v.depth >= kMaxValueDepth && v.origin != Origin::kConstant) {
      return FailInput(v, DepthMessage());
    }
    if (t.is_null()) return Value{&NullValue(), 0, Origin::kConstant};
    if (!step.by_number && t.is_object()) {
      const json* found = Lookup(t, step.key);
      if (found == nullptr) return Value{&NullValue(), 0, Origin::kConstant};
      return Value{found, v.depth + 1, v.origin};
    }
    if (step.by_number && t.is_array()) {
      const std::optional<size_t> i = ArrayIndex(step.number, t.size());
      if (!i) return Value{&NullValue(), 0, Origin::kConstant};
      return Value{&t[*i], v.depth + 1, v.origin};
    }
    return IndexError(KindName(t), step);
  }

  std::optional<Value> IndexBuilt(const Composite& c, const Step& step) {
    if (!step.by_number && c.is_object) {
      for (size_t i = 0; i < c.keys.size(); ++i) {
        if (c.keys[i] == step.key) return c.items[i];
      }
      return Value{&NullValue(), 0, Origin::kConstant};
    }
    if (step.by_number && !c.is_object) {
      const std::optional<size_t> i = ArrayIndex(step.number, c.items.size());
      if (!i) return Value{&NullValue(), 0, Origin::kConstant};
      return c.items[*i];
    }
    return IndexError(c.is_object ? "object" : "array", step);
  }

  // jv_array_get's index: within int's range and whole (else null); a
  // negative one counts from the end.
  static std::optional<size_t> ArrayIndex(double x, size_t size) {
    if (std::isnan(x) || x > INT32_MAX || x < INT32_MIN || x != static_cast<int>(x)) {
      return std::nullopt;
    }
    int64_t i = static_cast<int>(x);
    if (i < 0) i += static_cast<int64_t>(size);
    if (i < 0 || static_cast<uint64_t>(i) >= size) return std::nullopt;
    return static_cast<size_t>(i);
  }

  std::optional<Value> IndexError(const char* kind, const Step& step) {
    if (step.by_number) return Fail(std::string("Cannot index ") + kind + " with number");
    // jq formats the key with %s (it stops at a NUL) when it is short.
    if (step.key.size() < 30) {
      return Fail(std::string("Cannot index ") + kind + " with string \"" +
                  step.key.substr(0, step.key.find('\0')) + "\"");
    }
    return Fail(std::string("Cannot index ") + kind + " with string");
  }

  // The value of `key` in `object` as jq sees the object: keys with invalid
  // UTF-8 read as fixed (several may collapse; the last one wins).
  static const json* Lookup(const json& object, const std::string& key) {
    constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
    if (key.find(kReplacement) == std::string::npos) {
      auto it = object.find(key);
      return it == object.end() ? nullptr : &*it;
    }
    const json* found = nullptr;
    for (auto it = object.begin(); it != object.end(); ++it) {
      std::optional<std::string> fixed = ReplaceInvalidUtf8(it.key());
      if ((fixed ? *fixed : it.key()) == key) found = &*it;
    }
    return found;
  }

  Inputs in_;
  Value dot_;  // `.`: the input, or within `a | b` the value of a
  NativeError error_;
  std::deque<json> scalars_;          // numbers and strings computed (stable addresses)
  std::deque<Composite> composites_;  // arrays and objects built
};

}  // namespace

std::optional<NativeExpression> NativeExpression::Parse(std::string_view source) {
  // jq reads the program as a C string.
  if (source.find('\0') != std::string_view::npos) return std::nullopt;
  std::vector<Lexeme> tokens;
  if (!Lexer(source).Run(tokens) || tokens.empty()) return std::nullopt;
  std::unique_ptr<Node> root = Parser(tokens).ParseAll();
  if (!root) return std::nullopt;
  return NativeExpression(std::move(root));
}

NativeExpression::NativeExpression(std::unique_ptr<Node> root) : root_(std::move(root)) {}
NativeExpression::~NativeExpression() = default;
NativeExpression::NativeExpression(NativeExpression&&) noexcept = default;
NativeExpression& NativeExpression::operator=(NativeExpression&&) noexcept = default;

NativeExpression::Outcome NativeExpression::Evaluate(const json& dot, const json* ctx) const {
  const Inputs in{&dot, ctx != nullptr ? ctx : &dot, ctx != nullptr};
  Evaluator evaluator(in);
  Outcome outcome;
  std::optional<Value> v = evaluator.Eval(*root_);
  if (v) outcome.value = evaluator.Result(*v);
  if (!outcome.value) outcome.error = std::move(evaluator.error());
  return outcome;
}

namespace {

// What StepReads collects: the names after `.steps` of the paths that start
// at the context, until a read of any step makes the list moot.
class StepReadCollector {
 public:
  // `dot_is_context`: `.` at `node` is (or may be) the context.
  void Visit(const Node& node, bool dot_is_context) {
    if (everything_) return;
    switch (node.kind) {
      case Node::Kind::kDot:
        if (dot_is_context) Path(node.steps);
        return;
      case Node::Kind::kCtx:
        Path(node.steps);
        return;
      case Node::Kind::kLiteral:
      case Node::Kind::kLength:
      case Node::Kind::kToNumber:
        return;
      case Node::Kind::kPipe:
        // Each part after the first runs on the value of the one before: its
        // `.` is the context only when that value is, and a part that gives
        // the context (or `.steps`) is a read of everything already.
        for (size_t i = 0; i < node.operands.size(); ++i) {
          Visit(*node.operands[i], dot_is_context && i == 0);
        }
        return;
      case Node::Kind::kCompare:
      case Node::Kind::kAnd:
      case Node::Kind::kOr:
      case Node::Kind::kAlt:
      case Node::Kind::kGroup:
      case Node::Kind::kArith:
      case Node::Kind::kNegate:
        // The suffixes of such a node index its value, which holds the
        // context or `.steps` only through a bare read of them below.
        for (const auto& operand : node.operands) Visit(*operand, dot_is_context);
        return;
    }
    everything_ = true;  // a kind this does not know
  }

  std::optional<std::vector<std::string>> Take() {
    if (everything_) return std::nullopt;
    std::sort(names_.begin(), names_.end());
    names_.erase(std::unique(names_.begin(), names_.end()), names_.end());
    return std::move(names_);
  }

 private:
  // A path applied to the context.
  void Path(const std::vector<Step>& steps) {
    if (steps.empty() || steps[0].by_number) {
      everything_ = true;
      return;
    }
    if (steps[0].key != "steps") return;
    if (steps.size() < 2 || steps[1].by_number) {
      everything_ = true;
      return;
    }
    names_.push_back(steps[1].key);
  }

  bool everything_ = false;
  std::vector<std::string> names_;
};

}  // namespace

std::optional<std::vector<std::string>> NativeExpression::StepReads() const {
  StepReadCollector collector;
  collector.Visit(*root_, /*dot_is_context=*/true);
  return collector.Take();
}

json NumberFromJq(double d) {
  if (std::isnan(d)) return nullptr;
  if (std::isinf(d)) return d > 0 ? DBL_MAX : -DBL_MAX;
  if (d == std::trunc(d) && !(d == 0 && std::signbit(d))) {
    if (d >= -9223372036854775808.0 && d < 9223372036854775808.0) return static_cast<int64_t>(d);
    if (d >= 0 && d < 18446744073709551616.0) return static_cast<uint64_t>(d);
  }
  return d;
}

std::optional<std::string> ReplaceInvalidUtf8(std::string_view bytes) {
  if (IsValidUtf8(bytes)) return std::nullopt;
  std::string out;
  out.reserve(bytes.size() + 8);
  for (size_t i = 0; i < bytes.size();) {
    int cp = 0;
    const size_t n = Utf8Next(bytes, i, &cp);
    if (cp < 0) {
      out += "\xEF\xBF\xBD";
    } else {
      out.append(bytes.substr(i, n));
    }
    i += n;
  }
  return out;
}

}  // namespace cairn::expr
