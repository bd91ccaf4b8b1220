// The workflow's `input:` schema, applied when an execution starts.
#pragma once

#include <nlohmann/json.hpp>

#include "core/result.h"

namespace cairn::engine {

// Fills in `default`s of object properties (recursively, where the schema
// says `properties`) that the input leaves out, then validates the result
// against `schema` (JSON Schema draft-07). Returns the completed input, or an
// Error listing every violation with its JSON pointer.
Result<nlohmann::json> CheckInput(const nlohmann::json& schema, nlohmann::json input);

}  // namespace cairn::engine
