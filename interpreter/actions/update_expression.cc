#include "actions/update_expression.h"

#include <set>

#include "actions/attribute_value.h"

namespace cairn::actions::dynamodb {
namespace {

using nlohmann::json;

Error Invalid(std::string message) { return MakeError("invalid", std::move(message)); }

constexpr const char* kGeneratedPrefixes[] = {"#set", ":set", "#rem", "#add", ":add"};

// Refuses a user placeholder that the generated ones could collide with.
Status CheckUserPlaceholders(const json& map, const char* param) {
  if (!map.is_object()) return {};
  for (const auto& [key, value] : map.items()) {
    for (const char* prefix : kGeneratedPrefixes) {
      if (key.rfind(prefix, 0) == 0) {
        return Invalid("`" + std::string(param) + "` uses the placeholder " + key +
                       ", but placeholders starting with " + prefix +
                       " are the ones cairn writes for set/remove/add; rename it");
      }
    }
  }
  return {};
}

}  // namespace

Result<BuiltUpdate> BuildUpdate(const json& set, const json& remove, const json& add,
                                const json& user_names, const json& user_values) {
  BuiltUpdate out;
  out.names = json::object();
  out.values = json::object();
  if (auto s = CheckUserPlaceholders(user_names, "names"); !s.ok()) return s.error();
  if (auto s = CheckUserPlaceholders(user_values, "values"); !s.ok()) return s.error();
  if (user_names.is_object()) out.names = user_names;
  if (user_values.is_object()) out.values = user_values;

  std::set<std::string> touched;  // DynamoDB refuses two clauses on one attribute
  auto touch = [&](const std::string& attribute, const char* clause) -> Status {
    if (attribute.empty())
      return Invalid("`" + std::string(clause) + "` has an empty attribute name");
    if (!touched.insert(attribute).second) {
      return Invalid("the attribute '" + attribute + "' is updated twice (in `" + clause +
                     "` and another clause); DynamoDB refuses overlapping paths");
    }
    return {};
  };

  std::string expression;
  if (!set.is_null()) {
    if (!set.is_object() || set.empty()) {
      return Invalid("`set` must be an object of attributes to write, e.g. {status: DONE}");
    }
    std::string clause;
    size_t i = 0;
    for (const auto& [attribute, value] : set.items()) {
      if (auto s = touch(attribute, "set"); !s.ok()) return s.error();
      auto av = MarshalValue(value, "set." + attribute);
      if (!av.ok()) return av.error();
      const std::string n = "#set" + std::to_string(i);
      const std::string v = ":set" + std::to_string(i);
      out.names[n] = attribute;
      out.values[v] = std::move(*av);
      clause += (i == 0 ? "SET " : ", ") + n + " = " + v;
      ++i;
    }
    expression += clause;
  }
  if (!remove.is_null()) {
    if (!remove.is_array() || remove.empty()) {
      return Invalid("`remove` must be a list of attribute names, e.g. [lease]");
    }
    std::string clause;
    for (size_t i = 0; i < remove.size(); ++i) {
      if (!remove[i].is_string()) {
        return Invalid("`remove[" + std::to_string(i) + "]` must be an attribute name, got " +
                       std::string(remove[i].type_name()));
      }
      const std::string attribute = remove[i].get<std::string>();
      if (auto s = touch(attribute, "remove"); !s.ok()) return s.error();
      const std::string n = "#rem" + std::to_string(i);
      out.names[n] = attribute;
      clause += (i == 0 ? "REMOVE " : ", ") + n;
    }
    expression += (expression.empty() ? "" : " ") + clause;
  }
  if (!add.is_null()) {
    if (!add.is_object() || add.empty()) {
      return Invalid(
          "`add` must be an object of numbers to add or sets to extend, e.g. {attempts: 1}");
    }
    std::string clause;
    size_t i = 0;
    for (const auto& [attribute, value] : add.items()) {
      if (auto s = touch(attribute, "add"); !s.ok()) return s.error();
      if (!value.is_number() && !value.is_array()) {
        return Invalid("`add." + attribute +
                       "` must be a number or a list (a set to extend), got " +
                       std::string(value.type_name()));
      }
      auto av = MarshalValue(value, "add." + attribute, SetArrays::kSets);
      if (!av.ok()) return av.error();
      const std::string n = "#add" + std::to_string(i);
      const std::string v = ":add" + std::to_string(i);
      out.names[n] = attribute;
      out.values[v] = std::move(*av);
      clause += (i == 0 ? "ADD " : ", ") + n + " " + v;
      ++i;
    }
    expression += (expression.empty() ? "" : " ") + clause;
  }
  if (expression.empty()) {
    return Invalid(
        "nothing to update: write `set`, `remove` or `add` (or a raw `update` expression)");
  }
  out.expression = std::move(expression);
  return out;
}

}  // namespace cairn::actions::dynamodb
