#include "backend/local/history.h"

#include <algorithm>
#include <array>
#include <string_view>
#include <utility>

namespace cairn::backend::local {

using nlohmann::json;
using protocol::ErrorObject;
using protocol::ExecutionStatus;
using protocol::Operation;
using protocol::Timestamp;

json PayloadObject(const std::optional<std::string>& payload) {
  json j = json::object();
  if (payload) j["Payload"] = *payload;
  return j;
}

json ErrorPayloadObject(const std::optional<ErrorObject>& error) {
  json j = json::object();
  if (error) j["Payload"] = protocol::ToJson(*error);
  return j;
}

void StripExecutionData(json& event) {
  for (auto& [key, details] : event.items()) {
    if (key.size() < 7 || key.compare(key.size() - 7, 7, "Details") != 0 || !details.is_object()) {
      continue;
    }
    for (const char* field : {"Input", "Result", "Error"}) {
      auto it = details.find(field);
      if (it != details.end() && it->is_object()) it->erase("Payload");
    }
  }
}

json HistoryEventToJson(const HistoryEvent& e, bool include_execution_data) {
  json j = {{"EventType", e.event_type},
            {"EventId", e.event_id},
            {"EventTimestamp", protocol::TimestampToJson(e.timestamp)}};
  if (e.sub_type) j["SubType"] = *e.sub_type;
  if (e.id) j["Id"] = *e.id;
  if (e.name) j["Name"] = *e.name;
  if (e.parent_id) j["ParentId"] = *e.parent_id;
  j[e.event_type + "Details"] = e.details;
  if (!include_execution_data) StripExecutionData(j);
  return j;
}

namespace {

// Appends `s` as a JSON string, escaped as nlohmann::json::dump() escapes
// it. Text with bytes over 0x7F goes through nlohmann (its UTF-8 checks).
void AppendJsonString(std::string& out, std::string_view s) {
  for (unsigned char c : s) {
    if (c >= 0x80) {
      out += json(std::string(s)).dump();
      return;
    }
  }
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 15]);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

}  // namespace

std::string HistoryEventText(const HistoryEvent& e) {
  // nlohmann::json objects keep their keys sorted: write them in that order.
  enum Field { kEventId, kEventTimestamp, kEventType, kSubType, kId, kName, kParentId, kDetails };
  const std::string details_key = e.event_type + "Details";
  struct Key {
    std::string_view name;
    Field field;
  };
  std::array<Key, 8> keys;
  size_t n = 0;
  keys[n++] = {"EventId", kEventId};
  keys[n++] = {"EventTimestamp", kEventTimestamp};
  keys[n++] = {"EventType", kEventType};
  if (e.sub_type) keys[n++] = {"SubType", kSubType};
  if (e.id) keys[n++] = {"Id", kId};
  if (e.name) keys[n++] = {"Name", kName};
  if (e.parent_id) keys[n++] = {"ParentId", kParentId};
  // A details key equal to another key replaces it, as in HistoryEventToJson.
  bool replaced = false;
  for (size_t i = 0; i < n; ++i) {
    if (keys[i].name == details_key) {
      keys[i].field = kDetails;
      replaced = true;
    }
  }
  if (!replaced) keys[n++] = {details_key, kDetails};
  std::sort(keys.begin(), keys.begin() + static_cast<std::ptrdiff_t>(n),
            [](const Key& a, const Key& b) { return a.name < b.name; });
  std::string out;
  out.reserve(256);
  out.push_back('{');
  for (size_t i = 0; i < n; ++i) {
    if (i) out.push_back(',');
    AppendJsonString(out, keys[i].name);
    out.push_back(':');
    switch (keys[i].field) {
      case kEventId:
        out += std::to_string(e.event_id);
        break;
      case kEventTimestamp:
        out += protocol::TimestampToJson(e.timestamp).dump();
        break;
      case kEventType:
        AppendJsonString(out, e.event_type);
        break;
      case kSubType:
        AppendJsonString(out, *e.sub_type);
        break;
      case kId:
        AppendJsonString(out, *e.id);
        break;
      case kName:
        AppendJsonString(out, *e.name);
        break;
      case kParentId:
        AppendJsonString(out, *e.parent_id);
        break;
      case kDetails:
        out += e.details.dump();
        break;
    }
  }
  out.push_back('}');
  return out;
}

Result<HistoryEvent> HistoryEventFromJson(const json& j) {
  if (!j.is_object() || !j.contains("EventType") || !j["EventType"].is_string() ||
      !j.contains("EventId") || !j["EventId"].is_number_integer()) {
    return MakeError("protocol", "malformed history event");
  }
  HistoryEvent e;
  e.event_type = j["EventType"].get<std::string>();
  e.event_id = j["EventId"].get<int64_t>();
  if (auto it = j.find("EventTimestamp"); it != j.end()) {
    auto t = protocol::TimestampFromJson(*it);
    if (!t.ok()) return t.error();
    e.timestamp = *t;
  }
  auto opt = [&](const char* key) -> std::optional<std::string> {
    auto it = j.find(key);
    if (it == j.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
  };
  e.sub_type = opt("SubType");
  e.id = opt("Id");
  e.name = opt("Name");
  e.parent_id = opt("ParentId");
  if (auto it = j.find(e.event_type + "Details"); it != j.end()) e.details = *it;
  return e;
}

HistoryEvent OperationEvent(std::string event_type, const Operation& op, Timestamp now,
                            json details) {
  HistoryEvent e;
  e.event_type = std::move(event_type);
  e.timestamp = now;
  e.id = op.id;
  e.name = op.name;
  e.parent_id = op.parent_id;
  e.sub_type = op.sub_type;
  e.details = std::move(details);
  return e;
}

HistoryEvent ExecutionStartedEvent(const ExecutionRecord& x) {
  HistoryEvent e;
  e.event_type = "ExecutionStarted";
  e.timestamp = x.start_timestamp;
  e.id = x.execution_id;
  e.name = x.name;
  e.details = {{"Input", PayloadObject(x.input)},
               {"ExecutionTimeout", x.execution_timeout_seconds}};
  return e;
}

HistoryEvent ExecutionEndedEvent(const ExecutionRecord& x, ExecutionStatus status,
                                 const std::optional<std::string>& result,
                                 const std::optional<ErrorObject>& error, Timestamp now) {
  HistoryEvent e;
  e.timestamp = now;
  e.id = x.execution_id;
  e.name = x.name;
  switch (status) {
    case ExecutionStatus::kSucceeded:
      e.event_type = "ExecutionSucceeded";
      e.details = {{"Result", PayloadObject(result)}};
      break;
    case ExecutionStatus::kFailed:
      e.event_type = "ExecutionFailed";
      e.details = {{"Error", ErrorPayloadObject(error)}};
      break;
    case ExecutionStatus::kTimedOut:
      e.event_type = "ExecutionTimedOut";
      e.details = {{"Error", ErrorPayloadObject(error)}};
      break;
    case ExecutionStatus::kStopped:
    case ExecutionStatus::kRunning:
      e.event_type = "ExecutionStopped";
      e.details = {{"Error", ErrorPayloadObject(error)}};
      break;
  }
  return e;
}

HistoryEvent InvocationCompletedEvent(Timestamp start, Timestamp end, const std::string& request_id,
                                      const std::optional<ErrorObject>& error) {
  HistoryEvent e;
  e.event_type = "InvocationCompleted";
  e.timestamp = end;
  e.details = {{"StartTimestamp", protocol::TimestampToJson(start)},
               {"EndTimestamp", protocol::TimestampToJson(end)},
               {"RequestId", request_id}};
  if (error) e.details["Error"] = ErrorPayloadObject(error);
  return e;
}

Operation ExecutionOperation(const ExecutionRecord& x) {
  Operation op;
  op.id = x.execution_id;
  op.type = protocol::OperationType::kExecution;
  op.start_timestamp = x.start_timestamp;
  op.end_timestamp = x.progress.end_timestamp;
  op.input_payload = x.input;
  switch (x.progress.status) {
    case ExecutionStatus::kRunning:
      op.status = protocol::OperationStatus::kStarted;
      break;
    case ExecutionStatus::kSucceeded:
      op.status = protocol::OperationStatus::kSucceeded;
      break;
    case ExecutionStatus::kFailed:
      op.status = protocol::OperationStatus::kFailed;
      break;
    case ExecutionStatus::kTimedOut:
      op.status = protocol::OperationStatus::kTimedOut;
      break;
    case ExecutionStatus::kStopped:
      op.status = protocol::OperationStatus::kStopped;
      break;
  }
  return op;
}

}  // namespace cairn::backend::local
