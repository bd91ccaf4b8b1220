#include "aws/service_client.h"

#include <thread>
#include <utility>

#include "aws/aws_error.h"
#include "aws/curl_http_client.h"
#include "aws/sigv4.h"

namespace cairn::aws {
namespace {

AwsReply Failure(std::string name, std::string message, int status = 0) {
  AwsReply reply;
  reply.ok = false;
  reply.http_status = status;
  reply.error_name = std::move(name);
  reply.error_message = std::move(message);
  return reply;
}

// The Host header for an endpoint "scheme://host[:port]": the default port
// is left out, as HTTP clients send it.
std::string HostHeader(std::string_view endpoint) {
  bool https = endpoint.starts_with("https://");
  std::string_view authority = endpoint.substr(endpoint.find("://") + 3);
  if (https && authority.ends_with(":443")) authority.remove_suffix(4);
  if (!https && authority.ends_with(":80")) authority.remove_suffix(3);
  return std::string(authority);
}

HttpRequest BuildRequest(const AwsCall& call, const std::string& host) {
  HttpRequest request;
  request.headers.push_back({"Host", host});
  if (call.protocol == AwsProtocol::kRestJson) {
    request.method = call.method.empty() ? "GET" : call.method;
    request.path = call.path.empty() ? "/" : call.path;
    request.query = call.query;
    bool has_content_type = false;
    for (const auto& [name, value] : call.headers) {
      has_content_type |= HeaderNameEquals(name, "Content-Type");
      request.headers.push_back({name, value});
    }
    if (call.use_raw_body) {
      request.body = call.raw_body;
    } else if (!call.body.is_null()) {
      request.body = call.body.dump();
    }
    if (!request.body.empty() && !has_content_type) {
      request.headers.push_back({"Content-Type", "application/json"});
    }
    return request;
  }
  request.method = "POST";
  request.path = "/";
  request.headers.push_back({"Content-Type", call.protocol == AwsProtocol::kJson10
                                                 ? "application/x-amz-json-1.0"
                                                 : "application/x-amz-json-1.1"});
  request.headers.push_back({"X-Amz-Target", call.target});
  request.body = call.body.is_null() ? "{}" : call.body.dump();
  return request;
}

std::string Attempts(int n) { return std::to_string(n) + (n == 1 ? " attempt" : " attempts"); }

}  // namespace

ServiceClient::ServiceClient(ServiceClientOptions options) : options_(std::move(options)) {
  if (options_.config.ok()) options_.retry.max_attempts = options_.config->max_attempts;
  if (!options_.sleep) {
    options_.sleep = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
  }
  std::random_device seed;
  rng_.seed((static_cast<uint64_t>(seed()) << 32) ^ seed());
}

RetryQuota& ServiceClient::QuotaFor(const std::string& service) {
  std::lock_guard<std::mutex> lock(mu_);
  std::unique_ptr<RetryQuota>& quota = quotas_[service];
  if (!quota) quota = std::make_unique<RetryQuota>(options_.retry);
  return *quota;
}

int ServiceClient::RetryTokensAvailable(const std::string& service) {
  return QuotaFor(service).available();
}

double ServiceClient::Random() {
  if (options_.random) return options_.random();
  std::lock_guard<std::mutex> lock(mu_);
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
}

AwsReply ServiceClient::Call(const AwsCall& call) {
  if (!options_.config.ok()) return Failure("Cairn.Configuration", options_.config.error().message);
  const ServiceConfig& config = *options_.config;
  const ServiceInfo service = ServiceInfoFor(call.service);
  Result<std::string> endpoint = ResolveEndpoint(config, service, config.region);
  if (!endpoint.ok()) return Failure("Cairn.Configuration", endpoint.error().message);
  if (config.region.empty()) {
    return Failure("Cairn.Configuration",
                   "no AWS region to sign " + service.service_id +
                       " requests for: set AWS_REGION (or AWS_DEFAULT_REGION, or `region` "
                       "in profile " +
                       config.profile + ")");
  }
  const HttpRequest unsigned_request = BuildRequest(call, HostHeader(*endpoint));
  RetryQuota& quota = QuotaFor(service.signing_name);
  const int max_attempts = std::max(1, options_.retry.max_attempts);

  // The step's timeout bounds the whole call: each attempt gets at most what
  // is left of it, and no backoff sleeps past it.
  std::optional<int64_t> deadline_ms;
  if (call.timeout) deadline_ms = options_.clock->NowMillis() + call.timeout->count();
  auto timed_out = [&] {
    return Failure("Cairn.Timeout", service.service_id + " call did not complete within the step's " +
                                        "timeout of " + std::to_string(call.timeout->count()) + " ms");
  };

  int attempt = 1;
  int last_retry_cost = 0;
  bool refreshed_credentials = false;
  while (true) {
    HttpCallOptions attempt_options = options_.call;
    if (deadline_ms) {
      const int64_t left = *deadline_ms - options_.clock->NowMillis();
      if (left <= 0) return timed_out();
      const std::chrono::milliseconds bound(left);
      if (attempt_options.timeout.count() == 0 || attempt_options.timeout > bound) {
        attempt_options.timeout = bound;
      }
      attempt_options.connect_timeout = std::min(attempt_options.connect_timeout, bound);
    }
    Result<ProvidedCredentials> credentials = options_.credentials->Resolve();
    if (!credentials.ok()) return Failure("Cairn.Credentials", credentials.error().message);
    const std::chrono::sys_seconds now{std::chrono::duration_cast<std::chrono::seconds>(
        std::chrono::milliseconds(options_.clock->NowMillis()))};
    Result<SignedRequest> signed_request = SignRequest(unsigned_request, credentials->credentials,
                                                       now, config.region, service.signing_name);
    if (!signed_request.ok()) {
      return Failure("Cairn.Credentials", "cannot sign the " + service.service_id +
                                              " request with the credentials from " +
                                              credentials->source + ": " +
                                              signed_request.error().message);
    }
    HttpRequest& request = signed_request->request;
    if (!options_.user_agent.empty()) {
      request.headers.push_back({"User-Agent", options_.user_agent});
    }

    Result<HttpResponse> response = options_.http->Send(*endpoint, request, attempt_options);
    if (!response.ok() && response.error().code == "http.timeout" && deadline_ms &&
        options_.clock->NowMillis() >= *deadline_ms) {
      return timed_out();
    }

    RetryKind kind = RetryKind::kNone;
    std::string failure;  // the last retryable failure, for the final message
    std::optional<std::chrono::milliseconds> retry_after;
    if (!response.ok()) {
      kind = ClassifyTransportError(response.error().code);
      failure = response.error().message;
    } else if (response->status >= 200 && response->status < 300) {
      quota.OnSuccess(last_retry_cost);
      AwsReply reply;
      reply.ok = true;
      reply.http_status = response->status;
      for (HttpHeader& header : response->headers) {
        reply.headers.emplace_back(header.name, header.value);
      }
      if (!response->body.empty()) {
        reply.body = nlohmann::json::parse(response->body, nullptr, /*allow_exceptions=*/false);
        if (reply.body.is_discarded()) {
          reply.body = nullptr;
          if (call.protocol != AwsProtocol::kRestJson) {
            return Failure("Cairn.InvalidResponse",
                           service.service_id + " answered HTTP " +
                               std::to_string(response->status) + " with a body that is not JSON",
                           response->status);
          }
        }
      }
      reply.raw_body = std::move(response->body);
      return reply;
    } else {
      ServiceError error = ParseServiceError(*response);
      kind = ClassifyResponse(response->status, error.code);
      if (kind == RetryKind::kNone) {
        if (IsExpiredCredentialsCode(error.code) && !refreshed_credentials) {
          // Cached temporary credentials the service already considers
          // expired: fetch new ones and try once more.
          refreshed_credentials = true;
          options_.credentials->Invalidate();
          continue;
        }
        AwsReply reply = Failure(
            service.error_prefix + "." + error.code,
            DescribeServiceError(error, response->status, credentials->credentials.access_key_id(),
                                 credentials->source),
            response->status);
        for (HttpHeader& header : response->headers) {
          reply.headers.emplace_back(header.name, header.value);
        }
        reply.raw_body = std::move(response->body);
        return reply;
      }
      failure = service.error_prefix + "." + error.code + " (HTTP " +
                std::to_string(response->status) + ")" +
                (error.message.empty() ? "" : ": " + error.message);
      retry_after = RetryAfter(*response);
    }

    const int status = response.ok() ? response->status : 0;
    if (attempt >= max_attempts) {
      return Failure("Cairn.Transient", failure + " (gave up after " + Attempts(attempt) + ")",
                     status);
    }
    int cost = quota.TryAcquire(kind);
    if (cost == 0) {
      return Failure("Cairn.Transient",
                     failure + " (not retried: the client's retry quota is used up after " +
                         Attempts(attempt) + ")",
                     status);
    }
    last_retry_cost = cost;
    const std::chrono::milliseconds delay =
        BackoffDelay(attempt, kind, Random(), options_.retry, retry_after);
    if (deadline_ms && options_.clock->NowMillis() + delay.count() >= *deadline_ms) {
      return timed_out();
    }
    options_.sleep(delay);
    ++attempt;
  }
}

std::unique_ptr<ServiceClient> MakeDefaultServiceClient(const EnvironmentLookup& env,
                                                        const Clock& clock,
                                                        std::shared_ptr<HttpClient> http) {
  if (!http) http = MakeCurlHttpClient(env);
  ServiceClientOptions options;
  options.http = http;
  options.clock = &clock;
  options.config = LoadServiceConfig(env);
  CredentialsChainOptions chain;
  chain.env = env;
  chain.http = http;
  options.credentials = MakeDefaultCredentialsChain(chain, clock);
  return std::make_unique<ServiceClient>(std::move(options));
}

}  // namespace cairn::aws
