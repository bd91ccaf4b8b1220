#include "expr/template.h"

#include <cassert>
#include <optional>

#include "expr/jq_lexer.h"

namespace cairn::expr {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool IsBlank(std::string_view s) {
  for (char c : s) {
    if (!IsSpace(c)) return false;
  }
  return true;
}

// Where the next `${` or `$${` starts at or after `from`, or npos.
size_t FindDollarBrace(std::string_view text, size_t from) {
  for (size_t i = text.find('$', from); i != std::string_view::npos; i = text.find('$', i + 1)) {
    if (text.substr(i, 2) == "${") return i;
    if (text.substr(i, 3) == "$${") return i;
  }
  return std::string_view::npos;
}

void AppendLiteral(std::vector<TemplatePart>& parts, std::string_view text, size_t offset) {
  if (text.empty()) return;
  if (!parts.empty() && !parts.back().is_expression()) {
    parts.back().text += text;
    return;
  }
  parts.push_back({TemplatePart::Kind::kLiteral, std::string(text), offset});
}

}  // namespace

size_t Template::expression_count() const {
  size_t n = 0;
  for (const TemplatePart& p : parts) n += p.is_expression() ? 1 : 0;
  return n;
}

bool Template::is_single_expression() const {
  if (expression_count() != 1) return false;
  for (const TemplatePart& p : parts) {
    if (!p.is_expression() && !IsBlank(p.text)) return false;
  }
  return true;
}

const TemplatePart& Template::single_expression() const {
  assert(is_single_expression());
  for (const TemplatePart& p : parts) {
    if (p.is_expression()) return p;
  }
  return parts.front();
}

Result<Template> ParseTemplate(std::string_view text) {
  Template result;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t at = FindDollarBrace(text, pos);
    if (at == std::string_view::npos) {
      AppendLiteral(result.parts, text.substr(pos), pos);
      break;
    }
    AppendLiteral(result.parts, text.substr(pos, at - pos), pos);
    if (text[at + 1] == '$') {  // the escape `$${`
      AppendLiteral(result.parts, "${", at);
      pos = at + 3;
      continue;
    }
    const size_t begin = at + 2;
    std::string_view rest = text.substr(begin);
    JqLexer lexer(rest);
    lexer.StopAtUnmatchedBrace();
    while (lexer.Next()) {
    }
    const size_t end = begin + lexer.position();
    if (lexer.error()) {
      return MakeError("expr.template", "`${` at offset " + std::to_string(at) + ": " +
                                            lexer.error()->message + " (offset " +
                                            std::to_string(begin + lexer.error()->offset) + ")");
    }
    if (end >= text.size()) {
      return MakeError("expr.template",
                       "`${` at offset " + std::to_string(at) + " is not closed by `}`");
    }
    result.parts.push_back(
        {TemplatePart::Kind::kExpression, std::string(text.substr(begin, end - begin)), begin});
    pos = end + 1;
  }
  return result;
}

bool ContainsExpression(std::string_view text) {
  for (size_t at = FindDollarBrace(text, 0); at != std::string_view::npos;
       at = FindDollarBrace(text, at + 3)) {
    if (text[at + 1] == '{') return true;
  }
  return false;
}

}  // namespace cairn::expr
