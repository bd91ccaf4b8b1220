// CRN010–CRN014, CRN023: the document against schema/workflow.schema.json.
//
// valijson is the judge: it decides whether the document conforms and where
// it fails. Its messages are generic and cascade (an anyOf reports an error
// per alternative plus a summary; only the first unknown key of an object is
// named), so when it rejects the document, the Explainer below walks the
// same schema beside the document and says, at the deepest useful place,
// what is wrong in the words of the language: one message per mistake, each
// anyOf collapsed into "expected A or B, got C", every unknown key with a
// "did you mean". Only explanations at or below a place valijson rejected
// are kept; if the explainer finds nothing there, valijson's own words are.
//
// libstdc++'s std::regex (which valijson uses for `pattern`) recurses once
// per character and overflows the stack on strings of some tens of KiB, and
// valijson's UTF-8 length count overflows a table on invalid UTF-8. So when
// the document has such text, both see a copy in which strings and keys
// longer than kMaxCheckedString are replaced by short stand-ins with the same
// verdict (an expression stays an expression; anything else matches no
// pattern) and invalid UTF-8 is repaired.
#include <cstring>
#include <regex>
#include <unordered_map>
#include <unordered_set>
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validator.hpp>

#include "core/strings.h"
#include "validate/checks.h"
#include "validate/workflow_schema.h"

namespace cairn::validate {
namespace {

using nlohmann::json;

constexpr size_t kMaxCheckedString = 1024;
constexpr char kExpressionRef[] = "#/definitions/expression";
constexpr char kDurationRef[] = "#/definitions/duration";
constexpr char kStepRef[] = "#/definitions/step";

// The schema, for valijson and for the explainer; built once per process.
struct SchemaData {
  SchemaData() {
    valijson::SchemaParser parser;
    valijson::adapters::NlohmannJsonAdapter adapter(doc);
    parser.populateSchema(adapter, schema);
    Collect(doc);
    expression_pattern = refs.at(kExpressionRef)->at("pattern").get<std::string>();
  }

  // Records every `$ref` target and compiles every `pattern`.
  void Collect(const json& node) {
    if (node.is_object()) {
      if (auto it = node.find("$ref"); it != node.end() && it->is_string()) {
        const auto& ref = it->get_ref<const std::string&>();
        refs.emplace(ref, &doc.at(json::json_pointer(ref.substr(1))));
      }
      if (auto it = node.find("pattern"); it != node.end() && it->is_string()) {
        const auto& p = it->get_ref<const std::string&>();
        patterns.emplace(p, std::regex(p, std::regex::ECMAScript));
      }
      for (const auto& [key, child] : node.items()) {
        if (key != "enum" && key != "const") Collect(child);
      }
    } else if (node.is_array()) {
      for (const auto& child : node) Collect(child);
    }
  }

  const json& doc = WorkflowSchema();
  valijson::Schema schema;
  std::unordered_map<std::string, const json*> refs;
  std::unordered_map<std::string, std::regex> patterns;
  std::string expression_pattern;  // checked by LooksLikeExpression, not std::regex
};

const SchemaData& Data() {
  static const SchemaData data;
  return data;
}

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// The shape the schema's `expression` pattern accepts: `${ ... }` with
// optional whitespace around it.
bool LooksLikeExpression(std::string_view s) {
  size_t b = 0;
  size_t e = s.size();
  while (b < e && IsSpace(s[b])) ++b;
  while (e > b && IsSpace(s[e - 1])) --e;
  return e - b >= 3 && s.compare(b, 2, "${") == 0 && s[e - 1] == '}';
}

// Text valijson must not see as is: longer than kMaxCheckedString, or not
// valid UTF-8 (valijson's UTF-8 length count reads past its table on a long
// run of continuation bytes).
bool Unsafe(const std::string& s) { return s.size() > kMaxCheckedString || !IsValidUtf8(s); }

bool HasUnsafeText(const json& root) {
  std::vector<const json*> stack{&root};
  while (!stack.empty()) {
    const json* v = stack.back();
    stack.pop_back();
    if (v->is_string() && Unsafe(v->get_ref<const std::string&>())) return true;
    if (v->is_object()) {
      for (const auto& [key, child] : v->items()) {
        if (Unsafe(key)) return true;
        stack.push_back(&child);
      }
    } else if (v->is_array()) {
      for (const auto& child : *v) stack.push_back(&child);
    }
  }
  return false;
}

// A stand-in with the same verdict: an expression stays an expression, a
// long string becomes one that matches no pattern, invalid UTF-8 is repaired.
std::string SafeText(const std::string& s) {
  if (s.size() > kMaxCheckedString) return LooksLikeExpression(s) ? "${ . }" : " ";
  return ValidUtf8(s);
}

// Replaces unsafe strings and keys in place (see the file comment).
void MakeTextSafe(json* v) {
  std::vector<json*> stack{v};
  while (!stack.empty()) {
    json* cur = stack.back();
    stack.pop_back();
    if (cur->is_string()) {
      const auto& s = cur->get_ref<const std::string&>();
      if (Unsafe(s)) *cur = SafeText(s);
    } else if (cur->is_object()) {
      std::vector<std::string> unsafe;
      for (auto& [key, child] : cur->items()) {
        if (Unsafe(key)) unsafe.push_back(key);
      }
      for (size_t i = 0; i < unsafe.size(); ++i) {
        json value = std::move((*cur)[unsafe[i]]);
        cur->erase(unsafe[i]);
        std::string key = unsafe[i].size() > kMaxCheckedString
                              ? "<a key of " + std::to_string(unsafe[i].size()) + " bytes>"
                              : ValidUtf8(unsafe[i]);
        while (cur->contains(key)) key += "~";
        (*cur)[key] = std::move(value);
      }
      for (auto& [key, child] : cur->items()) stack.push_back(&child);
    } else if (cur->is_array()) {
      for (auto& child : *cur) stack.push_back(&child);
    }
  }
}

// Where a valijson error says the document fails: the context of a leaf
// error; for a summary ("... property name 'x'", "... item #2"), the child it
// names, since some of those (e.g. propertyNames) have no leaf of their own.
struct Rejection {
  std::string pointer;
  std::string words;  // valijson's description
  bool leaf = true;
};

Rejection ReadRejection(std::string pointer, const std::string& description) {
  static constexpr const char* kProperty =
      "Failed to validate against schema associated with property name '";
  static constexpr const char* kItem = "Failed to validate item #";
  static constexpr const char* kSummaries[] = {
      "Failed to validate against child schema",
      "Failed to validate against any schemas allowed by anyOf",
      "Failed to validate against additional properties schema",
  };
  auto starts = [&](const char* prefix) { return description.rfind(prefix, 0) == 0; };
  if (starts(kProperty)) {
    std::string name = description.substr(std::strlen(kProperty));
    if (auto q = name.rfind("'."); q != std::string::npos) name.resize(q);
    return {PointerAppend(pointer, name), description, false};
  }
  if (starts(kItem)) {
    size_t index = std::strtoul(description.c_str() + std::strlen(kItem), nullptr, 10);
    return {PointerAppend(pointer, index), description, false};
  }
  for (const char* s : kSummaries) {
    if (starts(s)) return {std::move(pointer), description, false};
  }
  return {std::move(pointer), description, true};
}

// A valijson context (["<root>", "[steps]", "[0]"]) as a JSON pointer.
std::string ContextPointer(const std::vector<std::string>& context) {
  std::string pointer;
  for (const auto& token : context) {
    if (token.size() >= 2 && token.front() == '[' && token.back() == ']') {
      pointer = PointerAppend(pointer, std::string_view(token).substr(1, token.size() - 2));
    }
  }
  return pointer;
}

bool PointerWithin(std::string_view pointer, std::string_view ancestor) {
  return pointer.size() >= ancestor.size() && pointer.compare(0, ancestor.size(), ancestor) == 0 &&
         (pointer.size() == ancestor.size() || pointer[ancestor.size()] == '/');
}

std::string LastToken(std::string_view pointer) {
  std::string token(pointer.substr(pointer.rfind('/') + 1));
  std::string out;
  for (size_t i = 0; i < token.size(); ++i) {
    if (token[i] == '~' && i + 1 < token.size()) {
      out += token[++i] == '1' ? '/' : '~';
    } else {
      out += token[i];
    }
  }
  return out;
}

std::string WithoutFinalPeriod(std::string s) {
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

// What a value is, for "got ..." in messages.
std::string DescribeValue(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "an empty value";
    case json::value_t::boolean:
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
      return Quote(v.dump());
    case json::value_t::string: {
      const auto& s = v.get_ref<const std::string&>();
      if (s.empty()) return "an empty string";
      if (s.size() > 40) return "the string " + JsonText(json(s.substr(0, 37) + "..."));
      return "the string " + JsonText(v);
    }
    case json::value_t::array:
      return "a list";
    default:
      return "a mapping";
  }
}

bool TypeMatches(const std::string& type, const json& v) {
  if (type == "object") return v.is_object();
  if (type == "array") return v.is_array();
  if (type == "string") return v.is_string();
  if (type == "boolean") return v.is_boolean();
  if (type == "null") return v.is_null();
  if (type == "integer") return v.is_number_integer();
  if (type == "number") return v.is_number();
  return true;
}

bool SameKind(const json& a, const json& b) {
  return a.type() == b.type() || (a.is_number() && b.is_number());
}

// One explanation, before it becomes a Diagnostic.
struct Issue {
  enum class Kind {
    kType,       // the value has the wrong type
    kPattern,    // a string of the right type but the wrong form
    kEnum,       // not one of the allowed values
    kRange,      // a number, length or count out of range
    kStructure,  // about the contents of a mapping (missing or unknown keys)
  };
  Kind kind;
  const char* code;
  std::string pointer;
  bool at_key = false;
  std::string message;
  std::string hint;
};

class Explainer {
 public:
  Explainer(const SchemaData& data, const WorkflowDefinition& def) : data_(data) {
    ForEachStep(def.steps, [&](const Step& s, const std::vector<const Step*>&) {
      steps_.emplace(s.path, &s);
    });
  }

  // Appends the issues of `value` (at `pointer`) against `schema`.
  void Check(const json& schema, const json& value, const std::string& pointer,
             std::vector<Issue>* out, int depth) const {
    if (depth > 4 * kMaxDocumentDepth) return;
    std::string description = Description(schema);
    const json& s = Resolve(schema);
    if (!s.is_object()) return;
    const std::string subject = Subject(pointer);

    if (auto it = s.find("type"); it != s.end() && !TypeAllows(*it, value)) {
      out->push_back({Issue::Kind::kType, "CRN010", pointer, false,
                      subject + " must be " + Expected(schema) + ", got " + DescribeValue(value),
                      TypeHint(schema, value, description)});
      return;
    }
    if (auto it = s.find("const"); it != s.end() && *it != value) {
      out->push_back({Issue::Kind::kEnum, "CRN013", pointer, false,
                      subject + " must be " + Quote(it->dump()) + ", got " + DescribeValue(value),
                      description});
      return;
    }
    if (auto it = s.find("enum");
        it != s.end() && std::find(it->begin(), it->end(), value) == it->end()) {
      std::vector<std::string> allowed;
      for (const auto& e : *it) allowed.push_back(e.is_string() ? e.get<std::string>() : e.dump());
      std::string hint = value.is_string() ? DidYouMean(value.get<std::string>(), allowed) : "";
      out->push_back({Issue::Kind::kEnum, "CRN013", pointer, false,
                      subject + " must be " + (allowed.size() == 1 ? "" : "one of ") +
                          JoinOr(allowed) + ", got " + DescribeValue(value),
                      hint.empty() ? description : hint});
      return;
    }
    if (auto it = s.find("anyOf"); it != s.end()) {
      if (!CheckAnyOf(schema, *it, value, pointer, description, out, depth)) return;
    }
    if (value.is_string()) {
      CheckString(s, value.get_ref<const std::string&>(), pointer, description, out);
    }
    if (value.is_number()) CheckNumber(s, value, pointer, description, out);
    if (value.is_array()) CheckArray(s, value, pointer, description, out, depth);
    if (value.is_object()) CheckObject(s, value, pointer, description, out, depth);
  }

 private:
  const json& Resolve(const json& schema) const {
    const json* s = &schema;
    for (int hops = 0; hops < 16 && s->is_object() && s->contains("$ref"); ++hops) {
      auto it = data_.refs.find(s->at("$ref").get<std::string>());
      if (it == data_.refs.end()) break;
      s = it->second;
    }
    return *s;
  }

  static std::string RefOf(const json& schema) {
    if (!schema.is_object()) return {};
    auto it = schema.find("$ref");
    return it != schema.end() && it->is_string() ? it->get<std::string>() : std::string();
  }

  // The description written where the schema is used, else the referenced one.
  std::string Description(const json& schema) const {
    if (schema.is_object() && schema.contains("description")) {
      return schema.at("description").get<std::string>();
    }
    const json& r = Resolve(schema);
    return r.is_object() && r.contains("description") ? r.at("description").get<std::string>() : "";
  }

  bool TypeAllows(const json& type, const json& value) const {
    if (type.is_string()) return TypeMatches(type.get<std::string>(), value);
    for (const auto& t : type) {
      if (TypeMatches(t.get<std::string>(), value)) return true;
    }
    return false;
  }

  // Could `value` satisfy `schema` as far as its type goes?
  bool TypeCompatible(const json& schema, const json& value) const {
    const json& s = Resolve(schema);
    if (!s.is_object()) return true;
    if (auto it = s.find("type"); it != s.end()) return TypeAllows(*it, value);
    if (auto it = s.find("enum"); it != s.end()) {
      return std::any_of(it->begin(), it->end(), [&](const json& e) { return SameKind(e, value); });
    }
    if (auto it = s.find("const"); it != s.end()) return SameKind(*it, value);
    if (auto it = s.find("anyOf"); it != s.end()) {
      return std::any_of(it->begin(), it->end(),
                         [&](const json& alt) { return TypeCompatible(alt, value); });
    }
    return true;
  }

  // What a schema accepts, as a phrase per alternative ("an integer from 1 to 10").
  void Alternatives(const json& schema, std::vector<std::string>* out) const {
    const std::string ref = RefOf(schema);
    if (ref == kExpressionRef) return out->push_back("a ${ expression }");
    if (ref == kDurationRef) return out->push_back("a duration (e.g. 30s, 5m, 1h)");
    if (ref == kStepRef) return out->push_back("a step (a mapping with `name` and one kind)");
    const json& s = Resolve(schema);
    if (!s.is_object()) return out->push_back("a value");
    if (auto it = s.find("anyOf"); it != s.end()) {
      for (const auto& alt : *it) Alternatives(alt, out);
      return;
    }
    if (auto it = s.find("const"); it != s.end()) return out->push_back(Quote(it->dump()));
    if (auto it = s.find("enum"); it != s.end()) {
      for (const auto& e : *it) {
        out->push_back(Quote(e.is_string() ? e.get<std::string>() : e.dump()));
      }
      return;
    }
    auto it = s.find("type");
    if (it == s.end()) return out->push_back("a value");
    std::vector<std::string> types;
    if (it->is_string()) {
      types.push_back(it->get<std::string>());
    } else {
      for (const auto& t : *it) types.push_back(t.get<std::string>());
    }
    for (const auto& t : types) out->push_back(DescribeType(s, t));
  }

  static std::string Range(const json& s, const char* low_key, const char* high_key) {
    auto low = s.find(low_key);
    auto high = s.find(high_key);
    if (low != s.end() && high != s.end()) return " from " + low->dump() + " to " + high->dump();
    if (low != s.end()) return " of at least " + low->dump();
    if (high != s.end()) return " of at most " + high->dump();
    return "";
  }

  static std::string DescribeType(const json& s, const std::string& type) {
    if (type == "integer") return "an integer" + Range(s, "minimum", "maximum");
    if (type == "number") return "a number" + Range(s, "minimum", "maximum");
    if (type == "boolean") return "a boolean (true or false)";
    if (type == "null") return "null";
    if (type == "string") {
      return s.value("minLength", 0) > 0 ? "a non-empty string" : "a string";
    }
    if (type == "array") return s.value("minItems", 0) > 0 ? "a non-empty list" : "a list";
    std::string phrase = "a mapping";
    if (auto req = s.find("required"); req != s.end() && !req->empty()) {
      phrase += " with ";
      for (size_t i = 0; i < req->size(); ++i) {
        phrase += (i == 0                 ? ""
                   : i + 1 == req->size() ? " and "
                                          : ", ") +
                  Quote((*req)[i].get<std::string>());
      }
    }
    return phrase;
  }

  std::string Expected(const json& schema) const {
    std::vector<std::string> alts;
    Alternatives(schema, &alts);
    return JoinOr(alts, false);
  }

  // A hint for a type mismatch: a quoted literal, a missing `${ }`.
  std::string TypeHint(const json& schema, const json& value,
                       const std::string& description) const {
    std::vector<std::string> alts;
    Alternatives(schema, &alts);
    auto allows = [&](std::string_view prefix) {
      return std::any_of(alts.begin(), alts.end(),
                         [&](const std::string& a) { return a.rfind(prefix, 0) == 0; });
    };
    if (value.is_string()) {
      const auto& s = value.get_ref<const std::string&>();
      if ((s == "true" || s == "false") && allows("a boolean")) {
        return "write " + s + " without quotes: quoted, it is a string";
      }
      if ((s == "yes" || s == "no" || s == "on" || s == "off" || s == "y" || s == "n") &&
          allows("a boolean")) {
        return "YAML 1.2 reads " + s + " as a string: write true or false";
      }
      char* end = nullptr;
      std::strtod(s.c_str(), &end);
      if (!s.empty() && *end == '\0' && (allows("an integer") || allows("a number"))) {
        return "write " + s + " without quotes: quoted, it is a string";
      }
      if (allows("a ${") && (s.find('$') != std::string::npos || s.find('{') != std::string::npos ||
                             s.rfind('.', 0) == 0)) {
        return "write an expression as the whole value: `${ <jq program> }`";
      }
    }
    if (value.is_null()) return "write a value after the colon, or remove the key";
    return description;
  }

  // "step `x`", "the workflow", "`timeout`", "`errors[1]`".
  std::string Subject(const std::string& pointer) const {
    if (pointer.empty()) return "the workflow";
    if (auto it = steps_.find(pointer); it != steps_.end()) return StepLabel(*it->second);
    std::string last = LastToken(pointer);
    std::string parent = pointer.substr(0, pointer.rfind('/'));
    if (!last.empty() && std::all_of(last.begin(), last.end(), ::isdigit) && !parent.empty()) {
      return Quote(LastToken(parent) + "[" + last + "]");
    }
    return Quote(last);
  }

  // Returns false when the anyOf explained the value (nothing else to check).
  bool CheckAnyOf(const json& schema, const json& alternatives, const json& value,
                  const std::string& pointer, const std::string& description,
                  std::vector<Issue>* out, int depth) const {
    std::vector<std::vector<Issue>> issues(alternatives.size());
    for (size_t i = 0; i < alternatives.size(); ++i) {
      Check(alternatives[i], value, pointer, &issues[i], depth + 1);
      if (issues[i].empty()) return true;
    }
    std::vector<size_t> compatible;
    for (size_t i = 0; i < alternatives.size(); ++i) {
      if (TypeCompatible(alternatives[i], value)) compatible.push_back(i);
    }
    const std::string got = ", got " + DescribeValue(value);
    const std::string subject = Subject(pointer);
    if (compatible.empty()) {
      out->push_back({Issue::Kind::kType, "CRN010", pointer, false,
                      subject + " must be " + Expected(schema) + got,
                      TypeHint(schema, value, description)});
      return false;
    }
    if (compatible.size() == 1 || value.is_object() || value.is_array()) {
      // The value has the shape of some alternative: explain against the one
      // that got furthest (the fewest issues), unless all it says is "this
      // string is not an expression".
      size_t best = compatible[0];
      for (size_t i : compatible) {
        if (issues[i].size() < issues[best].size()) best = i;
      }
      bool only_not_expression =
          std::all_of(issues[best].begin(), issues[best].end(), [&](const Issue& is) {
            return is.kind == Issue::Kind::kPattern && is.pointer == pointer;
          });
      if (!only_not_expression || value.is_object() || value.is_array()) {
        for (auto& is : issues[best]) {
          if (is.hint.empty() && is.pointer == pointer) is.hint = description;
          out->push_back(std::move(is));
        }
        return false;
      }
    }
    // A scalar of the right type that no alternative accepts: one message
    // listing what is accepted.
    bool has_enum = false;
    bool has_range = false;
    std::string hint;
    for (size_t i : compatible) {
      for (const Issue& is : issues[i]) {
        has_enum |= is.kind == Issue::Kind::kEnum;
        has_range |= is.kind == Issue::Kind::kRange;
        if (hint.empty() && is.hint.rfind("did you mean", 0) == 0) hint = is.hint;
      }
    }
    if (hint.empty()) hint = TypeHint(schema, value, description);
    Issue::Kind kind = has_enum    ? Issue::Kind::kEnum
                       : has_range ? Issue::Kind::kRange
                                   : Issue::Kind::kType;
    const char* code = has_enum ? "CRN013" : has_range ? "CRN014" : "CRN010";
    out->push_back(
        {kind, code, pointer, false, subject + " must be " + Expected(schema) + got, hint});
    return false;
  }

  void CheckString(const json& s, const std::string& v, const std::string& pointer,
                   const std::string& description, std::vector<Issue>* out) const {
    const std::string subject = Subject(pointer);
    if (auto it = s.find("minLength"); it != s.end() && v.size() < it->get<size_t>()) {
      out->push_back(
          {Issue::Kind::kRange, "CRN014", pointer, false,
           subject + (it->get<size_t>() == 1 ? " must not be empty"
                                             : " must have at least " + it->dump() + " characters"),
           description});
    }
    if (auto it = s.find("maxLength"); it != s.end() && v.size() > it->get<size_t>()) {
      out->push_back({Issue::Kind::kRange, "CRN014", pointer, false,
                      subject + " must have at most " + it->dump() + " characters", description});
    }
    if (auto it = s.find("pattern"); it != s.end() && !Matches(it->get<std::string>(), v)) {
      std::string message = subject == Quote(LastToken(pointer)) || pointer.empty()
                                ? "invalid " + subject + ": " + DescribeValue(v)
                                : "invalid value for " + subject + ": " + DescribeValue(v);
      if (&s == data_.refs.at(kExpressionRef)) {
        message = subject + " must be a ${ expression }, got " + DescribeValue(v);
      } else {
        message += " does not match " + Quote(it->get<std::string>());
      }
      out->push_back({Issue::Kind::kPattern, "CRN014", pointer, false, message, description});
    }
  }

  bool Matches(const std::string& pattern, const std::string& v) const {
    if (pattern == data_.expression_pattern) return LooksLikeExpression(v);
    auto it = data_.patterns.find(pattern);
    return it == data_.patterns.end() || std::regex_search(v, it->second);
  }

  void CheckNumber(const json& s, const json& v, const std::string& pointer,
                   const std::string& description, std::vector<Issue>* out) const {
    const double x = v.get<double>();
    auto fail = [&](const std::string& what) {
      out->push_back({Issue::Kind::kRange, "CRN014", pointer, false,
                      Subject(pointer) + " must be " + what + ", got " + DescribeValue(v),
                      description});
    };
    if (auto it = s.find("minimum"); it != s.end() && x < it->get<double>()) {
      fail("at least " + it->dump());
    } else if (auto it = s.find("maximum"); it != s.end() && x > it->get<double>()) {
      fail("at most " + it->dump());
    } else if (auto it = s.find("exclusiveMinimum"); it != s.end() && x <= it->get<double>()) {
      fail("more than " + it->dump());
    } else if (auto it = s.find("exclusiveMaximum"); it != s.end() && x >= it->get<double>()) {
      fail("less than " + it->dump());
    }
  }

  void CheckArray(const json& s, const json& v, const std::string& pointer,
                  const std::string& description, std::vector<Issue>* out, int depth) const {
    const std::string subject = Subject(pointer);
    if (auto it = s.find("minItems"); it != s.end() && v.size() < it->get<size_t>()) {
      out->push_back({Issue::Kind::kRange, "CRN014", pointer, false,
                      it->get<size_t>() == 1
                          ? subject + " must not be empty"
                          : subject + " must have at least " + it->dump() + " items",
                      description});
    }
    if (auto it = s.find("maxItems"); it != s.end() && v.size() > it->get<size_t>()) {
      out->push_back(
          {Issue::Kind::kRange, "CRN014", pointer, false,
           subject + " must have at most " + it->dump() + " items, got " + std::to_string(v.size()),
           description});
    }
    if (auto it = s.find("items"); it != s.end() && it->is_object()) {
      for (size_t i = 0; i < v.size(); ++i) {
        Check(*it, v[i], PointerAppend(pointer, i), out, depth + 1);
      }
    }
  }

  void CheckObject(const json& s, const json& v, const std::string& pointer,
                   const std::string& description, std::vector<Issue>* out, int depth) const {
    const std::string subject = Subject(pointer);
    static const json kEmpty = json::object();
    auto props_it = s.find("properties");
    const json& props = props_it != s.end() ? *props_it : kEmpty;
    auto additional = s.find("additionalProperties");
    const bool closed =
        additional != s.end() && additional->is_boolean() && !additional->get<bool>();

    std::vector<std::string> allowed;
    for (const auto& [k, _] : props.items()) allowed.push_back(k);
    std::unordered_set<std::string> suggested;  // required keys an unknown key probably meant

    for (const auto& [key, child] : v.items()) {
      const std::string child_pointer = PointerAppend(pointer, key);
      if (auto p = props.find(key); p != props.end()) {
        Check(*p, child, child_pointer, out, depth + 1);
      } else if (closed) {
        std::string hint = DidYouMean(key, allowed);
        if (!hint.empty()) suggested.insert(ClosestMatch(key, allowed));
        if (hint.empty()) hint = AllowedKeysHint(s, allowed, key);
        out->push_back({Issue::Kind::kStructure, "CRN012", child_pointer, true,
                        "unknown key " + Quote(key) + " in " + subject, hint});
      } else if (additional != s.end() && additional->is_object()) {
        Check(*additional, child, child_pointer, out, depth + 1);
      }
      if (auto names = s.find("propertyNames"); names != s.end()) {
        const json& ns = Resolve(*names);
        if (auto pat = ns.find("pattern");
            pat != ns.end() && !Matches(pat->get<std::string>(), key)) {
          out->push_back({Issue::Kind::kPattern, "CRN014", child_pointer, true,
                          "invalid key " + Quote(key) + " in " + subject + ": it must match " +
                              Quote(pat->get<std::string>()),
                          description});
        }
      }
    }
    if (auto req = s.find("required"); req != s.end()) {
      for (const auto& k : *req) {
        const std::string key = k.get<std::string>();
        if (v.contains(key) || suggested.count(key)) continue;
        std::string what =
            props.contains(key) ? WithoutFinalPeriod(Description(props.at(key))) : "";
        out->push_back({Issue::Kind::kStructure, "CRN011", pointer, false,
                        subject + " is missing the required key " + Quote(key),
                        "add " + Quote(key + ":") + (what.empty() ? "" : " (" + what + ")")});
      }
    }
    const size_t n = v.size();
    auto min_p = s.find("minProperties");
    auto max_p = s.find("maxProperties");
    if (min_p != s.end() && max_p != s.end() && *min_p == 1 && *max_p == 1 && n != 1) {
      std::vector<std::string> keys;
      for (const auto& [k, _] : v.items()) keys.push_back(k);
      out->push_back({Issue::Kind::kRange, "CRN014", pointer, false,
                      subject + " must hold exactly one of its keys, got " +
                          (n == 0 ? std::string("none") : JoinOr(keys)),
                      description});
    } else {
      if (min_p != s.end() && n < min_p->get<size_t>()) {
        out->push_back({Issue::Kind::kRange, "CRN014", pointer, false,
                        subject + (*min_p == 1 ? std::string(" must not be empty")
                                               : " must have at least " + min_p->dump() + " keys"),
                        description});
      }
      if (max_p != s.end() && n > max_p->get<size_t>()) {
        out->push_back({Issue::Kind::kRange, "CRN014", pointer, false,
                        subject + " must have at most " + max_p->dump() + " keys", description});
      }
    }
  }

  std::string AllowedKeysHint(const json& s, const std::vector<std::string>& allowed,
                              const std::string& key) const {
    if (&s == data_.refs.at(kStepRef)) {
      if (key.find('.') != std::string::npos) {
        return "the actions are " + JoinOr(KnownActionTypes());
      }
      return "a step has a `name`, one kind (an action such as `ecs.runTask`, or wait, "
             "waitForCallback, callback, await, poll, set, switch, parallel, map, group, succeed, "
             "fail) and modifiers (if, next, retry, catch, timeout, result, log, semantics)";
    }
    if (allowed.empty()) return "no keys are allowed here";
    return "allowed here: " + JoinOr(allowed);
  }

  const SchemaData& data_;
  std::unordered_map<std::string, const Step*> steps_;
};

// The language version gets its own code and words.
void RewriteVersionIssue(Issue* is, const json& root) {
  if (is->pointer != "/cairn") return;
  is->code = "CRN023";
  is->message = "unsupported language version: `cairn: " + JsonText(root.at("cairn")) + "`";
  is->hint = "this cairn reads version 1: write `cairn: 1`";
}

}  // namespace

void CheckSchema(const CheckContext& ctx) {
  const SchemaData& data = Data();
  const json& original = ctx.def.document.root();
  json safe;
  const json* root = &original;
  if (HasUnsafeText(original)) {
    safe = original;
    MakeTextSafe(&safe);
    root = &safe;
  }

  thread_local valijson::Validator validator;  // keeps its compiled regexes between runs
  valijson::ValidationResults results;
  valijson::adapters::NlohmannJsonAdapter target(*root);
  if (validator.validate(data.schema, target, &results)) return;

  std::vector<Rejection> rejected;
  for (const auto& e : results) {
    rejected.push_back(ReadRejection(ContextPointer(e.context), e.description));
  }

  std::vector<Issue> issues;
  Explainer(data, ctx.def).Check(data.doc, *root, "", &issues, 0);
  bool reported = false;
  for (Issue& is : issues) {
    bool confirmed = std::any_of(rejected.begin(), rejected.end(), [&](const Rejection& r) {
      return PointerWithin(is.pointer, r.pointer);
    });
    if (!confirmed) continue;
    RewriteVersionIssue(&is, *root);
    ctx.Error(is.code, is.pointer, std::move(is.message), std::move(is.hint), is.at_key);
    reported = true;
  }
  if (reported) return;
  // The explainer found nothing where valijson failed: valijson's own words,
  // at its leaf errors, else at the deepest places it names.
  const bool has_leaf =
      std::any_of(rejected.begin(), rejected.end(), [](const Rejection& r) { return r.leaf; });
  for (const Rejection& r : rejected) {
    const bool deepest = std::none_of(rejected.begin(), rejected.end(), [&](const Rejection& o) {
      return o.pointer != r.pointer && PointerWithin(o.pointer, r.pointer);
    });
    if (has_leaf ? r.leaf : deepest) {
      ctx.Error("CRN014", r.pointer,
                "this value does not conform to the workflow schema: " + r.words);
    }
  }
}

}  // namespace cairn::validate
