#include "engine/input_schema.h"

#include <pthread.h>

#include <string>
#include <functional>
#include <optional>
#include <utility>
#include <vector>
#include "definition/document.h"

#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

namespace cairn::engine {
namespace {

using nlohmann::json;

// Depth-limited: input and schema are untrusted.
void FillDefaults(const json& schema, json& value, int depth) {
  if (depth > 64 || !schema.is_object() || !value.is_object()) return;
  auto props = schema.find("properties");
  if (props == schema.end() || !props->is_object()) return;
  for (const auto& [name, sub] : props->items()) {
    if (!sub.is_object()) continue;
    if (!value.contains(name)) {
      auto d = sub.find("default");
      if (d != sub.end()) value[name] = *d;
    }
    if (value.contains(name)) FillDefaults(sub, value[name], depth + 1);
  }
}

// Stack of the thread that validates (see CheckInput in the header).
constexpr size_t kValidationStackBytes = size_t{64} << 20;

// True when valijson would run a regex over input strings or keys: the
// schema has a `pattern`, `patternProperties` or a regex-checked `format`
// anywhere (a property that happens to be named `pattern` counts too: the
// guard errs on the safe side). Iterative: the schema is untrusted.
bool UsesRegex(const json& schema) {
  std::vector<const json*> todo{&schema};
  while (!todo.empty()) {
    const json* v = todo.back();
    todo.pop_back();
    if (v->is_object()) {
      for (const auto& [key, child] : v->items()) {
        if (key == "pattern" || key == "patternProperties") return true;
        if (key == "format" && child.is_string()) {
          const auto& f = child.get_ref<const std::string&>();
          if (f == "date" || f == "time" || f == "date-time") return true;
        }
        todo.push_back(&child);
      }
    } else if (v->is_array()) {
      for (const auto& child : *v) todo.push_back(&child);
    }
  }
  return false;
}

bool UsesRef(const json& schema) {
  std::vector<const json*> todo{&schema};
  while (!todo.empty()) {
    const json* v = todo.back();
    todo.pop_back();
    if (v->is_object()) {
      if (v->contains("$ref")) return true;
      for (const auto& [key, child] : v->items()) todo.push_back(&child);
    } else if (v->is_array()) {
      for (const auto& child : *v) todo.push_back(&child);
    }
  }
  return false;
}

// The JSON pointer and length of the first string value or object key of
// `input` longer than kMaxRegexCheckedLength, if any. Iterative.
std::optional<std::pair<std::string, size_t>> FindOverlongString(const json& input) {
  std::vector<std::pair<const json*, std::string>> todo{{&input, ""}};
  while (!todo.empty()) {
    auto [v, where] = std::move(todo.back());
    todo.pop_back();
    if (v->is_string() && v->get_ref<const std::string&>().size() > kMaxRegexCheckedLength) {
      return std::make_pair(where, v->get_ref<const std::string&>().size());
    }
    if (v->is_object()) {
      for (const auto& [key, child] : v->items()) {
        std::string at = PointerAppend(where, key);
        if (key.size() > kMaxRegexCheckedLength) return std::make_pair(at + " (the key)", key.size());
        todo.emplace_back(&child, std::move(at));
      }
    } else if (v->is_array()) {
      for (size_t i = 0; i < v->size(); ++i) {
        todo.emplace_back(&(*v)[i], PointerAppend(where, i));
      }
    }
  }
  return std::nullopt;
}

// Runs `work` on a new thread with a kValidationStackBytes stack and waits
// for it; runs it on the calling thread when no such thread can be made.
void RunWithLargeStack(std::function<void()> work) {
  pthread_attr_t attr;
  bool threaded = pthread_attr_init(&attr) == 0;
  if (threaded && pthread_attr_setstacksize(&attr, kValidationStackBytes) == 0) {
    pthread_t thread;
    auto trampoline = [](void* arg) -> void* {
      (*static_cast<std::function<void()>*>(arg))();
      return nullptr;
    };
    if (pthread_create(&thread, &attr, trampoline, &work) == 0) {
      pthread_join(thread, nullptr);
      pthread_attr_destroy(&attr);
      return;
    }
  }
  if (threaded) pthread_attr_destroy(&attr);
  work();
}

// Validates `input` against `compiled`; the completed input, or an Error
// listing every violation with its JSON pointer.
Result<json> Validate(const valijson::Schema& compiled, json input) {
  valijson::Validator validator;
  valijson::ValidationResults results;
  valijson::adapters::NlohmannJsonAdapter input_adapter(input);
  try {
    // Regexes are compiled while validating: an invalid one throws here.
    if (validator.validate(compiled, input_adapter, &results)) return input;
  } catch (const std::exception& e) {
    return MakeError("input", std::string("the workflow's input schema cannot be applied: ") + e.what());
  }
  std::string message = "the input does not match the workflow's input schema:";
  valijson::ValidationResults::Error error;
  int shown = 0;
  while (results.popError(error) && shown < 10) {
    std::string where;
    // valijson names a property or an item as "[name]": made a JSON pointer.
    for (const auto& c : error.context) {
      if (c == "<root>") continue;
      if (c.size() >= 2 && c.front() == '[' && c.back() == ']') {
        where = PointerAppend(where, c.substr(1, c.size() - 2));
      } else {
        where += c;
      }
    }
    message += "\n  " + (where.empty() ? std::string("(input)") : where) + ": " + error.description;
    ++shown;
  }
  return MakeError("input", message);
}

}  // namespace

struct InputSchema::Compiled {
  valijson::Schema schema;
};

InputSchema::InputSchema(json schema)
    : schema_(std::move(schema)), uses_regex_(UsesRegex(schema_)), uses_ref_(UsesRef(schema_)) {
  auto compiled = std::make_unique<Compiled>();
  try {
    valijson::SchemaParser parser;
    valijson::adapters::NlohmannJsonAdapter schema_adapter(schema_);
    parser.populateSchema(schema_adapter, compiled->schema);
    compiled_ = std::move(compiled);
  } catch (const std::exception& e) {
    compile_error_ = std::string("the workflow's input schema is invalid: ") + e.what();
  }
}

InputSchema::~InputSchema() = default;

Result<json> InputSchema::Check(json input) const {
  if (input.is_null() && schema_.value("type", "") == "object") input = json::object();
  FillDefaults(schema_, input, 0);
  if (uses_regex_) {
    if (auto overlong = FindOverlongString(input)) {
      return MakeError(
          "input",
          "the input does not match the workflow's input schema:\n  " +
              (overlong->first.empty() ? std::string("(input)") : overlong->first) +
              ": the string is " + std::to_string(overlong->second) +
              " bytes; the input schema checks strings with regular expressions (pattern, "
              "patternProperties or format), which cairn applies to strings of at most " +
              std::to_string(kMaxRegexCheckedLength) + " bytes");
    }
  }
  if (!compiled_) return MakeError("input", compile_error_);
  // std::regex, and a schema that refers to itself, recurse as deep as the
  // input goes and need the large stack; otherwise valijson recurses only
  // as deep as the schema, and the check runs on the calling thread (a
  // thread per execution cost more than its three steps).
  if (!uses_regex_ && !uses_ref_) return Validate(compiled_->schema, std::move(input));
  std::optional<Result<json>> result;
  RunWithLargeStack([&] { result.emplace(Validate(compiled_->schema, std::move(input))); });
  return std::move(*result);
}

Result<json> CheckInput(const json& schema, json input) {
  return InputSchema(schema).Check(std::move(input));
}

}  // namespace cairn::engine
