// LambdaCheckpointClient: the CheckpointClient of AWS Lambda durable
// functions, over HTTP (REST-JSON, API version 2025-12-01, SigV4 service
// `lambda`; PROTOCOL.md › CheckpointDurableExecution, GetDurableExecutionState).
//
//   POST /2025-12-01/durable-executions/{url-encoded ARN}/checkpoint
//   GET  /2025-12-01/durable-executions/{url-encoded ARN}/state?CheckpointToken=&Marker=&MaxItems=
//
// What it adds to the plain calls:
//  * Serialization: calls for one execution run one at a time (a mutex per
//    ARN); the newest token seen for an execution is remembered
//    (NewestToken), so the runtime can end an execution after the engine
//    returned (a result over 6 MB is checkpointed as EXECUTION SUCCEED).
//  * Limits checked before anything is sent: a non-EXECUTION payload over
//    262,144 bytes is kPayloadTooLargeError, an error object of 32 KiB or
//    more kInvalidRequestError: permanent, never sent, never retried.
//  * Batching: updates go in requests of at most `max_batch_bytes` (750 KB
//    by default, as AWS's SDKs do) and 250 updates, sent in order, each with
//    the token returned by the previous one. An update larger than a batch
//    (only an EXECUTION result can be) goes alone. NOTE: a request that
//    needs several batches is atomic per batch only; when a later batch
//    fails, earlier ones stay applied (the engine then aborts the invocation
//    and the next one replays them).
//  * Idempotent retries: each batch carries a fresh ClientToken; a transport
//    failure, 429 or 5xx is retried up to `max_attempts` times with the same
//    CheckpointToken and ClientToken (the service answers a repeated
//    ClientToken with its first response), then reported as kRetryableError.
//  * Error classes (durable_backend.h): 4xx InvalidParameterValueException
//    "Invalid checkpoint token…" → kStaleTokenError; 404 → kNotFoundError;
//    413 → kPayloadTooLargeError; 429, 5xx and transport failures →
//    kRetryableError; any other 4xx → kInvalidRequestError.
//
// Secrets: credentials only reach the signer; error messages carry the
// service's error type and message, never a header.
//
// Thread-safety: all methods are thread-safe; calls for different
// executions run concurrently.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "aws/credentials.h"
#include "aws/http_client.h"
#include "backend/durable_backend.h"
#include "core/clock.h"

namespace cairn::backend::lambda {

inline constexpr std::string_view kApiVersion = "2025-12-01";
// AWS's SDKs keep a checkpoint request under 750 KB and 250 updates.
inline constexpr size_t kDefaultMaxBatchBytes = 750 * 1024;
inline constexpr size_t kMaxUpdatesPerBatch = 250;

struct LambdaCheckpointClientOptions {
  // "https://lambda.REGION.amazonaws.com", or an override
  // (AWS_ENDPOINT_URL_LAMBDA): "scheme://host[:port]", no path.
  std::string endpoint;
  std::string region;
  aws::Credentials credentials{"", ""};
  const Clock* clock = &SystemClock::Instance();
  size_t max_batch_bytes = kDefaultMaxBatchBytes;
  // Attempts per request for transient failures (≥ 1).
  int max_attempts = 3;
  // Pause before attempt n+1 (n ≥ 1); defaults to a real sleep of
  // 50 ms · 4^(n-1). Tests pass a function that records instead.
  std::function<void(int attempt)> backoff;
  // Makes a ClientToken (≤ 64 characters); defaults to 32 random hex digits.
  std::function<std::string()> make_client_token;
  aws::HttpCallOptions http;
};

// "https://lambda.<region>.amazonaws.com".
std::string DefaultLambdaEndpoint(const std::string& region);

class LambdaCheckpointClient final : public CheckpointClient {
 public:
  // `http` must outlive the client.
  LambdaCheckpointClient(aws::HttpClient& http, LambdaCheckpointClientOptions options);

  Result<protocol::CheckpointResponse> Checkpoint(const std::string& arn,
                                                  const protocol::CheckpointRequest& request) override;
  Result<protocol::ExecutionState> GetState(const std::string& arn, const std::string& token,
                                            const std::string& marker) override;

  // The newest checkpoint token of `arn`: the last one a successful
  // Checkpoint returned, else the one last used; nullopt when none is known.
  std::optional<std::string> NewestToken(const std::string& arn) const;
  // Records `token` as the newest of `arn` (the invocation's first token).
  void SetToken(const std::string& arn, const std::string& token);
  // Drops what is remembered about `arn` (at the end of an invocation).
  void Forget(const std::string& arn);

  // Counters, for tests and benchmarks.
  struct Stats {
    int64_t requests = 0;  // HTTP requests sent (attempts included)
    int64_t retries = 0;
  };
  Stats stats() const;

 private:
  struct Execution {
    std::mutex call_mu;  // serializes calls of one execution
    std::optional<std::string> newest_token;  // guarded by LambdaCheckpointClient::mu_
  };
  std::shared_ptr<Execution> ExecutionOf(const std::string& arn);
  Result<aws::HttpResponse> Send(aws::HttpRequest request);
  Result<protocol::CheckpointResponse> SendBatch(const std::string& arn, const std::string& token,
                                                 const nlohmann::json& updates);

  aws::HttpClient& http_;
  LambdaCheckpointClientOptions options_;
  std::string host_;  // Host header, from the endpoint

  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Execution>> executions_;  // guarded by mu_
  Stats stats_;                                                   // guarded by mu_
};

// The backend error for an HTTP reply of the Lambda API (status ≥ 300):
// its class from the status, the X-Amzn-ErrorType header or the body's
// `__type`/`Type`/`code`, and the body's `message`/`Message`.
Error ErrorFromReply(const aws::HttpResponse& reply, std::string_view what);

}  // namespace cairn::backend::lambda
