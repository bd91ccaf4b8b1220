// The durable execution protocol of AWS Lambda durable functions, as plain
// C++ values (API version 2025-12-01; see shared design PROTOCOL.md).
//
// The engine produces OperationUpdates and consumes Operations; both backends
// (local: cairn's embedded service; lambda: the AWS service over HTTP) speak
// exactly these shapes. JSON conversion uses the service's field names
// (PascalCase), so the same values travel over the wire unchanged.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace cairn::protocol {

// Milliseconds since the Unix epoch, UTC.
using Timestamp = int64_t;

enum class OperationType { kExecution, kContext, kStep, kWait, kCallback, kChainedInvoke };
enum class OperationAction { kStart, kSucceed, kFail, kRetry, kCancel };
enum class OperationStatus {
  kStarted, kPending, kReady, kSucceeded, kFailed, kCancelled, kTimedOut, kStopped
};
enum class InvocationStatus { kSucceeded, kFailed, kPending };
enum class ExecutionStatus { kRunning, kSucceeded, kFailed, kTimedOut, kStopped };

std::string_view ToString(OperationType v);
std::string_view ToString(OperationAction v);
std::string_view ToString(OperationStatus v);
std::string_view ToString(InvocationStatus v);
std::string_view ToString(ExecutionStatus v);
Result<OperationType> ParseOperationType(std::string_view s);
Result<OperationAction> ParseOperationAction(std::string_view s);
Result<OperationStatus> ParseOperationStatus(std::string_view s);
Result<ExecutionStatus> ParseExecutionStatus(std::string_view s);

// True for SUCCEEDED, FAILED, CANCELLED, TIMED_OUT, STOPPED.
bool IsTerminal(OperationStatus s);

// {ErrorType, ErrorMessage, ErrorData, StackTrace}.
struct ErrorObject {
  std::string type;
  std::string message;
  std::optional<std::string> data;
  std::vector<std::string> stack_trace;
  friend bool operator==(const ErrorObject&, const ErrorObject&) = default;
};

struct Operation {
  std::string id;
  std::optional<std::string> parent_id;
  std::optional<std::string> name;
  OperationType type = OperationType::kStep;
  std::optional<std::string> sub_type;
  std::optional<Timestamp> start_timestamp;
  std::optional<Timestamp> end_timestamp;
  OperationStatus status = OperationStatus::kStarted;

  // ExecutionDetails
  std::optional<std::string> input_payload;
  // ContextDetails / StepDetails / CallbackDetails / ChainedInvokeDetails
  std::optional<std::string> result;
  std::optional<ErrorObject> error;
  // ContextDetails
  std::optional<bool> replay_children;
  // StepDetails
  std::optional<int> attempt;
  std::optional<Timestamp> next_attempt_timestamp;
  // WaitDetails
  std::optional<Timestamp> scheduled_end_timestamp;
  // CallbackDetails
  std::optional<std::string> callback_id;

  friend bool operator==(const Operation&, const Operation&) = default;
};

struct OperationUpdate {
  std::string id;
  std::optional<std::string> parent_id;
  std::optional<std::string> name;
  OperationType type = OperationType::kStep;
  std::optional<std::string> sub_type;
  OperationAction action = OperationAction::kStart;
  std::optional<std::string> payload;
  std::optional<ErrorObject> error;
  std::optional<int64_t> next_attempt_delay_seconds;  // StepOptions
  std::optional<int64_t> wait_seconds;                // WaitOptions
  std::optional<int64_t> callback_timeout_seconds;    // CallbackOptions
  std::optional<int64_t> callback_heartbeat_timeout_seconds;
  std::optional<bool> replay_children;                // ContextOptions
  std::optional<std::string> function_name;           // ChainedInvokeOptions
  std::optional<std::string> tenant_id;

  friend bool operator==(const OperationUpdate&, const OperationUpdate&) = default;
};

struct ExecutionState {
  std::vector<Operation> operations;
  std::string next_marker;
};

// The event a durable function is invoked with.
struct Invocation {
  std::string durable_execution_arn;
  std::string checkpoint_token;
  ExecutionState initial_state;
};

// What an invocation returns.
struct InvocationOutput {
  InvocationStatus status = InvocationStatus::kPending;
  std::optional<std::string> result;  // SUCCEEDED
  std::optional<ErrorObject> error;   // FAILED
};

struct CheckpointRequest {
  std::string checkpoint_token;
  std::optional<std::string> client_token;
  std::vector<OperationUpdate> updates;
};

struct CheckpointResponse {
  std::optional<std::string> checkpoint_token;
  ExecutionState new_state;
};

// Protocol limits.
inline constexpr size_t kMaxOperationPayloadBytes = 262'144;
inline constexpr size_t kMaxErrorObjectBytes = 32 * 1024;
inline constexpr size_t kMaxIdLength = 64;
inline constexpr size_t kMaxNameLength = 256;
inline constexpr size_t kMaxSubTypeLength = 32;
inline constexpr int64_t kMaxDelaySeconds = 31'622'400;

// ---- JSON, in the service's shapes ----
// Timestamps are written as epoch seconds (a number with millisecond
// fraction) and read from epoch seconds (float), epoch milliseconds
// (integer ≥ 1e11) or ISO-8601 text.
nlohmann::json ToJson(const ErrorObject& v);
nlohmann::json ToJson(const Operation& v);
nlohmann::json ToJson(const OperationUpdate& v);
nlohmann::json ToJson(const ExecutionState& v);
nlohmann::json ToJson(const Invocation& v);
nlohmann::json ToJson(const InvocationOutput& v);
nlohmann::json ToJson(const CheckpointRequest& v);
nlohmann::json ToJson(const CheckpointResponse& v);

Result<ErrorObject> ErrorObjectFromJson(const nlohmann::json& j);
Result<Operation> OperationFromJson(const nlohmann::json& j);
Result<OperationUpdate> OperationUpdateFromJson(const nlohmann::json& j);
Result<ExecutionState> ExecutionStateFromJson(const nlohmann::json& j);
Result<Invocation> InvocationFromJson(const nlohmann::json& j);
Result<InvocationOutput> InvocationOutputFromJson(const nlohmann::json& j);
Result<CheckpointRequest> CheckpointRequestFromJson(const nlohmann::json& j);
Result<CheckpointResponse> CheckpointResponseFromJson(const nlohmann::json& j);

Result<Timestamp> TimestampFromJson(const nlohmann::json& j);
nlohmann::json TimestampToJson(Timestamp t);
// ISO-8601 UTC with milliseconds: 2026-11-23T07:02:46.123Z
std::string FormatIso8601(Timestamp t);

// The names in a durable execution's ARN,
// arn:…:function:FUNCTION[:QUALIFIER]/durable-execution/NAME/ID (views into
// the ARN). nullopt when `arn` is not of that form.
struct ExecutionArnParts {
  std::string_view function;
  std::string_view name;
};
std::optional<ExecutionArnParts> ParseExecutionArn(std::string_view arn);

}  // namespace cairn::protocol
