// The UpdateExpression of dynamodb.updateItem's structured form:
//
//   set:    {status: COMPLETED, result: {...}}  ->  SET #set0 = :set0, #set1 = :set1
//   remove: [lease, owner]                      ->  REMOVE #rem0, #rem1
//   add:    {attempts: 1, tags: [a, b]}         ->  ADD #add0 :add0, #add1 :add1
//
// Every attribute name goes through an ExpressionAttributeNames placeholder,
// so reserved words (status, name, result, ...) and any character are fine;
// a key is one top-level attribute name (a dot is part of the name, not a
// path). `add:` arrays become string or number sets (SS/NS), as ADD needs.
// The generated placeholders are merged with the user's own `names` and
// `values` (for the condition); a user placeholder that starts with one of
// the generated prefixes (#set, :set, #rem, #add, :add) is refused rather
// than silently overwritten.
//
// Pure functions; thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "core/result.h"

namespace cairn::actions::dynamodb {

struct BuiltUpdate {
  std::string expression;  // e.g. "SET #set0 = :set0 REMOVE #rem0"
  nlohmann::json names;    // {"#set0": "status", ...} (user's included); {} when none
  nlohmann::json values;   // {":set0": {"S": "COMPLETED"}, ...} as AttributeValues; {} when none
};

// `set`, `remove`, `add`: the parameters as given (null when absent).
// `user_names`: {"#x": "attr"} or null; `user_values`: {":v": <AttributeValue>}
// (already marshalled) or null. Error (code "invalid") with a message that
// names the parameter: wrong types, an empty clause, nothing to update, a
// placeholder clash, or an attribute in two clauses.
Result<BuiltUpdate> BuildUpdate(const nlohmann::json& set, const nlohmann::json& remove,
                                const nlohmann::json& add, const nlohmann::json& user_names,
                                const nlohmann::json& user_values);

}  // namespace cairn::actions::dynamodb
