#include "actions/attribute_value.h"

#include <cctype>

namespace cairn::actions::dynamodb {
namespace {

using nlohmann::json;

Error Invalid(std::string message) { return MakeError("invalid", std::move(message)); }
Error BadReply(std::string message) { return MakeError("reply", std::move(message)); }

std::string Child(const std::string& where, const std::string& key) {
  return where.empty() ? key : where + "." + key;
}

std::string Index(const std::string& where, size_t i) {
  return where + "[" + std::to_string(i) + "]";
}

Result<json> Marshal(const json& value, const std::string& where, SetArrays arrays, int depth) {
  if (depth > kMaxAttributeDepth) {
    return Invalid("`" + where + "` nests deeper than " + std::to_string(kMaxAttributeDepth) +
                   " levels, DynamoDB's limit");
  }
  switch (value.type()) {
    case json::value_t::null:
      return json{{"NULL", true}};
    case json::value_t::boolean:
      return json{{"BOOL", value.get<bool>()}};
    case json::value_t::string:
      return json{{"S", value}};
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
      return json{{"N", NumberText(value)}};
    case json::value_t::object: {
      json m = json::object();
      for (const auto& [k, v] : value.items()) {
        auto av = Marshal(v, Child(where, k), SetArrays::kLists, depth + 1);
        if (!av.ok()) return av;
        m[k] = std::move(*av);
      }
      return json{{"M", std::move(m)}};
    }
    case json::value_t::array: {
      if (arrays == SetArrays::kSets) {
        if (value.empty()) {
          return Invalid("`" + where + "` is an empty list; DynamoDB sets cannot be empty");
        }
        const bool strings = value[0].is_string();
        json set = json::array();
        for (size_t i = 0; i < value.size(); ++i) {
          const json& item = value[i];
          if (strings ? !item.is_string() : !item.is_number()) {
            return Invalid("`" + where +
                           "` becomes a set, which holds only strings or only "
                           "numbers; " +
                           Index(where, i) + " is " + std::string(item.type_name()));
          }
          set.push_back(strings ? item : json(NumberText(item)));
        }
        return json{{strings ? "SS" : "NS", std::move(set)}};
      }
      json l = json::array();
      for (size_t i = 0; i < value.size(); ++i) {
        auto av = Marshal(value[i], Index(where, i), SetArrays::kLists, depth + 1);
        if (!av.ok()) return av;
        l.push_back(std::move(*av));
      }
      return json{{"L", std::move(l)}};
    }
    case json::value_t::binary:
    case json::value_t::discarded:
      break;
  }
  return Invalid("`" + where + "` has a value that is not JSON");
}

Result<json> Unmarshal(const json& av, int depth) {
  if (depth > kMaxAttributeDepth * 2) return BadReply("an AttributeValue nests too deeply");
  if (!av.is_object() || av.size() != 1) {
    return BadReply("not an AttributeValue: " +
                    av.dump(-1, ' ', false, json::error_handler_t::replace).substr(0, 200));
  }
  const auto first = av.begin();
  const std::string type = first.key();
  const json& v = first.value();
  auto strings_of = [&](bool numbers) -> Result<json> {
    if (!v.is_array()) return BadReply("the " + type + " value is not a list");
    json out = json::array();
    for (const json& item : v) {
      if (!item.is_string()) return BadReply("a member of a " + type + " value is not text");
      if (numbers) {
        auto n = NumberFromText(item.get_ref<const std::string&>());
        if (!n.ok()) return n;
        out.push_back(std::move(*n));
      } else {
        out.push_back(item);
      }
    }
    return out;
  };
  if (type == "S" || type == "B") {
    if (!v.is_string()) return BadReply("the " + type + " value is not text");
    return v;
  }
  if (type == "N") {
    if (!v.is_string()) return BadReply("the N value is not text");
    return NumberFromText(v.get_ref<const std::string&>());
  }
  if (type == "BOOL") {
    if (!v.is_boolean()) return BadReply("the BOOL value is not true or false");
    return v;
  }
  if (type == "NULL") return json(nullptr);
  if (type == "SS" || type == "BS") return strings_of(false);
  if (type == "NS") return strings_of(true);
  if (type == "M") {
    if (!v.is_object()) return BadReply("the M value is not an object");
    json out = json::object();
    for (const auto& [k, child] : v.items()) {
      auto plain = Unmarshal(child, depth + 1);
      if (!plain.ok()) return plain;
      out[k] = std::move(*plain);
    }
    return out;
  }
  if (type == "L") {
    if (!v.is_array()) return BadReply("the L value is not a list");
    json out = json::array();
    for (const json& child : v) {
      auto plain = Unmarshal(child, depth + 1);
      if (!plain.ok()) return plain;
      out.push_back(std::move(*plain));
    }
    return out;
  }
  return BadReply("unknown AttributeValue type '" + type + "'");
}

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

std::string NumberText(const json& number) {
  // nlohmann writes integers exactly and floats in the shortest form that
  // reads back as the same double ("0.1", "1e+100").
  return number.dump();
}

Result<json> NumberFromText(std::string_view text) {
  // Split [-+]? int [. frac] [e [-+]? exp] and rebuild it in the form JSON
  // accepts (no '+', no leading zeros, digits on both sides of the point).
  std::string_view s = text;
  std::string sign;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    if (s[0] == '-') sign = "-";
    s.remove_prefix(1);
  }
  std::string_view mantissa = s;
  std::string_view exponent;
  if (size_t e = s.find_first_of("eE"); e != std::string_view::npos) {
    mantissa = s.substr(0, e);
    exponent = s.substr(e + 1);
  }
  std::string_view int_part = mantissa;
  std::string_view frac_part;
  const size_t point = mantissa.find('.');
  if (point != std::string_view::npos) {
    int_part = mantissa.substr(0, point);
    frac_part = mantissa.substr(point + 1);
  }
  std::string exp_sign;
  if (!exponent.empty() && (exponent[0] == '-' || exponent[0] == '+')) {
    if (exponent[0] == '-') exp_sign = "-";
    exponent.remove_prefix(1);
  }
  const bool well_formed = (AllDigits(int_part) || (int_part.empty() && AllDigits(frac_part))) &&
                           (frac_part.empty() || AllDigits(frac_part)) &&
                           (s.find_first_of("eE") == std::string_view::npos || AllDigits(exponent));
  if (!well_formed)
    return BadReply("not a DynamoDB number: '" + std::string(text.substr(0, 100)) + "'");

  while (int_part.size() > 1 && int_part[0] == '0') int_part.remove_prefix(1);
  std::string canonical = sign + (int_part.empty() ? "0" : std::string(int_part));
  if (!frac_part.empty()) canonical += "." + std::string(frac_part);
  if (!exponent.empty()) canonical += "e" + exp_sign + std::string(exponent);
  json number = json::parse(canonical, nullptr, /*allow_exceptions=*/false);
  if (number.is_discarded() || !number.is_number()) {
    // Out of the range of a double (DynamoDB allows up to 1E+126, so only
    // a broken peer gets here).
    return BadReply("the number '" + std::string(text.substr(0, 100)) + "' is out of range");
  }
  return number;
}

Result<json> MarshalValue(const json& value, const std::string& where, SetArrays arrays) {
  return Marshal(value, where, arrays, 0);
}

Result<json> MarshalMap(const json& object, const std::string& where, SetArrays arrays) {
  if (!object.is_object()) {
    return Invalid("`" + where + "` must be an object, got " + std::string(object.type_name()));
  }
  json out = json::object();
  for (const auto& [k, v] : object.items()) {
    auto av = Marshal(v, Child(where, k), arrays, 1);
    if (!av.ok()) return av;
    out[k] = std::move(*av);
  }
  return out;
}

Result<json> UnmarshalValue(const json& attribute_value) { return Unmarshal(attribute_value, 0); }

Result<json> UnmarshalMap(const json& map) {
  if (map.is_null()) return json(nullptr);
  if (!map.is_object()) return BadReply("an item is not an object");
  json out = json::object();
  for (const auto& [k, v] : map.items()) {
    auto plain = Unmarshal(v, 1);
    if (!plain.ok()) return plain;
    out[k] = std::move(*plain);
  }
  return out;
}

}  // namespace cairn::actions::dynamodb
