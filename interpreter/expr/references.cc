#include "expr/references.h"

#include <algorithm>
#include <optional>

#include "expr/jq_lexer.h"

namespace cairn::expr {
namespace {

// A statically named key of a path.
struct PathKey {
  std::string name;
  size_t offset;
};


// Reads one static key at tokens[i] and advances i past it (and past an
// optional `?`). `first` allows the forms that begin a path (`.name`,
// `."name"`, `.["name"]`); later keys may also be `["name"]`.
std::optional<PathKey> ReadKey(const std::vector<Token>& tokens, size_t& i, bool first) {
  auto string_at = [&](size_t k) -> std::optional<PathKey> {
    if (k >= tokens.size() || tokens[k].kind != TokenKind::kString) return std::nullopt;
    std::optional<std::string> name = DecodeJqString(tokens[k].text);
    if (!name) return std::nullopt;
    return PathKey{*name, tokens[k].offset};
  };
  std::optional<PathKey> key;
  size_t next = i;
  if (i >= tokens.size()) return std::nullopt;
  const Token& t = tokens[i];
  if (t.kind == TokenKind::kField) {
    key = PathKey{std::string(t.text), t.offset + 1};
    next = i + 1;
  } else if (t.IsPunct(".") && i + 1 < tokens.size() && tokens[i + 1].IsPunct("[")) {
    key = string_at(i + 2);
    next = i + 3;
    if (key && !(next < tokens.size() && tokens[next].IsPunct("]"))) key.reset();
    ++next;
  } else if (t.IsPunct(".")) {
    key = string_at(i + 1);
    next = i + 2;
  } else if (!first && t.IsPunct("[")) {
    key = string_at(i + 1);
    next = i + 2;
    if (key && !(next < tokens.size() && tokens[next].IsPunct("]"))) key.reset();
    ++next;
  }
  if (!key) return std::nullopt;
  if (next < tokens.size() && tokens[next].IsPunct("?")) ++next;
  i = next;
  return key;
}

// Calls visit(root, second) for every path that starts with a static key;
// `second` is the path's next static key, when there is one.
template <typename Visit>
void ForEachContextPath(std::string_view jq_source, Visit visit) {
  const std::vector<Token> tokens = LexJq(jq_source).tokens;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const Token* prev = i == 0 ? nullptr : &tokens[i - 1];
    if (!(tokens[i].kind == TokenKind::kField || tokens[i].IsPunct(".")) || !StartsPath(prev)) {
      continue;
    }
    size_t k = i;
    std::optional<PathKey> root = ReadKey(tokens, k, true);
    if (!root) continue;
    std::optional<PathKey> second = ReadKey(tokens, k, false);
    visit(*root, second);
  }
}

}  // namespace

std::vector<StepReference> FindStepReferences(std::string_view jq_source) {
  std::vector<StepReference> refs;
  ForEachContextPath(jq_source, [&](const PathKey& root, const std::optional<PathKey>& second) {
    if (root.name == "steps" && second) refs.push_back({second->name, second->offset});
  });
  return refs;
}

std::vector<std::string> FindRootFields(std::string_view jq_source) {
  std::vector<std::string> fields;
  ForEachContextPath(jq_source, [&](const PathKey& root, const std::optional<PathKey>&) {
    if (std::find(fields.begin(), fields.end(), root.name) == fields.end()) {
      fields.push_back(root.name);
    }
  });
  return fields;
}

}  // namespace cairn::expr
