// ServiceClient: the AwsCaller of production. One call:
//
//  1. resolve region and endpoint (service_config.h) — failure:
//     "Cairn.Configuration";
//  2. build the HTTP request for the protocol: JSON 1.0/1.1 as
//     `POST /` with Content-Type application/x-amz-json-1.x and
//     X-Amz-Target; REST-JSON with the call's method, path, query, headers
//     and a JSON (or raw) body; Host from the endpoint;
//  3. get credentials (credentials_provider.h) — failure:
//     "Cairn.Credentials" — and sign with SignRequest at the Clock's time;
//  4. send through the HttpClient; retry as the SDKs' standard mode does
//     (retry_strategy.h), sleeping through the injected Sleeper; after
//     ExpiredToken(Exception) the credentials are refreshed and the call
//     tried once more;
//  5. reply: 2xx → ok with the JSON body; a service error →
//     "<Prefix>.<Code>" (prefix from ServiceInfoFor, e.g.
//     "DynamoDB.ConditionalCheckFailedException"); retries used up (or the
//     retry quota empty) on throttling, 5xx or transport failures →
//     "Cairn.Transient", the message naming the last failure and the
//     attempts; a 2xx whose body is not the JSON the protocol promises →
//     "Cairn.InvalidResponse".
//
// Nothing here logs; messages never contain secrets, tokens or header
// values other than the access key id.
//
// Thread-safety: Call may run concurrently from any number of threads (the
// retry quota is shared per service, as each SDK client shares one).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>

#include "aws/aws_caller.h"
#include "aws/credentials_provider.h"
#include "aws/http_client.h"
#include "aws/retry_strategy.h"
#include "aws/service_config.h"
#include "core/clock.h"

namespace cairn::aws {

// Waits for a retry's backoff. Production sleeps the calling thread; tests
// record the delays and return at once.
using Sleeper = std::function<void(std::chrono::milliseconds)>;

struct ServiceClientOptions {
  std::shared_ptr<HttpClient> http;                  // required
  std::shared_ptr<CredentialsProvider> credentials;  // required
  const Clock* clock = nullptr;                      // required; signing time
  // Region and endpoints. A `config` that failed to load is kept as the
  // error every call reports (Cairn.Configuration).
  Result<ServiceConfig> config = ServiceConfig{};
  RetryOptions retry;  // retry.max_attempts is replaced by config's
  Sleeper sleep;       // default: std::this_thread::sleep_for
  // Returns a number in [0, 1) for the backoff's jitter; default: a
  // mutex-guarded std::mt19937_64.
  std::function<double()> random;
  HttpCallOptions call;  // per attempt
  // Sent unsigned after signing.
  std::string user_agent = "cairn/0.1";
};

class ServiceClient final : public AwsCaller {
 public:
  explicit ServiceClient(ServiceClientOptions options);
  AwsReply Call(const AwsCall& call) override;

  // The quota left for `service` (tests).
  int RetryTokensAvailable(const std::string& service);

 private:
  RetryQuota& QuotaFor(const std::string& service);
  double Random();

  ServiceClientOptions options_;

  std::mutex mu_;  // guards quotas_ and rng_
  std::map<std::string, std::unique_ptr<RetryQuota>> quotas_;
  std::mt19937_64 rng_;
};

// The production wiring: ServiceConfig and the default credentials chain
// from `env` (see credentials_provider.h), a CurlHttpClient unless `http`
// is given, the system clock and real sleeps. Used by the CLI and the
// Lambda runtime with cli/environment's lookup.
std::unique_ptr<ServiceClient> MakeDefaultServiceClient(const EnvironmentLookup& env,
                                                        const Clock& clock,
                                                        std::shared_ptr<HttpClient> http = nullptr);

}  // namespace cairn::aws
