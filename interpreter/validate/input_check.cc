// CRN070: `input:` must be a JSON Schema that valijson (which checks the
// execution input at run time) can use, with regular expressions that compile.
//
// valijson recurses without bound on a `$ref` that leads back to itself
// without descending into the value (`{$ref: "#"}` crashes its parser;
// `{allOf: [{$ref: "#"}]}` its validator), so such cycles are found first.
#include <regex>
#include <unordered_map>
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>

#include "validate/checks.h"

namespace cairn::validate {
namespace {

using nlohmann::json;

constexpr char kInputHint[] =
    "`input` is a JSON Schema (draft-07) of the execution input, e.g. "
    "{type: object, required: [message], properties: {message: {type: string}}}";

// Every `pattern: <string>` under the schema, with its pointer.
void CheckPatterns(const CheckContext& ctx, const json& schema) {
  std::vector<std::pair<const json*, std::string>> stack{{&schema, "/input"}};
  while (!stack.empty()) {
    auto [v, pointer] = stack.back();
    stack.pop_back();
    if (!v->is_structured()) continue;
    if (v->is_object()) {
      for (const auto& [key, child] : v->items()) {
        std::string child_pointer = PointerAppend(pointer, key);
        if (key == "pattern" && child.is_string()) {
          try {
            std::regex re(child.get<std::string>(), std::regex::ECMAScript);
          } catch (const std::regex_error& e) {
            ctx.Error(
                "CRN070", child_pointer,
                "`pattern` " + JsonText(child) + " is not a valid regular expression: " + e.what(),
                "write an ECMAScript regular expression, e.g. ^[a-z]+$");
          }
        } else {
          stack.emplace_back(&child, std::move(child_pointer));
        }
      }
    } else {
      for (size_t i = 0; i < v->size(); ++i) {
        stack.emplace_back(&(*v)[i], PointerAppend(pointer, i));
      }
    }
  }
}

// The subschemas applied to the same value as `node` ($ref, allOf, anyOf,
// oneOf, not, if/then/else), with the JSON pointer (within `input`) of each.
std::vector<std::pair<const json*, std::string>> SameValueChildren(const json& root,
                                                                   const json& node,
                                                                   const std::string& pointer) {
  std::vector<std::pair<const json*, std::string>> out;
  if (!node.is_object()) return out;
  if (auto it = node.find("$ref"); it != node.end() && it->is_string()) {
    const auto& ref = it->get_ref<const std::string&>();
    if (!ref.empty() && ref[0] == '#') {
      try {
        json::json_pointer target(ref.substr(1));
        if (root.contains(target)) out.emplace_back(&root.at(target), "/input" + ref.substr(1));
      } catch (const json::exception&) {
        // Not a JSON pointer: valijson's parser reports it.
      }
    }
  }
  for (const char* k : {"allOf", "anyOf", "oneOf"}) {
    auto it = node.find(k);
    if (it == node.end() || !it->is_array()) continue;
    for (size_t i = 0; i < it->size(); ++i) {
      out.emplace_back(&(*it)[i], PointerAppend(PointerAppend(pointer, k), i));
    }
  }
  for (const char* k : {"not", "if", "then", "else"}) {
    auto it = node.find(k);
    if (it != node.end() && it->is_object()) out.emplace_back(&*it, PointerAppend(pointer, k));
  }
  return out;
}

// Reports the first cycle of same-value subschemas; returns true if found.
bool FindRefCycle(const CheckContext& ctx, const json& root) {
  // Every subschema node of the document is a start candidate: walk them all.
  std::vector<std::pair<const json*, std::string>> nodes{{&root, "/input"}};
  for (size_t i = 0; i < nodes.size(); ++i) {
    const json& v = *nodes[i].first;
    if (v.is_object()) {
      for (const auto& [key, child] : v.items()) {
        const bool data = key == "enum" || key == "const" || key == "default" || key == "examples";
        if (child.is_structured() && !data) {
          nodes.emplace_back(&child, PointerAppend(nodes[i].second, key));
        }
      }
    } else if (v.is_array()) {
      for (size_t k = 0; k < v.size(); ++k) {
        nodes.emplace_back(&v[k], PointerAppend(nodes[i].second, k));
      }
    }
  }
  enum Color { kWhite, kGrey, kBlack };
  std::unordered_map<const json*, Color> color;
  struct Frame {
    const json* node;
    std::string pointer;
    std::vector<std::pair<const json*, std::string>> children;
    size_t next = 0;
  };
  for (const auto& [start, start_pointer] : nodes) {
    if (color[start] != kWhite) continue;
    std::vector<Frame> stack;
    color[start] = kGrey;
    stack.push_back({start, start_pointer, SameValueChildren(root, *start, start_pointer)});
    while (!stack.empty()) {
      Frame& f = stack.back();
      if (f.next == f.children.size()) {
        color[f.node] = kBlack;
        stack.pop_back();
        continue;
      }
      auto [child, child_pointer] = f.children[f.next++];
      if (color[child] == kGrey) {
        ctx.Error("CRN070", f.pointer,
                  "`input` applies a subschema to itself forever: a `$ref` cycle that never "
                  "descends into the value",
                  "a schema may refer to itself only inside `properties`, `items` and the like");
        return true;
      }
      if (color[child] == kWhite) {
        color[child] = kGrey;
        stack.push_back({child, child_pointer, SameValueChildren(root, *child, child_pointer)});
      }
    }
  }
  return false;
}

}  // namespace

void CheckInputSchema(const CheckContext& ctx) {
  const json& schema = ctx.def.input_schema;
  if (!schema.is_object()) return;  // absent, or not a mapping: the schema check reports it
  if (FindRefCycle(ctx, schema)) return;
  try {
    valijson::Schema parsed;
    valijson::SchemaParser parser;
    valijson::adapters::NlohmannJsonAdapter adapter(schema);
    parser.populateSchema(adapter, parsed);
  } catch (const std::exception& e) {
    std::string why = e.what();
    if (!why.empty() && why.back() == '.') why.pop_back();
    ctx.Error("CRN070", "/input", "`input` is not a valid JSON Schema: " + why, kInputHint);
    return;
  }
  CheckPatterns(ctx, schema);
}

}  // namespace cairn::validate
