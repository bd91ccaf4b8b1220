#include "lambda/runtime_api.h"

#include <nlohmann/json.hpp>

namespace cairn::lambda {
namespace {

constexpr const char* kPrefix = "/2018-06-01/runtime";

// Request ids are UUIDs; anything else is refused rather than put in a path.
bool SafeId(const std::string& id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

std::string ErrorBody(const RuntimeError& e) {
  return nlohmann::json{{"errorType", e.type}, {"errorMessage", e.message},
                        {"stackTrace", nlohmann::json::array()}}
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

HttpRuntimeApi::HttpRuntimeApi(aws::HttpClient& http, std::string host_port)
    : http_(http), base_url_("http://" + host_port), host_(std::move(host_port)) {}

Result<NextInvocation> HttpRuntimeApi::Next() {
  aws::HttpRequest request;
  request.method = "GET";
  request.path = std::string(kPrefix) + "/invocation/next";
  request.headers.push_back({"Host", host_});
  aws::HttpCallOptions options;
  options.timeout = std::chrono::milliseconds(0);  // long poll: waits for the next event
  auto reply = http_.Send(base_url_, request, options);
  if (!reply.ok()) return MakeError("runtime.api", reply.error().message, "invocation/next");
  if (reply->status != 200) {
    return MakeError("runtime.api", "HTTP " + std::to_string(reply->status) + ": " +
                                        reply->body.substr(0, 200), "invocation/next");
  }
  NextInvocation next;
  if (const auto* h = reply->FindHeader("Lambda-Runtime-Aws-Request-Id")) next.request_id = *h;
  if (!SafeId(next.request_id)) {
    return MakeError("runtime.api", "missing or malformed Lambda-Runtime-Aws-Request-Id",
                     "invocation/next");
  }
  if (const auto* h = reply->FindHeader("Lambda-Runtime-Deadline-Ms")) {
    try {
      next.deadline_ms = std::stoll(*h);
    } catch (const std::exception&) {
      next.deadline_ms = 0;
    }
  }
  if (const auto* h = reply->FindHeader("Lambda-Runtime-Invoked-Function-Arn")) next.function_arn = *h;
  if (const auto* h = reply->FindHeader("Lambda-Runtime-Trace-Id")) next.trace_id = *h;
  next.body = std::move(reply->body);
  return next;
}

Status HttpRuntimeApi::Post(const std::string& path, std::string body, const RuntimeError* error) {
  aws::HttpRequest request;
  request.method = "POST";
  request.path = std::string(kPrefix) + path;
  request.headers.push_back({"Host", host_});
  request.headers.push_back({"Content-Type", "application/json"});
  if (error) request.headers.push_back({"Lambda-Runtime-Function-Error-Type", error->type});
  request.body = std::move(body);
  auto reply = http_.Send(base_url_, request, aws::HttpCallOptions{});
  if (!reply.ok()) return MakeError("runtime.api", reply.error().message, path);
  if (reply->status >= 400 && reply->status < 500 && reply->status != 429) {
    return MakeError("runtime.rejected",
                     "HTTP " + std::to_string(reply->status) + ": " + reply->body.substr(0, 200), path);
  }
  if (reply->status >= 300) {
    return MakeError("runtime.api", "HTTP " + std::to_string(reply->status), path);
  }
  return {};
}

Status HttpRuntimeApi::PostResponse(const std::string& request_id, const std::string& body) {
  if (!SafeId(request_id)) return MakeError("runtime.api", "malformed request id");
  return Post("/invocation/" + request_id + "/response", body, nullptr);
}

Status HttpRuntimeApi::PostError(const std::string& request_id, const RuntimeError& error) {
  if (!SafeId(request_id)) return MakeError("runtime.api", "malformed request id");
  return Post("/invocation/" + request_id + "/error", ErrorBody(error), &error);
}

Status HttpRuntimeApi::PostInitError(const RuntimeError& error) {
  return Post("/init/error", ErrorBody(error), &error);
}

}  // namespace cairn::lambda
