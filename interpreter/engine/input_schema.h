// The workflow's `input:` schema, applied when an execution starts.
#pragma once

#include <cstddef>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "core/result.h"

namespace cairn::engine {

// Longest string (or object key) of an input whose schema uses regular
// expressions (`pattern`, `patternProperties`, or a `format` of date, time
// or date-time). valijson matches them with std::regex, which recurses once
// or more per character (≈1 KB of stack per character for `^(a|b)*$`): a
// long enough string would overflow any stack. Such an input is rejected
// with an error naming the string, before any regex runs.
inline constexpr size_t kMaxRegexCheckedLength = 8192;

// A workflow's `input:` schema, compiled once (the engine keeps one per
// workflow) and applied to every execution's input: Check does what
// CheckInput below does, without parsing the schema again. Thread-safe
// (Check is const and shares nothing between calls).
class InputSchema {
 public:
  explicit InputSchema(nlohmann::json schema);
  ~InputSchema();
  InputSchema(const InputSchema&) = delete;
  InputSchema& operator=(const InputSchema&) = delete;

  // See CheckInput. A schema that does not compile fails every Check with
  // the reason.
  Result<nlohmann::json> Check(nlohmann::json input) const;

 private:
  struct Compiled;
  nlohmann::json schema_;
  bool uses_regex_ = false;
  bool uses_ref_ = false;
  std::unique_ptr<Compiled> compiled_;  // null when compile_error_ is set
  std::string compile_error_;
};

// Fills in `default`s of object properties (recursively, where the schema
// says `properties`) that the input leaves out, then validates the result
// against `schema` (JSON Schema draft-07). Returns the completed input, or an
// Error listing every violation with its JSON pointer (or naming a string
// longer than kMaxRegexCheckedLength when the schema uses regexes).
// When the schema uses regexes or `$ref` (which recurse as deep as the input
// goes), the validation runs on a thread of its own with a 64 MiB stack
// (reserved, touched only as deep as the recursion goes), so that an input
// within the limits cannot overflow a smaller caller stack; otherwise it
// runs on the calling thread. Thread-safe. Compiles `schema` on every call:
// InputSchema compiles it once.
Result<nlohmann::json> CheckInput(const nlohmann::json& schema, nlohmann::json input);

}  // namespace cairn::engine
