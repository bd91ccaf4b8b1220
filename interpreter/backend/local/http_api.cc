#include "backend/local/http_api.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <chrono>
#include <cmath>
#include <thread>
#include <utility>
#include <vector>

#include "backend/local/random_ids.h"

namespace cairn::backend::local {
namespace {

using nlohmann::json;
using protocol::ErrorObject;

constexpr std::string_view kApi = "/2025-12-01";

struct ApiError {
  int status;
  std::string type;  // X-Amzn-ErrorType
  std::string message;
  bool service_fault = false;
};

ApiError FromError(const Error& e) {
  const std::string& c = e.code;
  if (c == kNotFoundError) return {404, "ResourceNotFoundException", e.message};
  if (c == kCallbackTimeoutError) return {400, "CallbackTimeoutException", e.message};
  if (c == kAlreadyStartedError) return {409, "DurableExecutionAlreadyStartedException", e.message};
  if (c == kPayloadTooLargeError) return {413, "RequestTooLargeException", e.message};
  if (c == kInvalidRequestError || c == kStaleTokenError) {
    return {400, "InvalidParameterValueException", e.message};
  }
  return {500, "ServiceException", e.ToString(), true};
}

void Reply(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

void ReplyError(httplib::Response& res, const ApiError& e) {
  res.status = e.status;
  res.set_header("X-Amzn-ErrorType", e.type);
  json body = {{"Type", e.service_fault ? "Service" : "User"}, {"message", e.message}};
  res.set_content(body.dump(), "application/json");
}

int FromHex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decodes a path segment ('+' stays '+').
std::optional<std::string> Decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    int hi = FromHex(s[i + 1]), lo = FromHex(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::optional<bool> BoolParam(const httplib::Request& req, const char* key) {
  if (!req.has_param(key)) return std::nullopt;
  std::string v = req.get_param_value(key);
  if (v == "true") return true;
  if (v == "false") return false;
  return std::nullopt;
}

Result<size_t> MaxItems(const httplib::Request& req, size_t fallback) {
  if (!req.has_param("MaxItems")) return fallback;
  std::string v = req.get_param_value("MaxItems");
  if (v.empty() || v.size() > 6 || v.find_first_not_of("0123456789") != std::string::npos) {
    return InvalidRequestError("MaxItems must be an integer from 1 to 1000");
  }
  size_t n = std::stoul(v);
  if (n == 0) return fallback;  // the service model's minimum is 0: "use the default"
  if (n > 1000) return InvalidRequestError("MaxItems must be an integer from 1 to 1000");
  return n;
}

// The longest `wait` accepted (seconds).
constexpr double kMaxWaitSeconds = 300;

// cairn's `wait` query parameter: seconds (a decimal number, 0..300) to
// wait for the execution to end. Absent = 0.
Result<std::chrono::milliseconds> WaitParam(const httplib::Request& req) {
  if (!req.has_param("wait")) return std::chrono::milliseconds(0);
  const std::string v = req.get_param_value("wait");
  double seconds = -1;
  const char* end = v.data() + v.size();
  auto [ptr, ec] = std::from_chars(v.data(), end, seconds);
  if (v.empty() || v.size() > 12 || ec != std::errc() || ptr != end || !std::isfinite(seconds) ||
      seconds < 0 || seconds > kMaxWaitSeconds) {
    return InvalidRequestError("wait must be a number of seconds from 0 to 300");
  }
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}

Result<std::optional<ErrorObject>> ErrorBody(const std::string& body) {
  if (body.empty()) return std::optional<ErrorObject>();
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return MakeError("http.body", "the request body is not a JSON object");
  }
  auto e = protocol::ErrorObjectFromJson(j);
  if (!e.ok()) return MakeError("http.body", e.error().message);
  return std::optional<ErrorObject>(std::move(*e));
}

json ExecutionSummary(const ExecutionRecord& r, const LocalDurableService& service) {
  json j = {{"DurableExecutionArn", r.arn},
            {"DurableExecutionName", r.name},
            {"FunctionArn", service.FunctionArn(r.function_name) + ":$LATEST"},
            {"Status", protocol::ToString(r.progress.status)},
            {"StartTimestamp", protocol::TimestampToJson(r.start_timestamp)}};
  if (r.progress.end_timestamp)
    j["EndTimestamp"] = protocol::TimestampToJson(*r.progress.end_timestamp);
  return j;
}

}  // namespace

struct HttpApi::Impl {
  LocalDurableService& service;
  HttpApiOptions options;
  httplib::Server server;
  std::thread thread;
  int port = 0;

  Impl(LocalDurableService& s, HttpApiOptions o) : service(s), options(std::move(o)) {}

  void Handle(const httplib::Request& req, httplib::Response& res) {
    res.set_header("x-amzn-RequestId", NewUuid());
    std::string_view target = req.target;
    std::string_view path = target.substr(0, target.find('?'));
    const bool get = req.method == "GET";
    const bool post = req.method == "POST";

    if (StartsWith(path, std::string(kApi) + "/durable-execution-callbacks/") && post) {
      std::string_view rest = path.substr(kApi.size() + 29);
      size_t slash = rest.rfind('/');
      if (slash == std::string_view::npos) return NoRoute(req, res);
      auto id = Decode(rest.substr(0, slash));
      std::string_view action = rest.substr(slash + 1);
      if (!id)
        return ReplyError(res, {400, "InvalidParameterValueException", "malformed CallbackId"});
      Status st;
      if (action == "succeed") {
        st = service.SendCallbackSuccess(*id, req.body);
      } else if (action == "fail") {
        auto error = ErrorBody(req.body);
        if (!error.ok())
          return ReplyError(res, {400, "InvalidRequestContentException", error.error().message});
        st = service.SendCallbackFailure(*id, error->value_or(ErrorObject{}));
      } else if (action == "heartbeat") {
        st = service.SendCallbackHeartbeat(*id);
      } else {
        return NoRoute(req, res);
      }
      if (!st.ok()) return ReplyError(res, FromError(st.error()));
      return Reply(res, 200, json::object());
    }

    if (StartsWith(path, std::string(kApi) + "/durable-executions/")) {
      std::string_view rest = path.substr(kApi.size() + 20);
      std::string_view op;
      for (std::string_view suffix : {"/history", "/state", "/stop", "/checkpoint"}) {
        if (EndsWith(rest, suffix)) {
          op = suffix.substr(1);
          rest = rest.substr(0, rest.size() - suffix.size());
          break;
        }
      }
      auto arn = Decode(rest);
      if (!arn || arn->empty()) {
        return ReplyError(res,
                          {400, "InvalidParameterValueException", "malformed DurableExecutionArn"});
      }
      if (op.empty() && get) return GetExecution(*arn, req, res);
      if (op == "history" && get) return GetHistory(*arn, req, res);
      if (op == "stop" && post) return Stop(*arn, req, res);
      if (op == "checkpoint" && post) return Checkpoint(*arn, req, res);
      if (op == "state" && get) return GetState(*arn, req, res);
      return NoRoute(req, res);
    }

    if (StartsWith(path, std::string(kApi) + "/functions/") &&
        EndsWith(path, "/durable-executions") && get) {
      std::string_view name = path.substr(kApi.size() + 11);
      name = name.substr(0, name.size() - 19);
      auto decoded = Decode(name);
      if (!decoded)
        return ReplyError(res, {400, "InvalidParameterValueException", "malformed FunctionName"});
      return List(*decoded, req, res);
    }

    if (StartsWith(path, "/cairn/v1/workflows/") && EndsWith(path, "/executions") && post) {
      std::string_view name = path.substr(20);
      name = name.substr(0, name.size() - 11);
      auto decoded = Decode(name);
      if (!decoded)
        return ReplyError(res, {400, "InvalidParameterValueException", "malformed workflow name"});
      return Start(*decoded, req, res);
    }
    NoRoute(req, res);
  }

  static void NoRoute(const httplib::Request& req, httplib::Response& res) {
    std::string path = req.target.substr(0, req.target.find('?'));
    ReplyError(res, {404, "UnknownOperationException",
                     "no operation for " + req.method + " " + path.substr(0, 200)});
  }

  // GetDurableExecution; with cairn's `wait=SECONDS`, once the execution
  // has ended or the wait has passed.
  void GetExecution(const std::string& arn, const httplib::Request& req, httplib::Response& res) {
    auto wait = WaitParam(req);
    if (!wait.ok()) return ReplyError(res, FromError(wait.error()));
    auto r = wait->count() > 0 ? service.WaitForExecution(arn, *wait) : service.GetExecution(arn);
    if (!r.ok()) return ReplyError(res, FromError(r.error()));
    json j = ExecutionSummary(*r, service);
    j["InputPayload"] = r->input;
    j["Version"] = "$LATEST";
    if (r->progress.result) j["Result"] = *r->progress.result;
    if (r->progress.error) j["Error"] = protocol::ToJson(*r->progress.error);
    Reply(res, 200, j);
  }

  void GetHistory(const std::string& arn, const httplib::Request& req, httplib::Response& res) {
    HistoryRequest h;
    h.arn = arn;
    h.marker = req.get_param_value("Marker");
    h.reverse = BoolParam(req, "ReverseOrder").value_or(false);
    auto max = MaxItems(req, 1000);
    if (!max.ok()) return ReplyError(res, FromError(max.error()));
    h.max_items = *max;
    const bool include = BoolParam(req, "IncludeExecutionData").value_or(false);
    auto page = service.GetHistory(h);
    if (!page.ok()) return ReplyError(res, FromError(page.error()));
    json events = json::array();
    for (const auto& e : page->events) events.push_back(HistoryEventToJson(e, include));
    json j = {{"Events", std::move(events)}};
    if (!page->next_marker.empty()) j["NextMarker"] = page->next_marker;
    Reply(res, 200, j);
  }

  void Stop(const std::string& arn, const httplib::Request& req, httplib::Response& res) {
    auto error = ErrorBody(req.body);
    if (!error.ok())
      return ReplyError(res, {400, "InvalidRequestContentException", error.error().message});
    auto t = service.StopExecution(arn, *error);
    if (!t.ok()) return ReplyError(res, FromError(t.error()));
    Reply(res, 200, {{"StopTimestamp", protocol::TimestampToJson(*t)}});
  }

  void Checkpoint(const std::string& arn, const httplib::Request& req, httplib::Response& res) {
    json j = json::parse(req.body, nullptr, false);
    if (j.is_discarded()) {
      return ReplyError(res,
                        {400, "InvalidRequestContentException", "the request body is not JSON"});
    }
    auto request = protocol::CheckpointRequestFromJson(j);
    if (!request.ok())
      return ReplyError(res, {400, "InvalidParameterValueException", request.error().message});
    auto r = service.Checkpoint(arn, *request);
    if (!r.ok()) return ReplyError(res, FromError(r.error()));
    Reply(res, 200, protocol::ToJson(*r));
  }

  void GetState(const std::string& arn, const httplib::Request& req, httplib::Response& res) {
    auto r = service.GetState(arn, req.get_param_value("CheckpointToken"),
                              req.get_param_value("Marker"));
    if (!r.ok()) return ReplyError(res, FromError(r.error()));
    Reply(res, 200, protocol::ToJson(*r));
  }

  void List(const std::string& function, const httplib::Request& req, httplib::Response& res) {
    ListExecutionsRequest l;
    l.function_name = function;
    l.marker = req.get_param_value("Marker");
    l.reverse = BoolParam(req, "ReverseOrder").value_or(false);
    if (req.has_param("DurableExecutionName")) l.name = req.get_param_value("DurableExecutionName");
    auto max = MaxItems(req, 100);
    if (!max.ok()) return ReplyError(res, FromError(max.error()));
    l.max_items = *max;
    for (size_t i = 0; i < req.get_param_value_count("Statuses"); ++i) {
      auto s = protocol::ParseExecutionStatus(req.get_param_value("Statuses", i));
      if (!s.ok())
        return ReplyError(res, {400, "InvalidParameterValueException", s.error().message});
      l.statuses.push_back(*s);
    }
    for (auto [key, field] : {std::pair{"StartedAfter", &l.started_after},
                              std::pair{"StartedBefore", &l.started_before}}) {
      if (!req.has_param(key)) continue;
      std::string v = req.get_param_value(key);
      auto t = protocol::TimestampFromJson(
          json::parse(v, nullptr, false).is_number() ? json::parse(v) : json(v));
      if (!t.ok())
        return ReplyError(res, {400, "InvalidParameterValueException",
                                std::string(key) + ": " + t.error().message});
      *field = *t;
    }
    auto page = service.ListExecutions(l);
    if (!page.ok()) return ReplyError(res, FromError(page.error()));
    json list = json::array();
    for (const auto& r : page->executions) list.push_back(ExecutionSummary(r, service));
    json j = {{"DurableExecutions", std::move(list)}};
    if (!page->next_marker.empty()) j["NextMarker"] = page->next_marker;
    Reply(res, 200, j);
  }

  // cairn's start; with `wait=SECONDS`, replies once the execution has
  // ended (or the wait has passed), with its Status and Result or Error.
  void Start(const std::string& workflow, const httplib::Request& req, httplib::Response& res) {
    auto wait = WaitParam(req);
    if (!wait.ok()) return ReplyError(res, FromError(wait.error()));
    json body = req.body.empty() ? json::object() : json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
      return ReplyError(
          res, {400, "InvalidRequestContentException", "the request body is not a JSON object"});
    }
    StartExecutionRequest s;
    s.function_name = workflow;
    if (auto it = body.find("DurableExecutionName"); it != body.end()) {
      if (!it->is_string())
        return ReplyError(
            res, {400, "InvalidParameterValueException", "DurableExecutionName must be a string"});
      s.name = it->get<std::string>();
    }
    if (auto it = body.find("Input"); it != body.end()) s.input = it->dump();
    if (auto it = body.find("ExecutionTimeout"); it != body.end()) {
      if (!it->is_number_integer())
        return ReplyError(
            res, {400, "InvalidParameterValueException", "ExecutionTimeout must be an integer"});
      s.execution_timeout_seconds = it->get<int64_t>();
    }
    // Waiting for the end: this thread runs the first invocation itself,
    // and the start is recorded with its first checkpoint.
    s.caller_invokes = wait->count() > 0;
    s.durable_with_first_checkpoint = s.caller_invokes;
    auto started = service.StartExecution(s);
    if (!started.ok()) return ReplyError(res, FromError(started.error()));
    std::optional<ExecutionRecord> ended;
    if (s.caller_invokes && !started->already_existed) {
      if (Status st = service.InvokeNow(started->arn, &ended); !st.ok()) {
        spdlog::error("cairn local service: invoking {}: {}", started->arn, st.error().ToString());
        // A start that could not be recorded: no execution exists.
        auto e = service.GetExecution(started->arn);
        if (!e.ok() && e.error().code == kNotFoundError) return ReplyError(res, FromError(st.error()));
      }
    }
    json reply = {{"DurableExecutionArn", started->arn},
                  {"DurableExecutionName", started->name},
                  {"AlreadyStarted", started->already_existed}};
    if (wait->count() > 0) {
      // Ended by the invocation above: its final record is at hand.
      auto r = ended ? Result<ExecutionRecord>(std::move(*ended))
                     : service.WaitForExecution(started->arn, *wait);
      if (!r.ok()) return ReplyError(res, FromError(r.error()));
      reply["Status"] = protocol::ToString(r->progress.status);
      if (r->progress.end_timestamp)
        reply["EndTimestamp"] = protocol::TimestampToJson(*r->progress.end_timestamp);
      if (r->progress.result) reply["Result"] = *r->progress.result;
      if (r->progress.error) reply["Error"] = protocol::ToJson(*r->progress.error);
    }
    Reply(res, started->already_existed ? 200 : 201, reply);
  }
};

HttpApi::HttpApi(LocalDurableService& service, HttpApiOptions options)
    : impl_(std::make_unique<Impl>(service, std::move(options))) {}

HttpApi::~HttpApi() { Stop(); }

int HttpApi::port() const { return impl_->port; }

Result<int> HttpApi::Start() {
  Impl& d = *impl_;
  if (d.thread.joinable()) return d.port;
  const int threads = std::max(1, d.options.threads);
  d.server.new_task_queue = [threads] {
    return new httplib::ThreadPool(static_cast<size_t>(threads));
  };
  d.server.set_payload_max_length(d.options.max_body_bytes);
  d.server.set_keep_alive_max_count(d.options.keep_alive_max_requests);
  // Responses go out in two writes (head, body): without TCP_NODELAY the body
  // waits for the client's delayed ACK, ~40 ms per request.
  d.server.set_tcp_nodelay(true);
  auto handler = [&d](const httplib::Request& req, httplib::Response& res) { d.Handle(req, res); };
  d.server.Get(".*", handler);
  d.server.Post(".*", handler);
  d.server.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (res.status == 413) {
      ReplyError(res, {413, "RequestTooLargeException", "the request body is too large"});
    } else if (res.status == 404 || res.status == 405) {
      Impl::NoRoute(req, res);
    } else {
      ReplyError(res,
                 {res.status, "InvalidRequestContentException", "the request could not be read"});
    }
  });
  d.server.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
        ReplyError(res, {500, "ServiceException", "internal error", true});
      });
  int port = d.options.port == 0
                 ? d.server.bind_to_any_port(d.options.host)
                 : (d.server.bind_to_port(d.options.host, d.options.port) ? d.options.port : -1);
  if (port <= 0) {
    return MakeError("http",
                     "cannot listen on " + d.options.host + ":" + std::to_string(d.options.port));
  }
  d.port = port;
  d.thread = std::thread([&d] { d.server.listen_after_bind(); });
  return port;
}

void HttpApi::Stop() {
  Impl& d = *impl_;
  if (!d.thread.joinable()) return;
  d.server.stop();
  d.thread.join();
}

}  // namespace cairn::backend::local
