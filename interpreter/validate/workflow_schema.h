// The JSON Schema of the workflow language (schema/workflow.schema.json),
// embedded in the library at build time so `cairn` needs no file at run time
// and the schema file stays the single source of the language's shape.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

namespace cairn {

// The schema text, byte for byte as in schema/workflow.schema.json.
std::string_view WorkflowSchemaText();

// True when `key` is a key of the schema's step mapping
// (definitions.step.properties), without parsing the schema.
bool IsStepKey(std::string_view key);

// The SHA-256 of WorkflowSchemaText(), lowercase hex (64 characters),
// computed when the build embeds the schema.
std::string_view WorkflowSchemaDigest();

// The schema parsed once per process. Thread-safe; never fails (the build
// embeds a file that the validate tests parse).
const nlohmann::json& WorkflowSchema();

}  // namespace cairn
