// Matching execution histories and results against AWS's published durable
// execution conformance scenarios (../shared/conformance, README.upstream.md
// › Placeholders and Wildcards). Shared by the scripted-SDK history test of
// the local service and by tests/conformance (cairn workflows).
//
// Rules:
//  * '*' matches any value;
//  * ${NAME} of a scenario Variable is substituted before matching
//    (Substitute); ${GEN_STR:N} in Variables makes a random alphanumeric
//    string of length N (MakeVariables);
//  * any other ${NAME} (${ID1}, ${CTX1}, …) binds to the value first seen
//    and must stay the same wherever it appears again;
//  * ${/regex/} matches when the regular expression finds a match in the
//    value (anchors are written in the regex when wanted);
//  * scalars compare as text (YAML `2` matches JSON 2 and "2");
//  * objects match as subsets in histories (keys not written are not
//    checked) and exactly (same keys) in results; lists element by element;
//    an expected null accepts anything.
// Events are matched by EventId; events the scenario does not list are
// not checked (the scenarios leave out those whose order is not defined).
//
// Thread-safety: a Matcher is used by one thread (it records bindings).
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <string>

namespace cairn::backend::local::testing {

// A YAML node as JSON, plain scalars typed as YAML 1.2's core schema says
// (null, booleans, integers, floats); quoted scalars stay strings.
inline nlohmann::json ScenarioJson(const YAML::Node& n) {
  using nlohmann::json;
  if (!n || n.IsNull()) return nullptr;
  if (n.IsMap()) {
    json j = json::object();
    for (const auto& kv : n) j[kv.first.as<std::string>()] = ScenarioJson(kv.second);
    return j;
  }
  if (n.IsSequence()) {
    json j = json::array();
    for (const auto& v : n) j.push_back(ScenarioJson(v));
    return j;
  }
  const std::string s = n.Scalar();
  if (n.Tag() != "?") return s;  // quoted or explicitly tagged: a string
  static const std::regex null_re("^(null|Null|NULL|~)?$");
  static const std::regex bool_re("^(true|True|TRUE|false|False|FALSE)$");
  static const std::regex int_re("^[-+]?[0-9]+$");
  static const std::regex float_re(R"(^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$)");
  if (std::regex_match(s, null_re)) return nullptr;
  if (std::regex_match(s, bool_re)) return s[0] == 't' || s[0] == 'T';
  if (std::regex_match(s, int_re) && s.size() < 18) return std::stoll(s);
  if (std::regex_match(s, float_re)) return std::stod(s);
  return s;
}

// The text a scalar compares as: strings as they are, other values as JSON.
inline std::string ScalarText(const nlohmann::json& v) {
  return v.is_string() ? v.get<std::string>() : v.dump();
}

// The scenario's Variables with ${GEN_STR:N} generated.
inline std::map<std::string, std::string> MakeVariables(const YAML::Node& variables) {
  std::map<std::string, std::string> out;
  if (!variables || !variables.IsMap()) return out;
  static const std::regex gen(R"(^\$\{GEN_STR:(\d+)\}$)");
  static const char kAlphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::random_device device;
  std::mt19937 rng(device());
  std::uniform_int_distribution<size_t> pick(0, sizeof(kAlphabet) - 2);
  for (const auto& kv : variables) {
    std::string spec = kv.second.as<std::string>();
    std::smatch m;
    if (std::regex_match(spec, m, gen)) {
      std::string value;
      for (size_t i = 0, n = std::stoul(m[1]); i < n; ++i) value += kAlphabet[pick(rng)];
      spec = value;
    }
    out[kv.first.as<std::string>()] = spec;
  }
  return out;
}

class Matcher {
 public:
  explicit Matcher(std::map<std::string, std::string> variables) : vars_(std::move(variables)) {}

  // Substitutes ${VAR} for the scenario's variables in every string.
  nlohmann::json Substitute(const nlohmann::json& v) const {
    if (v.is_object() || v.is_array()) {
      nlohmann::json out = v;
      for (auto& [k, x] : out.items()) x = Substitute(x);
      return out;
    }
    if (!v.is_string()) return v;
    std::string s = v.get<std::string>();
    for (const auto& [name, value] : vars_) {
      const std::string token = "${" + name + "}";
      for (size_t pos = s.find(token); pos != std::string::npos; pos = s.find(token, pos + value.size())) {
        s.replace(pos, token.size(), value);
      }
    }
    return s;
  }

  // Whether `actual` matches `expected`; on a mismatch `*why` says where.
  // `exact_objects`: objects must have the same keys (results), else the
  // expected keys are a subset (history events).
  bool Match(const nlohmann::json& expected, const nlohmann::json& actual, const std::string& path,
             std::string* why, bool exact_objects = false) {
    if (expected.is_null()) return true;
    if (expected.is_string()) {
      const std::string e = expected.get<std::string>();
      if (e == "*") return true;
      static const std::regex placeholder(R"(^\$\{([A-Za-z0-9_]+)\}$)");
      static const std::regex pattern(R"(^\$\{/(.*)/\}$)");
      std::smatch m;
      if (std::regex_match(e, m, placeholder)) {
        auto [it, inserted] = bound_.emplace(m[1], ScalarText(actual));
        if (inserted || it->second == ScalarText(actual)) return true;
        *why = path + ": " + e + " was bound to '" + it->second + "', now '" + ScalarText(actual) + "'";
        return false;
      }
      if (std::regex_match(e, m, pattern)) {
        if (!actual.is_null() && std::regex_search(ScalarText(actual), std::regex(m[1].str()))) return true;
        *why = path + ": " + actual.dump() + " does not match /" + m[1].str() + "/";
        return false;
      }
    }
    if (expected.is_object()) {
      if (!actual.is_object()) {
        *why = path + ": expected an object, got " + actual.dump();
        return false;
      }
      for (const auto& [k, v] : expected.items()) {
        if (!actual.contains(k)) {
          *why = path + "." + k + ": missing in " + actual.dump();
          return false;
        }
        if (!Match(v, actual[k], path + "." + k, why, exact_objects)) return false;
      }
      if (exact_objects && actual.size() != expected.size()) {
        *why = path + ": " + actual.dump() + " has keys the expected " + expected.dump() + " has not";
        return false;
      }
      return true;
    }
    if (expected.is_array()) {
      if (!actual.is_array() || actual.size() != expected.size()) {
        *why = path + ": expected " + std::to_string(expected.size()) + " elements, got " + actual.dump();
        return false;
      }
      for (size_t i = 0; i < expected.size(); ++i) {
        if (!Match(expected[i], actual[i], path + "[" + std::to_string(i) + "]", why, exact_objects)) {
          return false;
        }
      }
      return true;
    }
    if (!actual.is_object() && !actual.is_array() && ScalarText(expected) == ScalarText(actual)) {
      return true;
    }
    *why = path + ": expected " + expected.dump() + ", got " + actual.dump();
    return false;
  }

  // Matches the scenario's ExpectedExecutionHistory (already substituted)
  // against `events` (GetDurableExecutionHistory shapes, in order).
  bool MatchHistory(const nlohmann::json& expected, const nlohmann::json& events, std::string* why) {
    std::map<int64_t, const nlohmann::json*> by_id;
    for (const auto& e : events) by_id[e.value("EventId", int64_t{0})] = &e;
    for (const auto& e : expected) {
      const auto& raw_id = e.at("EventId");
      int64_t id = raw_id.is_number() ? raw_id.get<int64_t>() : std::stoll(ScalarText(raw_id));
      auto it = by_id.find(id);
      if (it == by_id.end()) {
        *why = "no event " + std::to_string(id) + " (the history has " + std::to_string(events.size()) + ")";
        return false;
      }
      if (!Match(e, *it->second, "event " + std::to_string(id), why)) return false;
    }
    return true;
  }

 private:
  std::map<std::string, std::string> vars_;
  std::map<std::string, std::string> bound_;
};

}  // namespace cairn::backend::local::testing
