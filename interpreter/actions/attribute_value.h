// DynamoDB AttributeValues <-> plain JSON, the form workflows write and read.
//
// Plain JSON to AttributeValue (MarshalValue):
//   string -> S, number -> N, true/false -> BOOL, null -> NULL,
//   object -> M, array -> L; with SetArrays::kSets (`add:` of
//   dynamodb.updateItem) an array of strings -> SS and an array of
//   numbers -> NS. No plain-JSON value becomes B or BS: binary attributes
//   can be read, not written.
// AttributeValue to plain JSON (UnmarshalValue):
//   S -> string, N -> number, BOOL, NULL -> null, M -> object, L -> array,
//   SS -> array of strings, NS -> array of numbers, B -> its base64 text,
//   BS -> array of base64 texts.
//
// Numbers. DynamoDB sends N as text of up to 38 significant digits. Going
// out, integers are written exactly (64-bit signed and unsigned) and other
// numbers in the shortest form that reads back as the same double. Coming
// back, the text becomes a JSON number through nlohmann's own number
// parser: an integer that fits 64 bits stays exact (int64 or uint64);
// anything else (a fraction, an exponent, an integer beyond 64 bits)
// becomes the nearest double, about 15-17 significant digits. That is the
// limit of the JSON values cairn passes between steps; numbers handed to
// a jq expression are doubles in any case (jq 1.6), so integers beyond
// 2^53 keep their digits only when no expression computes with them.
//
// Nesting is limited to kMaxAttributeDepth levels (DynamoDB's own limit is
// 32). Pure functions; thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/result.h"

namespace cairn::actions::dynamodb {

inline constexpr int kMaxAttributeDepth = 32;

enum class SetArrays { kLists, kSets };

// The AttributeValue of a plain JSON value. `where` names the value in
// error messages ("item.status"). Errors (code "invalid"): nesting deeper
// than kMaxAttributeDepth; with kSets, an empty array or one that mixes
// kinds or holds other values than strings or numbers.
Result<nlohmann::json> MarshalValue(const nlohmann::json& value, const std::string& where,
                                    SetArrays arrays = SetArrays::kLists);

// An object of plain values -> {name: AttributeValue}. `where` as above.
Result<nlohmann::json> MarshalMap(const nlohmann::json& object, const std::string& where,
                                  SetArrays arrays = SetArrays::kLists);

// The plain JSON of an AttributeValue. Error (code "reply") on a value that
// is not an AttributeValue (a peer bug), or too deep.
Result<nlohmann::json> UnmarshalValue(const nlohmann::json& attribute_value);

// {name: AttributeValue} -> object; null stays null.
Result<nlohmann::json> UnmarshalMap(const nlohmann::json& map);

// The N text of a JSON number (see the file comment).
std::string NumberText(const nlohmann::json& number);

// A JSON number from DynamoDB's N text (see the file comment). Error (code
// "reply") when `text` is not a decimal number.
Result<nlohmann::json> NumberFromText(std::string_view text);

}  // namespace cairn::actions::dynamodb
