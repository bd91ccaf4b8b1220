// Reading an action's rendered parameters: the helpers the AWS actions share
// (dynamodb.*, ecs.*, lambda.invoke, http.request).
//
// The schema already judged the literal parts of a workflow; expressions
// produce the rest at run time, so every action checks its parameters again
// here and reports a problem as the workflow error Cairn.InvalidParameters
// with a message that names the parameter and what it got.
//
// Thread-safety: ParamReader is a view of one request's parameters, used by
// one thread; the free functions are pure.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "actions/action.h"
#include "aws/aws_caller.h"
#include "core/result.h"

namespace cairn::actions {

// "string \"abc\"", "number 5", "null": how a wrong value is shown in a
// message (long values are cut).
std::string DescribeValue(const nlohmann::json& value);

// `text` as valid UTF-8: bytes that are not part of a well-formed sequence
// become U+FFFD (JSON strings, and so results, must be valid UTF-8).
std::string ToValidUtf8(const std::string& text);

// Parses JSON text received from a peer. Returns nullopt when `text` is
// not JSON or nests deeper than `max_depth` (checked before parsing, so no
// hostile reply reaches recursive code).
std::optional<nlohmann::json> ParseJsonReply(std::string_view text, int max_depth = 512);

// An operational error with code "invalid": the parameters are wrong.
Error InvalidParameters(std::string message);

// `call` bounded by the step's `timeout:` (when it has one), retries
// included: an AWS call that outlives it is "Cairn.Timeout".
aws::AwsCall WithStepTimeout(aws::AwsCall call, const ActionRequest& request);

// The outcome for a parameter problem: Cairn.InvalidParameters.
ActionOutcome InvalidOutcome(const Error& error);

class ParamReader {
 public:
  // `action` names the action in messages ("dynamodb.putItem").
  ParamReader(const nlohmann::json& params, std::string action)
      : params_(params), action_(std::move(action)) {}

  // An error when the parameters are not an object or have a key outside
  // `known` (with "did you mean" for a near miss).
  Status CheckKeys(std::initializer_list<std::string_view> known) const;

  // The value, or nullptr when absent or null.
  const nlohmann::json* Find(std::string_view key) const;

  // Typed getters: nullopt when absent or null; an error when present with
  // another type. Required* fail when absent.
  Result<std::optional<std::string>> String(std::string_view key) const;
  Result<std::string> RequiredString(std::string_view key) const;
  Result<std::optional<bool>> Bool(std::string_view key) const;
  Result<std::optional<int64_t>> Integer(std::string_view key, int64_t min, int64_t max) const;
  Result<std::optional<std::vector<std::string>>> StringList(std::string_view key) const;
  // An object (any values).
  Result<const nlohmann::json*> Object(std::string_view key) const;
  // A string that must be one of `allowed`.
  Result<std::optional<std::string>> Enum(std::string_view key,
                                          std::initializer_list<std::string_view> allowed) const;

  const std::string& action() const { return action_; }

 private:
  Error Wrong(std::string_view key, std::string_view expected, const nlohmann::json& got) const;

  const nlohmann::json& params_;
  const std::string action_;
};

}  // namespace cairn::actions
