#include "engine/input_schema.h"

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

}  // namespace

Result<json> CheckInput(const json& schema, json input) {
  if (input.is_null() && schema.value("type", "") == "object") input = json::object();
  FillDefaults(schema, input, 0);
  valijson::Schema compiled;
  try {
    valijson::SchemaParser parser;
    valijson::adapters::NlohmannJsonAdapter schema_adapter(schema);
    parser.populateSchema(schema_adapter, compiled);
  } catch (const std::exception& e) {
    return MakeError("input", std::string("the workflow's input schema is invalid: ") + e.what());
  }
  valijson::Validator validator;
  valijson::ValidationResults results;
  valijson::adapters::NlohmannJsonAdapter input_adapter(input);
  if (validator.validate(compiled, input_adapter, &results)) return input;
  std::string message = "the input does not match the workflow's input schema:";
  valijson::ValidationResults::Error error;
  int shown = 0;
  while (results.popError(error) && shown < 10) {
    std::string where;
    for (const auto& c : error.context) {
      if (c != "<root>") where += c;
    }
    message += "\n  " + (where.empty() ? std::string("(input)") : where) + ": " + error.description;
    ++shown;
  }
  return MakeError("input", message);
}

}  // namespace cairn::engine
