#include "validate/context_paths.h"

#include <algorithm>
#include <iterator>

#include "expr/jq_lexer.h"

namespace cairn::validate {
namespace {

using expr::Token;
using expr::TokenKind;

// Builtins whose function arguments run on values other than their input.
constexpr std::string_view kElementWise[] = {
    "map",    "map_values", "any",   "all",          "sort_by",    "group_by",       "unique_by",
    "min_by", "max_by",     "walk",  "with_entries", "recurse",    "recurse_down",   "until",
    "while",  "repeat",     "paths", "leaf_paths",   "fromstream", "truncate_stream"};

bool IsElementWise(std::string_view name) {
  return std::find(std::begin(kElementWise), std::end(kElementWise), name) !=
         std::end(kElementWise);
}


struct Key {
  std::string name;
  size_t offset;
};

// Reads one static key at tokens[i], advancing i past it and an optional `?`.
std::optional<Key> ReadKey(const std::vector<Token>& tokens, size_t& i, bool first) {
  auto string_at = [&](size_t k) -> std::optional<Key> {
    if (k >= tokens.size() || tokens[k].kind != TokenKind::kString) return std::nullopt;
    std::optional<std::string> name = expr::DecodeJqString(tokens[k].text);
    if (!name) return std::nullopt;
    return Key{*name, tokens[k].offset};
  };
  auto closes = [&](size_t k) { return k < tokens.size() && tokens[k].IsPunct("]"); };
  if (i >= tokens.size()) return std::nullopt;
  const Token& t = tokens[i];
  std::optional<Key> key;
  size_t next = i;
  if (t.kind == TokenKind::kField) {
    key = Key{std::string(t.text), t.offset + 1};
    next = i + 1;
  } else if (t.IsPunct(".") && i + 1 < tokens.size() && tokens[i + 1].IsPunct("[")) {
    key = string_at(i + 2);
    if (!closes(i + 3)) key.reset();
    next = i + 4;
  } else if (t.IsPunct(".")) {
    key = string_at(i + 1);
    next = i + 2;
  } else if (!first && t.IsPunct("[")) {
    key = string_at(i + 1);
    if (!closes(i + 2)) key.reset();
    next = i + 3;
  }
  if (!key) return std::nullopt;
  if (next < tokens.size() && tokens[next].IsPunct("?")) ++next;
  i = next;
  return key;
}

// What `.` is within one bracket level.
struct Frame {
  bool dot_is_context = true;
  bool binding = false;  // after `as` / `label`: the next `|` keeps `.`
  bool in_def = false;   // inside a `def` body, until its `;`
  bool dot_before_def = true;
};

}  // namespace

std::vector<ContextPath> FindContextPaths(std::string_view jq_source) {
  const std::vector<Token> tokens = expr::LexJq(jq_source).tokens;
  std::vector<ContextPath> paths;
  std::vector<Frame> frames{Frame{}};
  for (size_t i = 0; i < tokens.size(); ++i) {
    const Token& t = tokens[i];
    const Token* prev = i == 0 ? nullptr : &tokens[i - 1];
    Frame& top = frames.back();

    if ((t.kind == TokenKind::kField || t.IsPunct(".")) && expr::StartsPath(prev)) {
      size_t k = i;
      if (std::optional<Key> root = ReadKey(tokens, k, true)) {
        ContextPath p;
        p.root = root->name;
        p.root_offset = t.offset;
        p.certain = top.dot_is_context;
        if (std::optional<Key> second = ReadKey(tokens, k, false)) {
          p.key = second->name;
          p.key_offset = second->offset;
        }
        paths.push_back(std::move(p));
      }
    }

    if (t.kind == TokenKind::kPunct) {
      if (t.text == "(") {
        bool dot = top.dot_is_context;
        if (prev != nullptr && prev->kind == TokenKind::kIdentifier && !prev->IsKeyword() &&
            IsElementWise(prev->text)) {
          dot = false;
        }
        if (prev != nullptr && prev->kind == TokenKind::kVariable) {
          dot = false;  // a reduce/foreach body
        }
        frames.push_back(Frame{dot});
      } else if (t.text == "[" || t.text == "{") {
        frames.push_back(Frame{top.dot_is_context});
      } else if (t.text == ")" || t.text == "]" || t.text == "}") {
        if (frames.size() > 1) frames.pop_back();
      } else if (t.text == "|") {
        if (top.binding) {
          top.binding = false;
        } else {
          top.dot_is_context = false;
        }
      } else if (t.text == ";" && top.in_def) {
        top.in_def = false;
        top.dot_is_context = top.dot_before_def;
      }
    } else if (t.kind == TokenKind::kStringStart) {
      frames.push_back(Frame{top.dot_is_context});
    } else if (t.kind == TokenKind::kStringEnd) {
      if (frames.size() > 1) frames.pop_back();
    } else if (t.kind == TokenKind::kIdentifier) {
      if (t.text == "as" || t.text == "label") {
        top.binding = true;
      } else if (t.text == "def") {
        if (!top.in_def) top.dot_before_def = top.dot_is_context;
        top.in_def = true;
        top.dot_is_context = false;
      } else if (t.text == "catch") {
        top.dot_is_context = false;
      }
    }
  }
  return paths;
}

}  // namespace cairn::validate
