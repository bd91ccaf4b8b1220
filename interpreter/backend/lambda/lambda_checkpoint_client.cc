#include "backend/lambda/lambda_checkpoint_client.h"

#include <random>
#include <thread>

#include "aws/sigv4.h"

namespace cairn::backend::lambda {
namespace {

using nlohmann::json;
namespace P = protocol;

std::string RandomClientToken() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(32, '0');
  for (size_t i = 0; i < out.size(); i += 16) {
    uint64_t bits = rng();
    for (size_t k = 0; k < 16; ++k, bits >>= 4) out[i + k] = kHex[bits & 15];
  }
  return out;
}

// "scheme://host[:port]" → "host[:port]".
std::string HostOf(const std::string& endpoint) {
  auto at = endpoint.find("://");
  std::string host = at == std::string::npos ? endpoint : endpoint.substr(at + 3);
  auto slash = host.find('/');
  if (slash != std::string::npos) host.resize(slash);
  return host;
}

std::string ExecutionPath(const std::string& arn, std::string_view suffix) {
  return "/" + std::string(kApiVersion) + "/durable-executions/" + aws::UriEncode(arn) +
         std::string(suffix);
}

bool Transient(const Result<aws::HttpResponse>& r) {
  return !r.ok() || r->status == 429 || r->status >= 500;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The size a batch grows by when `update` joins it (its JSON and a comma).
size_t EncodedSize(const json& update) { return update.dump().size() + 1; }

// Checks the limits the service enforces, before anything is sent.
Status CheckLimits(const P::OperationUpdate& u) {
  if (u.type != P::OperationType::kExecution && u.payload &&
      u.payload->size() > P::kMaxOperationPayloadBytes) {
    return MakeError(std::string(kPayloadTooLargeError),
                     "the payload of " + std::string(P::ToString(u.type)) + " " +
                         std::string(P::ToString(u.action)) + " " + u.id + " is " +
                         std::to_string(u.payload->size()) + " bytes; an operation payload may be at most " +
                         std::to_string(P::kMaxOperationPayloadBytes) + " bytes");
  }
  if (u.error && P::ToJson(*u.error).dump().size() >= P::kMaxErrorObjectBytes) {
    return InvalidRequestError("the error object of " + u.id + " is 32 KiB or more");
  }
  return {};
}

}  // namespace

std::string DefaultLambdaEndpoint(const std::string& region) {
  return "https://lambda." + region + ".amazonaws.com";
}

Error ErrorFromReply(const aws::HttpResponse& reply, std::string_view what) {
  std::string type;
  std::string message;
  if (const std::string* h = reply.FindHeader("X-Amzn-ErrorType")) {
    type = h->substr(0, h->find(':'));  // "Type:http://internal.amazon.com/…"
  }
  json body = json::parse(reply.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_object()) {
    for (const char* key : {"__type", "Type", "code"}) {
      if (!type.empty()) break;
      if (auto it = body.find(key); it != body.end() && it->is_string()) type = it->get<std::string>();
    }
    for (const char* key : {"message", "Message", "errorMessage"}) {
      if (auto it = body.find(key); it != body.end() && it->is_string()) {
        message = it->get<std::string>();
        break;
      }
    }
  }
  if (auto hash = type.rfind('#'); hash != std::string::npos) type = type.substr(hash + 1);
  if (message.empty()) message = reply.body.substr(0, 200);
  std::string text = (type.empty() ? "HTTP " + std::to_string(reply.status) : type) + ": " + message;
  std::string code;
  if (reply.status == 429 || reply.status >= 500) {
    code = kRetryableError;
  } else if (Lower(message).rfind(Lower(std::string(kInvalidCheckpointTokenMessage)), 0) == 0) {
    // Keep the service's message first: callers and the runtime recognise a
    // stale token by its prefix.
    return MakeError(std::string(kStaleTokenError), message + " (" + std::string(what) + ")");
  } else if (reply.status == 404) {
    code = kNotFoundError;
  } else if (reply.status == 413) {
    code = kPayloadTooLargeError;
  } else {
    code = kInvalidRequestError;
  }
  return MakeError(std::move(code), text, std::string(what));
}

LambdaCheckpointClient::LambdaCheckpointClient(aws::HttpClient& http,
                                               LambdaCheckpointClientOptions options)
    : http_(http), options_(std::move(options)), host_(HostOf(options_.endpoint)) {
  if (options_.max_attempts < 1) options_.max_attempts = 1;
  if (!options_.backoff) {
    options_.backoff = [](int attempt) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50 << (2 * (attempt - 1))));
    };
  }
  if (!options_.make_client_token) options_.make_client_token = RandomClientToken;
}

std::shared_ptr<LambdaCheckpointClient::Execution> LambdaCheckpointClient::ExecutionOf(
    const std::string& arn) {
  std::lock_guard lock(mu_);
  auto& e = executions_[arn];
  if (!e) e = std::make_shared<Execution>();
  return e;
}

std::optional<std::string> LambdaCheckpointClient::NewestToken(const std::string& arn) const {
  std::lock_guard lock(mu_);
  auto it = executions_.find(arn);
  if (it == executions_.end()) return std::nullopt;
  return it->second->newest_token;
}

void LambdaCheckpointClient::SetToken(const std::string& arn, const std::string& token) {
  auto e = ExecutionOf(arn);
  std::lock_guard lock(mu_);
  e->newest_token = token;
}

void LambdaCheckpointClient::Forget(const std::string& arn) {
  std::lock_guard lock(mu_);
  executions_.erase(arn);
}

LambdaCheckpointClient::Stats LambdaCheckpointClient::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

// Signs and sends `request`, retrying transient failures with the very same
// request (the ClientToken in the body makes a repeated checkpoint safe; a
// GET is safe anyway). Returns the last reply or transport error.
Result<aws::HttpResponse> LambdaCheckpointClient::Send(aws::HttpRequest request) {
  request.headers.insert(request.headers.begin(), aws::HttpHeader{"Host", host_});
  Result<aws::HttpResponse> reply = MakeError("http.transport", "not sent");
  for (int attempt = 1; attempt <= options_.max_attempts; ++attempt) {
    if (attempt > 1) {
      options_.backoff(attempt - 1);
      std::lock_guard lock(mu_);
      ++stats_.retries;
    }
    // Signed per attempt: the signature carries the time.
    auto now = std::chrono::sys_seconds(std::chrono::seconds(options_.clock->NowMillis() / 1000));
    auto signed_request =
        aws::SignRequest(request, options_.credentials, now, options_.region, "lambda");
    if (!signed_request.ok()) {
      return MakeError(std::string(kInvalidRequestError),
                       "cannot sign the request: " + signed_request.error().message);
    }
    signed_request->request.headers.push_back({"User-Agent", "cairn-lambda"});
    {
      std::lock_guard lock(mu_);
      ++stats_.requests;
    }
    reply = http_.Send(options_.endpoint, signed_request->request, options_.http);
    if (!Transient(reply)) break;
  }
  return reply;
}

Result<P::CheckpointResponse> LambdaCheckpointClient::SendBatch(const std::string& arn,
                                                                const std::string& token,
                                                                const json& updates) {
  json body = {{"CheckpointToken", token},
               {"ClientToken", options_.make_client_token()},
               {"Updates", updates}};
  aws::HttpRequest request;
  request.method = "POST";
  request.path = ExecutionPath(arn, "/checkpoint");
  request.headers.push_back({"Content-Type", "application/json"});
  request.body = body.dump();
  auto reply = Send(std::move(request));
  if (!reply.ok()) {
    return MakeError(std::string(kRetryableError), reply.error().message, "CheckpointDurableExecution");
  }
  if (reply->status >= 300) return ErrorFromReply(*reply, "CheckpointDurableExecution");
  json parsed = json::parse(reply->body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    return MakeError(std::string(kRetryableError), "the reply is not JSON", "CheckpointDurableExecution");
  }
  auto response = P::CheckpointResponseFromJson(parsed);
  if (!response.ok()) {
    return MakeError(std::string(kRetryableError), response.error().ToString(),
                     "CheckpointDurableExecution reply");
  }
  return response;
}

Result<P::CheckpointResponse> LambdaCheckpointClient::Checkpoint(
    const std::string& arn, const P::CheckpointRequest& request) {
  // Everything is checked and encoded before the first byte is sent, so a
  // refused update leaves the execution untouched.
  std::vector<json> encoded;
  encoded.reserve(request.updates.size());
  for (const auto& u : request.updates) {
    if (auto ok = CheckLimits(u); !ok.ok()) return ok.error();
    encoded.push_back(P::ToJson(u));
  }
  // Batches: [begin, end) ranges of `encoded`.
  std::vector<std::pair<size_t, size_t>> batches;
  const size_t base = request.checkpoint_token.size() + 100;
  size_t begin = 0, size = base;
  for (size_t i = 0; i < encoded.size(); ++i) {
    size_t s = EncodedSize(encoded[i]);
    if (i > begin && (size + s > options_.max_batch_bytes || i - begin >= kMaxUpdatesPerBatch)) {
      batches.emplace_back(begin, i);
      begin = i;
      size = base;
    }
    size += s;
  }
  if (batches.empty() || begin < encoded.size()) batches.emplace_back(begin, encoded.size());

  auto execution = ExecutionOf(arn);
  std::lock_guard call_lock(execution->call_mu);
  std::string token = request.checkpoint_token;
  P::CheckpointResponse merged;
  for (auto [from, to] : batches) {
    json updates = json::array();
    for (size_t i = from; i < to; ++i) updates.push_back(std::move(encoded[i]));
    auto r = SendBatch(arn, token, updates);
    if (!r.ok()) return r.error();
    for (auto& op : r->new_state.operations) merged.new_state.operations.push_back(std::move(op));
    merged.checkpoint_token = r->checkpoint_token;
    {
      std::lock_guard lock(mu_);
      execution->newest_token = r->checkpoint_token;
    }
    if (!r->checkpoint_token) break;  // the execution ended
    token = *r->checkpoint_token;
  }
  return merged;
}

Result<P::ExecutionState> LambdaCheckpointClient::GetState(const std::string& arn,
                                                           const std::string& token,
                                                           const std::string& marker) {
  aws::HttpRequest request;
  request.method = "GET";
  request.path = ExecutionPath(arn, "/state");
  request.query = "CheckpointToken=" + aws::UriEncode(token);
  if (!marker.empty()) request.query += "&Marker=" + aws::UriEncode(marker);
  request.query += "&MaxItems=1000";
  auto execution = ExecutionOf(arn);
  std::lock_guard call_lock(execution->call_mu);
  auto reply = Send(std::move(request));
  if (!reply.ok()) {
    return MakeError(std::string(kRetryableError), reply.error().message, "GetDurableExecutionState");
  }
  if (reply->status >= 300) return ErrorFromReply(*reply, "GetDurableExecutionState");
  json parsed = json::parse(reply->body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    return MakeError(std::string(kRetryableError), "the reply is not JSON", "GetDurableExecutionState");
  }
  auto state = P::ExecutionStateFromJson(parsed);
  if (!state.ok()) {
    return MakeError(std::string(kRetryableError), state.error().ToString(),
                     "GetDurableExecutionState reply");
  }
  return state;
}

}  // namespace cairn::backend::lambda
