#include "backend/durable_backend.h"

#include <utility>

namespace cairn::backend {

ErrorClass ClassifyError(const Error& error) {
  if (error.code == kStaleTokenError) return ErrorClass::kStaleToken;
  if (error.code == kInvalidRequestError || error.code == kNotFoundError ||
      error.code == kPayloadTooLargeError || error.code == kCallbackTimeoutError ||
      error.code == kAlreadyStartedError) {
    return ErrorClass::kPermanent;
  }
  return ErrorClass::kRetryable;
}

Error StaleTokenError(std::string detail) {
  std::string message(kInvalidCheckpointTokenMessage);
  if (!detail.empty()) message += ": " + detail;
  return MakeError(std::string(kStaleTokenError), std::move(message));
}

Error InvalidRequestError(std::string message) {
  return MakeError(std::string(kInvalidRequestError), std::move(message));
}

}  // namespace cairn::backend
