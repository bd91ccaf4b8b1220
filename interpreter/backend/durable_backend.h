// The durable backend: what the engine talks to during one invocation.
//
// A durable execution is driven by *invocations*. Each invocation receives
// the execution's operations so far (protocol::Invocation), replays them,
// records its progress with Checkpoint calls and returns SUCCEEDED, FAILED or
// PENDING (protocol::InvocationOutput). Two services implement the other
// side: AWS Lambda durable functions (backend/lambda, over HTTP) and cairn's
// embedded service (backend/local). Both are reached through the same
// CheckpointClient, and both call the engine through the same Invoker.
//
// Errors. Every failed call returns an Error whose `code` is one of the
// k…Error constants below; ClassifyError() tells the engine what to do:
//   * kStaleTokenError    ("Invalid checkpoint token…"): the token was already
//                          consumed or the invocation is no longer current.
//                          Fail the invocation (Invoker returns an error); the
//                          service re-invokes with a fresh token.
//   * kInvalidRequestError, kNotFoundError, kPayloadTooLargeError: permanent
//                          (HTTP 4xx other than 429). Retrying cannot help:
//                          return FAILED from the invocation.
//   * kRetryableError     (HTTP 429/5xx, an unavailable store): fail the
//                          invocation so that it is retried later.
// The service-side APIs (callbacks, start) add kCallbackTimeoutError and
// kAlreadyStartedError; they never come out of a CheckpointClient.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"
#include "protocol/protocol.h"

namespace cairn::backend {

// The token is not the current one of a running invocation (already used,
// from an earlier invocation, or the execution has ended). The message
// starts with "Invalid checkpoint token", as the AWS service's does.
inline constexpr std::string_view kStaleTokenError = "backend.stale_token";
// The request breaks a rule of the protocol (illegal transition, malformed
// batch, payload over the limit, …). Nothing of it was applied.
inline constexpr std::string_view kInvalidRequestError = "backend.invalid_request";
// No such execution (or operation) exists.
inline constexpr std::string_view kNotFoundError = "backend.not_found";
// A payload is over its limit (the callback APIs; HTTP 413).
inline constexpr std::string_view kPayloadTooLargeError = "backend.payload_too_large";
// A transient failure: throttled, the service or its store is unavailable.
inline constexpr std::string_view kRetryableError = "backend.retryable";
// A callback id that is unknown, expired, or whose callback is already
// closed (AWS: CallbackTimeoutException).
inline constexpr std::string_view kCallbackTimeoutError = "backend.callback_timeout";
// An execution of that name already exists with other input, or has ended
// (AWS: DurableExecutionAlreadyStartedException).
inline constexpr std::string_view kAlreadyStartedError = "backend.already_started";

// The message prefix of every stale-token error.
inline constexpr std::string_view kInvalidCheckpointTokenMessage = "Invalid checkpoint token";

enum class ErrorClass {
  kStaleToken,  // fail the invocation; it is re-invoked with a fresh token
  kPermanent,   // return FAILED
  kRetryable,   // fail the invocation; it is retried later
};

// Unknown codes are treated as retryable (the conservative choice: an
// invocation that fails is re-run, an execution that FAILS is final).
ErrorClass ClassifyError(const Error& error);

// Convenience constructors for errors of the classes above.
Error StaleTokenError(std::string detail);
Error InvalidRequestError(std::string message);

// The checkpoint API of one durable execution service, used by the engine
// during an invocation.
//
// Thread-safety: implementations are thread-safe. Calls for one execution
// must be serialized by the caller and always carry the newest token (each
// successful Checkpoint consumes its token and returns the next one); calls
// for different executions may run concurrently.
class CheckpointClient {
 public:
  virtual ~CheckpointClient() = default;

  // Records `request.updates` for execution `arn` atomically: on success all
  // were applied and are durable; on failure none was. An empty update list
  // is legal (polls for changes made by the service, e.g. a completed wait).
  // On success returns the next token (absent once an EXECUTION update ended
  // the execution) and the operations changed since the previous checkpoint
  // of this invocation (including service-made values: CallbackId,
  // ScheduledEndTimestamp, NextAttemptTimestamp).
  // On failure: kStaleTokenError, kInvalidRequestError (nothing applied, the
  // token stays valid), kNotFoundError, kRetryableError.
  virtual Result<protocol::CheckpointResponse> Checkpoint(
      const std::string& arn, const protocol::CheckpointRequest& request) = 0;

  // One page of the execution's operations, starting at `marker` ("" for
  // the first page); `next_marker` is "" on the last page. `token` must be
  // the current checkpoint token (it is not consumed). Children of a
  // completed CONTEXT whose ReplayChildren is not set may be left out.
  // Errors as for Checkpoint.
  virtual Result<protocol::ExecutionState> GetState(const std::string& arn,
                                                    const std::string& token,
                                                    const std::string& marker) = 0;

  // True when the execution's start is not durable yet and becomes durable
  // with this invocation's first checkpoint (the local service's starts
  // whose caller waits for the end: one commit fewer). The invoker then
  // checkpoints before anything that acts outside the process (an action,
  // a poll's check), an empty update list if need be, so that no effect
  // ever belongs to an execution that a crash could lose. Asked once, at the
  // invocation's start. In AWS the service records the start before the
  // first invocation: false.
  virtual bool StartIsNotDurable(const std::string& arn) {
    (void)arn;
    return false;
  }
};

// Runs one invocation of a durable execution: the engine implements it; the
// local service calls it (the Lambda runtime loop plays that part in AWS).
//
// Thread-safety: Invoke may be called concurrently from several threads for
// different executions (never concurrently for the same execution).
class Invoker {
 public:
  virtual ~Invoker() = default;

  // Replays `invocation.initial_state`, advances the execution and records
  // progress through `client` (which stays valid during the call only).
  // Returns SUCCEEDED (with Result), FAILED (with Error) or PENDING (only
  // while an operation is really pending: a STEP PENDING, or a WAIT,
  // CALLBACK or CHAINED_INVOKE STARTED). An error result means the
  // invocation itself failed (a crash, a stale token, a transient error):
  // the service records it and re-invokes later with a fresh token; the
  // error's code and message become the InvocationCompleted event's
  // ErrorType and ErrorMessage.
  virtual Result<protocol::InvocationOutput> Invoke(const protocol::Invocation& invocation,
                                                    CheckpointClient& client) = 0;
};

}  // namespace cairn::backend
