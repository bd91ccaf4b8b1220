// The AWS SDKs' "standard" retry mode, as pure pieces the service client
// puts together (constants as in the SDKs, e.g. @smithy/util-retry):
//
//  * at most max_attempts attempts (3; AWS_MAX_ATTEMPTS);
//  * retryable: throttling (HTTP 429 or a throttling error code),
//    transient (HTTP 500/502/503/504, a transient error code, any transport
//    failure: refused, reset, timed out);
//  * delay before retry n (n = 1, 2, …): full jitter,
//    random[0,1) × min(20 s, base × 2^(n-1)), base 100 ms (500 ms after
//    throttling); a Retry-After header (delta-seconds) raises the delay to
//    at least that, still capped at 20 s;
//  * a retry quota shared by the calls of one client: 500 tokens, a retry
//    costs 5 (10 after a timeout), a success refunds the cost of its last
//    retry, or adds 1 when it needed none. An empty quota stops retrying.
//
// Thread-safety: RetryQuota is thread-safe; the functions are pure.
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string_view>

#include "aws/http_client.h"

namespace cairn::aws {

struct RetryOptions {
  int max_attempts = 3;
  std::chrono::milliseconds base_delay{100};
  std::chrono::milliseconds throttling_base_delay{500};
  std::chrono::milliseconds max_backoff{20000};
  int initial_tokens = 500;
  int retry_cost = 5;
  int timeout_retry_cost = 10;
  int no_retry_increment = 1;
};

enum class RetryKind {
  kNone,        // not retryable (success, or a client error)
  kThrottling,  // 429 or a throttling code
  kTransient,   // 5xx, a transient code, a transport failure
  kTimeout,     // a transport timeout (costs more quota)
};

// True for the SDKs' throttling codes (Throttling, ThrottlingException,
// ProvisionedThroughputExceededException, TooManyRequestsException,
// RequestLimitExceeded, SlowDown, …).
bool IsThrottlingErrorCode(std::string_view code);
// True for RequestTimeout, RequestTimeoutException, PriorRequestNotComplete,
// InternalError, InternalFailure, ServiceUnavailable.
bool IsTransientErrorCode(std::string_view code);

// How to treat a response with `status` and service error `code` (empty
// when none was parsed).
RetryKind ClassifyResponse(int status, std::string_view code);
// How to treat a transport error code from HttpClient ("http.timeout", …).
RetryKind ClassifyTransportError(std::string_view http_error_code);

// The Retry-After header as a delay (delta-seconds only), if any.
std::optional<std::chrono::milliseconds> RetryAfter(const HttpResponse& response);

// The delay before retry number `retry` (1 for the first retry), with
// `random01` in [0, 1).
std::chrono::milliseconds BackoffDelay(
    int retry, RetryKind kind, double random01, const RetryOptions& options,
    std::optional<std::chrono::milliseconds> retry_after = std::nullopt);

class RetryQuota {
 public:
  explicit RetryQuota(const RetryOptions& options)
      : options_(options), available_(options.initial_tokens) {}
  // Takes the cost of a retry of `kind`; returns 0 (and takes nothing) when
  // the quota cannot pay it, else the cost taken.
  int TryAcquire(RetryKind kind);
  // After a successful call: refunds `last_retry_cost`, or adds
  // no_retry_increment when the call needed no retry (0).
  void OnSuccess(int last_retry_cost);
  int available() const;

 private:
  const RetryOptions options_;
  mutable std::mutex mu_;
  int available_;  // guarded by mu_
};

}  // namespace cairn::aws
