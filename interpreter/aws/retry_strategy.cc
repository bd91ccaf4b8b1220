#include "aws/retry_strategy.h"

#include <algorithm>
#include <array>
#include <cmath>

namespace cairn::aws {
namespace {

constexpr std::array<std::string_view, 15> kThrottlingCodes{
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
    "ThrottlingError",
};

constexpr std::array<std::string_view, 6> kTransientCodes{
    "RequestTimeout",  "RequestTimeoutException", "InternalError",
    "InternalFailure", "ServiceUnavailable",      "InternalServerError",
};

}  // namespace

bool IsThrottlingErrorCode(std::string_view code) {
  return std::find(kThrottlingCodes.begin(), kThrottlingCodes.end(), code) !=
         kThrottlingCodes.end();
}

bool IsTransientErrorCode(std::string_view code) {
  return std::find(kTransientCodes.begin(), kTransientCodes.end(), code) != kTransientCodes.end();
}

RetryKind ClassifyResponse(int status, std::string_view code) {
  if (status >= 200 && status < 300) return RetryKind::kNone;
  if (status == 429 || IsThrottlingErrorCode(code)) return RetryKind::kThrottling;
  if (status == 500 || status == 502 || status == 503 || status == 504 ||
      IsTransientErrorCode(code)) {
    return RetryKind::kTransient;
  }
  return RetryKind::kNone;
}

RetryKind ClassifyTransportError(std::string_view http_error_code) {
  return http_error_code == "http.timeout" ? RetryKind::kTimeout : RetryKind::kTransient;
}

std::optional<std::chrono::milliseconds> RetryAfter(const HttpResponse& response) {
  const std::string* value = response.FindHeader("Retry-After");
  if (value == nullptr || value->empty() || value->size() > 6) return std::nullopt;
  int64_t seconds = 0;
  for (char c : *value) {
    if (c < '0' || c > '9') return std::nullopt;  // an HTTP-date: not used by AWS services
    seconds = seconds * 10 + (c - '0');
  }
  return std::chrono::milliseconds(seconds * 1000);
}

std::chrono::milliseconds BackoffDelay(int retry, RetryKind kind, double random01,
                                       const RetryOptions& options,
                                       std::optional<std::chrono::milliseconds> retry_after) {
  const double base = static_cast<double>(
      (kind == RetryKind::kThrottling ? options.throttling_base_delay : options.base_delay)
          .count());
  const double cap = static_cast<double>(options.max_backoff.count());
  const double exponential = std::min(cap, base * std::pow(2.0, std::max(0, retry - 1)));
  auto delay =
      std::chrono::milliseconds(static_cast<int64_t>(std::clamp(random01, 0.0, 1.0) * exponential));
  if (retry_after) delay = std::max(delay, std::min(*retry_after, options.max_backoff));
  return delay;
}

int RetryQuota::TryAcquire(RetryKind kind) {
  const int cost = kind == RetryKind::kTimeout ? options_.timeout_retry_cost : options_.retry_cost;
  std::lock_guard<std::mutex> lock(mu_);
  if (available_ < cost) return 0;
  available_ -= cost;
  return cost;
}

void RetryQuota::OnSuccess(int last_retry_cost) {
  std::lock_guard<std::mutex> lock(mu_);
  available_ =
      std::min(options_.initial_tokens,
               available_ + (last_retry_cost > 0 ? last_retry_cost : options_.no_retry_increment));
}

int RetryQuota::available() const {
  std::lock_guard<std::mutex> lock(mu_);
  return available_;
}

}  // namespace cairn::aws
