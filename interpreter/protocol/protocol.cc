#include "protocol/protocol.h"

#include <array>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <utility>

namespace cairn::protocol {
namespace {

using nlohmann::json;

template <typename E, size_t N>
using Names = std::array<std::pair<E, std::string_view>, N>;

constexpr Names<OperationType, 6> kTypes = {{{OperationType::kExecution, "EXECUTION"},
                                             {OperationType::kContext, "CONTEXT"},
                                             {OperationType::kStep, "STEP"},
                                             {OperationType::kWait, "WAIT"},
                                             {OperationType::kCallback, "CALLBACK"},
                                             {OperationType::kChainedInvoke, "CHAINED_INVOKE"}}};
constexpr Names<OperationAction, 5> kActions = {{{OperationAction::kStart, "START"},
                                                 {OperationAction::kSucceed, "SUCCEED"},
                                                 {OperationAction::kFail, "FAIL"},
                                                 {OperationAction::kRetry, "RETRY"},
                                                 {OperationAction::kCancel, "CANCEL"}}};
constexpr Names<OperationStatus, 8> kStatuses = {{{OperationStatus::kStarted, "STARTED"},
                                                  {OperationStatus::kPending, "PENDING"},
                                                  {OperationStatus::kReady, "READY"},
                                                  {OperationStatus::kSucceeded, "SUCCEEDED"},
                                                  {OperationStatus::kFailed, "FAILED"},
                                                  {OperationStatus::kCancelled, "CANCELLED"},
                                                  {OperationStatus::kTimedOut, "TIMED_OUT"},
                                                  {OperationStatus::kStopped, "STOPPED"}}};
constexpr Names<InvocationStatus, 3> kInvocationStatuses = {
    {{InvocationStatus::kSucceeded, "SUCCEEDED"},
     {InvocationStatus::kFailed, "FAILED"},
     {InvocationStatus::kPending, "PENDING"}}};
constexpr Names<ExecutionStatus, 5> kExecutionStatuses = {
    {{ExecutionStatus::kRunning, "RUNNING"},
     {ExecutionStatus::kSucceeded, "SUCCEEDED"},
     {ExecutionStatus::kFailed, "FAILED"},
     {ExecutionStatus::kTimedOut, "TIMED_OUT"},
     {ExecutionStatus::kStopped, "STOPPED"}}};

template <typename E, size_t N>
std::string_view NameOf(const Names<E, N>& names, E v) {
  for (const auto& [e, n] : names) {
    if (e == v) return n;
  }
  return "";
}

template <typename E, size_t N>
Result<E> Parse(const Names<E, N>& names, std::string_view s, const char* what) {
  for (const auto& [e, n] : names) {
    if (n == s) return e;
  }
  return MakeError("protocol", "unknown " + std::string(what) + " '" + std::string(s) + "'");
}

Error Malformed(const std::string& what) { return MakeError("protocol", "malformed " + what); }

// Readers that tolerate absent fields and reject wrong types.
struct Reader {
  const json& j;
  std::string what;
  std::optional<cairn::Error> error;

  const json* Get(const char* key) {
    if (!j.is_object()) {
      if (!error) error = Malformed(what + ": expected an object");
      return nullptr;
    }
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return nullptr;
    return &*it;
  }
  std::optional<std::string> String(const char* key) {
    const json* v = Get(key);
    if (!v) return std::nullopt;
    if (!v->is_string()) {
      if (!error) error = Malformed(what + ": " + key + " must be a string");
      return std::nullopt;
    }
    return v->get<std::string>();
  }
  std::string RequiredString(const char* key) {
    auto s = String(key);
    if (!s && !error) error = Malformed(what + ": " + key + " is required");
    return s.value_or("");
  }
  std::optional<int64_t> Integer(const char* key) {
    const json* v = Get(key);
    if (!v) return std::nullopt;
    if (!v->is_number_integer()) {
      if (!error) error = Malformed(what + ": " + key + " must be an integer");
      return std::nullopt;
    }
    return v->get<int64_t>();
  }
  std::optional<bool> Bool(const char* key) {
    const json* v = Get(key);
    if (!v) return std::nullopt;
    if (!v->is_boolean()) {
      if (!error) error = Malformed(what + ": " + key + " must be a boolean");
      return std::nullopt;
    }
    return v->get<bool>();
  }
  std::optional<Timestamp> Time(const char* key) {
    const json* v = Get(key);
    if (!v) return std::nullopt;
    auto t = TimestampFromJson(*v);
    if (!t.ok()) {
      if (!error) error = Malformed(what + ": " + key + ": " + t.error().message);
      return std::nullopt;
    }
    return *t;
  }
  std::optional<ErrorObject> ErrorField(const char* key) {
    const json* v = Get(key);
    if (!v) return std::nullopt;
    auto e = ErrorObjectFromJson(*v);
    if (!e.ok()) {
      if (!error) error = e.error();
      return std::nullopt;
    }
    return *e;
  }
  template <typename E>
  E Enum(const char* key, Result<E> (*parse)(std::string_view), E fallback) {
    auto s = String(key);
    if (!s) {
      if (!error) error = Malformed(what + ": " + key + " is required");
      return fallback;
    }
    auto r = parse(*s);
    if (!r.ok()) {
      if (!error) error = r.error();
      return fallback;
    }
    return *r;
  }
};

template <typename T>
void Put(json& j, const char* key, const std::optional<T>& v) {
  if (v) j[key] = *v;
}

// Days from civil date (Howard Hinnant's algorithm), for ISO-8601 parsing
// without depending on the process's time zone.
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

Result<Timestamp> ParseIso8601(const std::string& s) {
  int y, mo, d, h, mi;
  double sec;
  int consumed = 0;
  if (std::sscanf(s.c_str(), "%d-%d-%dT%d:%d:%lf%n", &y, &mo, &d, &h, &mi, &sec, &consumed) != 6) {
    return MakeError("protocol", "timestamp '" + s + "' is not ISO-8601");
  }
  std::string zone = s.substr(consumed);
  int64_t offset_minutes = 0;
  if (!zone.empty() && zone != "Z" && zone != "z") {
    int zh = 0, zm = 0;
    char sign = zone[0];
    if ((sign != '+' && sign != '-') || std::sscanf(zone.c_str() + 1, "%d:%d", &zh, &zm) < 1) {
      return MakeError("protocol", "timestamp '" + s + "' has an unknown zone");
    }
    offset_minutes = (sign == '-' ? -1 : 1) * (zh * 60 + zm);
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec < 0 || sec >= 61) {
    return MakeError("protocol", "timestamp '" + s + "' is out of range");
  }
  int64_t days = DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  int64_t ms = ((days * 24 + h) * 60 + mi - offset_minutes) * 60'000 +
               static_cast<int64_t>(std::llround(sec * 1000));
  return ms;
}

}  // namespace

std::string_view ToString(OperationType v) { return NameOf(kTypes, v); }
std::string_view ToString(OperationAction v) { return NameOf(kActions, v); }
std::string_view ToString(OperationStatus v) { return NameOf(kStatuses, v); }
std::string_view ToString(InvocationStatus v) { return NameOf(kInvocationStatuses, v); }
std::string_view ToString(ExecutionStatus v) { return NameOf(kExecutionStatuses, v); }
Result<OperationType> ParseOperationType(std::string_view s) { return Parse(kTypes, s, "operation type"); }
Result<OperationAction> ParseOperationAction(std::string_view s) { return Parse(kActions, s, "action"); }
Result<OperationStatus> ParseOperationStatus(std::string_view s) { return Parse(kStatuses, s, "status"); }
Result<ExecutionStatus> ParseExecutionStatus(std::string_view s) {
  return Parse(kExecutionStatuses, s, "execution status");
}
static Result<InvocationStatus> ParseInvocationStatus(std::string_view s) {
  return Parse(kInvocationStatuses, s, "invocation status");
}

bool IsTerminal(OperationStatus s) {
  return s != OperationStatus::kStarted && s != OperationStatus::kPending &&
         s != OperationStatus::kReady;
}

Result<Timestamp> TimestampFromJson(const nlohmann::json& j) {
  if (j.is_number_integer()) {
    int64_t v = j.get<int64_t>();
    return v >= 100'000'000'000 ? v : v * 1000;  // epoch ms vs epoch seconds
  }
  if (j.is_number()) {
    double v = j.get<double>();
    if (!std::isfinite(v)) return MakeError("protocol", "timestamp is not finite");
    return v >= 1e11 ? static_cast<Timestamp>(std::llround(v)) : static_cast<Timestamp>(std::llround(v * 1000));
  }
  if (j.is_string()) return ParseIso8601(j.get<std::string>());
  return MakeError("protocol", "timestamp must be a number or ISO-8601 text");
}

nlohmann::json TimestampToJson(Timestamp t) {
  if (t % 1000 == 0) return t / 1000;
  return static_cast<double>(t) / 1000.0;
}

std::string FormatIso8601(Timestamp t) {
  std::time_t secs = static_cast<std::time_t>(t >= 0 ? t / 1000 : (t - 999) / 1000);
  int ms = static_cast<int>(t - static_cast<Timestamp>(secs) * 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  return buf;
}

json ToJson(const ErrorObject& v) {
  json j = json::object();
  if (!v.type.empty()) j["ErrorType"] = v.type;
  if (!v.message.empty()) j["ErrorMessage"] = v.message;
  Put(j, "ErrorData", v.data);
  if (!v.stack_trace.empty()) j["StackTrace"] = v.stack_trace;
  return j;
}

Result<ErrorObject> ErrorObjectFromJson(const json& j) {
  Reader r{j, "error object"};
  ErrorObject e;
  e.type = r.String("ErrorType").value_or("");
  e.message = r.String("ErrorMessage").value_or("");
  e.data = r.String("ErrorData");
  if (const json* st = r.Get("StackTrace")) {
    if (!st->is_array()) return Malformed("error object: StackTrace must be a list");
    for (const auto& line : *st) {
      if (!line.is_string()) return Malformed("error object: StackTrace must hold strings");
      e.stack_trace.push_back(line.get<std::string>());
    }
  }
  if (r.error) return *r.error;
  return e;
}

json ToJson(const Operation& v) {
  json j = {{"Id", v.id}, {"Type", ToString(v.type)}, {"Status", ToString(v.status)}};
  Put(j, "ParentId", v.parent_id);
  Put(j, "Name", v.name);
  Put(j, "SubType", v.sub_type);
  if (v.start_timestamp) j["StartTimestamp"] = TimestampToJson(*v.start_timestamp);
  if (v.end_timestamp) j["EndTimestamp"] = TimestampToJson(*v.end_timestamp);
  json details = json::object();
  Put(details, "Result", v.result);
  if (v.error) details["Error"] = ToJson(*v.error);
  switch (v.type) {
    case OperationType::kExecution:
      details = json::object();
      Put(details, "InputPayload", v.input_payload);
      j["ExecutionDetails"] = details;
      break;
    case OperationType::kContext:
      Put(details, "ReplayChildren", v.replay_children);
      j["ContextDetails"] = details;
      break;
    case OperationType::kStep:
      details["Attempt"] = v.attempt.value_or(0);
      if (v.next_attempt_timestamp) details["NextAttemptTimestamp"] = TimestampToJson(*v.next_attempt_timestamp);
      j["StepDetails"] = details;
      break;
    case OperationType::kWait:
      details = json::object();
      if (v.scheduled_end_timestamp) details["ScheduledEndTimestamp"] = TimestampToJson(*v.scheduled_end_timestamp);
      j["WaitDetails"] = details;
      break;
    case OperationType::kCallback:
      Put(details, "CallbackId", v.callback_id);
      j["CallbackDetails"] = details;
      break;
    case OperationType::kChainedInvoke:
      j["ChainedInvokeDetails"] = details;
      break;
  }
  return j;
}

Result<Operation> OperationFromJson(const json& j) {
  Reader r{j, "operation"};
  Operation op;
  op.id = r.RequiredString("Id");
  op.parent_id = r.String("ParentId");
  op.name = r.String("Name");
  op.type = r.Enum<OperationType>("Type", ParseOperationType, OperationType::kStep);
  op.sub_type = r.String("SubType");
  op.start_timestamp = r.Time("StartTimestamp");
  op.end_timestamp = r.Time("EndTimestamp");
  op.status = r.Enum<OperationStatus>("Status", ParseOperationStatus, OperationStatus::kStarted);
  if (r.error) return *r.error;
  static constexpr const char* kDetails[] = {"ExecutionDetails", "ContextDetails", "StepDetails",
                                             "WaitDetails", "CallbackDetails", "ChainedInvokeDetails"};
  for (const char* key : kDetails) {
    const json* d = r.Get(key);
    if (!d) continue;
    Reader dr{*d, std::string("operation ") + op.id + " " + key};
    if (auto s = dr.String("InputPayload")) op.input_payload = s;
    if (auto s = dr.String("Result")) op.result = s;
    if (auto e = dr.ErrorField("Error")) op.error = e;
    if (auto b = dr.Bool("ReplayChildren")) op.replay_children = b;
    if (auto a = dr.Integer("Attempt")) op.attempt = static_cast<int>(*a);
    if (auto t = dr.Time("NextAttemptTimestamp")) op.next_attempt_timestamp = t;
    if (auto t = dr.Time("ScheduledEndTimestamp")) op.scheduled_end_timestamp = t;
    if (auto s = dr.String("CallbackId")) op.callback_id = s;
    if (dr.error) return *dr.error;
  }
  return op;
}

json ToJson(const OperationUpdate& v) {
  json j = {{"Id", v.id}, {"Type", ToString(v.type)}, {"Action", ToString(v.action)}};
  Put(j, "ParentId", v.parent_id);
  Put(j, "Name", v.name);
  Put(j, "SubType", v.sub_type);
  Put(j, "Payload", v.payload);
  if (v.error) j["Error"] = ToJson(*v.error);
  if (v.next_attempt_delay_seconds) j["StepOptions"] = {{"NextAttemptDelaySeconds", *v.next_attempt_delay_seconds}};
  if (v.wait_seconds) j["WaitOptions"] = {{"WaitSeconds", *v.wait_seconds}};
  if (v.callback_timeout_seconds || v.callback_heartbeat_timeout_seconds) {
    json o = json::object();
    Put(o, "TimeoutSeconds", v.callback_timeout_seconds);
    Put(o, "HeartbeatTimeoutSeconds", v.callback_heartbeat_timeout_seconds);
    j["CallbackOptions"] = o;
  }
  if (v.replay_children) j["ContextOptions"] = {{"ReplayChildren", *v.replay_children}};
  if (v.function_name || v.tenant_id) {
    json o = json::object();
    Put(o, "FunctionName", v.function_name);
    Put(o, "TenantId", v.tenant_id);
    j["ChainedInvokeOptions"] = o;
  }
  return j;
}

Result<OperationUpdate> OperationUpdateFromJson(const json& j) {
  Reader r{j, "operation update"};
  OperationUpdate u;
  u.id = r.RequiredString("Id");
  u.parent_id = r.String("ParentId");
  u.name = r.String("Name");
  u.type = r.Enum<OperationType>("Type", ParseOperationType, OperationType::kStep);
  u.sub_type = r.String("SubType");
  u.action = r.Enum<OperationAction>("Action", ParseOperationAction, OperationAction::kStart);
  u.payload = r.String("Payload");
  u.error = r.ErrorField("Error");
  auto options = [&](const char* key) -> std::optional<Reader> {
    const json* o = r.Get(key);
    if (!o) return std::nullopt;
    return Reader{*o, std::string("operation update ") + key};
  };
  if (auto o = options("StepOptions")) {
    u.next_attempt_delay_seconds = o->Integer("NextAttemptDelaySeconds");
    if (o->error) return *o->error;
  }
  if (auto o = options("WaitOptions")) {
    u.wait_seconds = o->Integer("WaitSeconds");
    if (o->error) return *o->error;
  }
  if (auto o = options("CallbackOptions")) {
    u.callback_timeout_seconds = o->Integer("TimeoutSeconds");
    u.callback_heartbeat_timeout_seconds = o->Integer("HeartbeatTimeoutSeconds");
    if (o->error) return *o->error;
  }
  if (auto o = options("ContextOptions")) {
    u.replay_children = o->Bool("ReplayChildren");
    if (o->error) return *o->error;
  }
  if (auto o = options("ChainedInvokeOptions")) {
    u.function_name = o->String("FunctionName");
    u.tenant_id = o->String("TenantId");
    if (o->error) return *o->error;
  }
  if (r.error) return *r.error;
  return u;
}

json ToJson(const ExecutionState& v) {
  json ops = json::array();
  for (const auto& op : v.operations) ops.push_back(ToJson(op));
  json j = {{"Operations", std::move(ops)}};
  if (!v.next_marker.empty()) j["NextMarker"] = v.next_marker;
  return j;
}

Result<ExecutionState> ExecutionStateFromJson(const json& j) {
  Reader r{j, "execution state"};
  ExecutionState s;
  if (const json* ops = r.Get("Operations")) {
    if (!ops->is_array()) return Malformed("execution state: Operations must be a list");
    s.operations.reserve(ops->size());
    for (const auto& o : *ops) {
      auto op = OperationFromJson(o);
      if (!op.ok()) return op.error();
      s.operations.push_back(std::move(*op));
    }
  }
  s.next_marker = r.String("NextMarker").value_or("");
  if (r.error) return *r.error;
  return s;
}

json ToJson(const Invocation& v) {
  return {{"DurableExecutionArn", v.durable_execution_arn},
          {"CheckpointToken", v.checkpoint_token},
          {"InitialExecutionState", ToJson(v.initial_state)}};
}

Result<Invocation> InvocationFromJson(const json& j) {
  Reader r{j, "invocation event"};
  Invocation inv;
  inv.durable_execution_arn = r.RequiredString("DurableExecutionArn");
  inv.checkpoint_token = r.RequiredString("CheckpointToken");
  if (r.error) return *r.error;
  if (const json* s = r.Get("InitialExecutionState")) {
    auto state = ExecutionStateFromJson(*s);
    if (!state.ok()) return state.error();
    inv.initial_state = std::move(*state);
  }
  return inv;
}

json ToJson(const InvocationOutput& v) {
  json j = {{"Status", ToString(v.status)}};
  if (v.status == InvocationStatus::kSucceeded) j["Result"] = v.result.value_or("");
  if (v.status == InvocationStatus::kFailed) j["Error"] = ToJson(v.error.value_or(ErrorObject{}));
  return j;
}

Result<InvocationOutput> InvocationOutputFromJson(const json& j) {
  Reader r{j, "invocation output"};
  InvocationOutput out;
  out.status = r.Enum<InvocationStatus>("Status", ParseInvocationStatus, InvocationStatus::kPending);
  out.result = r.String("Result");
  out.error = r.ErrorField("Error");
  if (r.error) return *r.error;
  return out;
}

json ToJson(const CheckpointRequest& v) {
  json updates = json::array();
  for (const auto& u : v.updates) updates.push_back(ToJson(u));
  json j = {{"CheckpointToken", v.checkpoint_token}, {"Updates", std::move(updates)}};
  Put(j, "ClientToken", v.client_token);
  return j;
}

Result<CheckpointRequest> CheckpointRequestFromJson(const json& j) {
  Reader r{j, "checkpoint request"};
  CheckpointRequest req;
  req.checkpoint_token = r.RequiredString("CheckpointToken");
  req.client_token = r.String("ClientToken");
  if (r.error) return *r.error;
  if (const json* us = r.Get("Updates")) {
    if (!us->is_array()) return Malformed("checkpoint request: Updates must be a list");
    for (const auto& u : *us) {
      auto up = OperationUpdateFromJson(u);
      if (!up.ok()) return up.error();
      req.updates.push_back(std::move(*up));
    }
  }
  return req;
}

json ToJson(const CheckpointResponse& v) {
  json j = {{"NewExecutionState", ToJson(v.new_state)}};
  Put(j, "CheckpointToken", v.checkpoint_token);
  return j;
}

Result<CheckpointResponse> CheckpointResponseFromJson(const json& j) {
  Reader r{j, "checkpoint response"};
  CheckpointResponse resp;
  resp.checkpoint_token = r.String("CheckpointToken");
  if (r.error) return *r.error;
  if (const json* s = r.Get("NewExecutionState")) {
    auto state = ExecutionStateFromJson(*s);
    if (!state.ok()) return state.error();
    resp.new_state = std::move(*state);
  }
  return resp;
}

std::optional<ExecutionArnParts> ParseExecutionArn(std::string_view arn) {
  constexpr std::string_view kFunction = ":function:";
  constexpr std::string_view kExecution = "/durable-execution/";
  const size_t f = arn.find(kFunction);
  const size_t x = arn.find(kExecution);
  if (f == std::string_view::npos || x == std::string_view::npos || x < f) return std::nullopt;
  std::string_view function = arn.substr(f + kFunction.size(), x - f - kFunction.size());
  function = function.substr(0, function.find(':'));
  std::string_view rest = arn.substr(x + kExecution.size());
  const size_t slash = rest.find('/');
  if (function.empty() || slash == 0 || slash == std::string_view::npos) return std::nullopt;
  return ExecutionArnParts{function, rest.substr(0, slash)};
}

}  // namespace cairn::protocol
