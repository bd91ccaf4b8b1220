#include "backend/local/history.h"

#include <array>
#include <charconv>
#include <cstdint>
#include <cstring>
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
  if (payload) j.get_ref<json::object_t&>().emplace("Payload", *payload);
  return j;
}

json ErrorPayloadObject(const std::optional<ErrorObject>& error) {
  json j = json::object();
  if (error) j.get_ref<json::object_t&>().emplace("Payload", protocol::ToJson(*error));
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
  j[e.event_type + "Details"] = e.DetailsJson();
  if (!include_execution_data) StripExecutionData(j);
  return j;
}

json HistoryEvent::DetailsJson() const {
  if (details_text.empty()) return details;
  return json::parse(details_text);
}

bool operator==(const HistoryEvent& a, const HistoryEvent& b) {
  if (a.event_id != b.event_id || a.event_type != b.event_type || a.timestamp != b.timestamp ||
      a.id != b.id || a.name != b.name || a.parent_id != b.parent_id || a.sub_type != b.sub_type) {
    return false;
  }
  if (a.details_text.empty() && b.details_text.empty()) return a.details == b.details;
  if (!a.details_text.empty() && !b.details_text.empty()) return a.details_text == b.details_text;
  return a.DetailsJson() == b.DetailsJson();
}

namespace {

// JSON text written directly, byte for byte as nlohmann::json::dump() (no
// indent, ensure_ascii off) writes it: the store keeps every event as text,
// and building it through dump() cost a serializer (with a locale lookup)
// per event and a character-at-a-time copy of every string.

// Appends `s` as a JSON string. Runs of characters that need no escape are
// appended at once. Text with bytes over 0x7F goes through nlohmann (its
// UTF-8 checks and error).
// What a byte of a string needs: 0 nothing, 1 an escape, 2 nlohmann (UTF-8).
constexpr std::array<unsigned char, 256> kStringByte = [] {
  std::array<unsigned char, 256> t{};
  for (int c = 0; c < 0x20; ++c) t[static_cast<size_t>(c)] = 1;
  t['"'] = 1;
  t['\\'] = 1;
  for (int c = 0x80; c < 0x100; ++c) t[static_cast<size_t>(c)] = 2;
  return t;
}();

void AppendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  const size_t start = out.size();
  out.push_back('"');
  size_t run = 0;  // start of the characters not yet appended
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    const unsigned char kind = kStringByte[c];
    if (kind == 0) continue;
    if (kind == 2) {
      out.resize(start);
      out += json(std::string(s)).dump();
      return;
    }
    out.append(s.data() + run, i - run);
    run = i + 1;
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
      default: {
        const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
        out.append(esc, sizeof esc);
      }
    }
  }
  out.append(s.data() + run, s.size() - run);
  out.push_back('"');
}

void AppendInteger(std::string& out, int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<size_t>(end - buf));
}

void AppendUnsigned(std::string& out, uint64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<size_t>(end - buf));
}

// A timestamp as TimestampToJson(t).dump(). Milliseconds make a double,
// whose text nlohmann writes; the last one is remembered per thread, as the
// events of one commit share their timestamp.
void AppendTimestamp(std::string& out, Timestamp t) {
  if (t % 1000 == 0) {
    AppendInteger(out, t / 1000);
    return;
  }
  thread_local Timestamp last = 0;  // 0 is never cached (a multiple of 1000)
  thread_local std::string last_text;
  if (t != last) {
    last_text = protocol::TimestampToJson(t).dump();
    last = t;
  }
  out += last_text;
}

// Appends `v` as v.dump() would. Objects are written in their (sorted) key
// order, as dump() does; floating-point numbers and binary values go
// through nlohmann.
void AppendJson(std::string& out, const json& v) {
  switch (v.type()) {
    case json::value_t::object: {
      out.push_back('{');
      bool first = true;
      for (const auto& [key, value] : v.get_ref<const json::object_t&>()) {
        if (!first) out.push_back(',');
        first = false;
        AppendJsonString(out, key);
        out.push_back(':');
        AppendJson(out, value);
      }
      out.push_back('}');
      return;
    }
    case json::value_t::array: {
      out.push_back('[');
      bool first = true;
      for (const auto& value : v.get_ref<const json::array_t&>()) {
        if (!first) out.push_back(',');
        first = false;
        AppendJson(out, value);
      }
      out.push_back(']');
      return;
    }
    case json::value_t::string:
      AppendJsonString(out, v.get_ref<const std::string&>());
      return;
    case json::value_t::number_integer:
      AppendInteger(out, v.get<int64_t>());
      return;
    case json::value_t::number_unsigned:
      AppendUnsigned(out, v.get<uint64_t>());
      return;
    case json::value_t::boolean:
      out += v.get<bool>() ? "true" : "false";
      return;
    case json::value_t::null:
      out += "null";
      return;
    default:  // number_float, binary, discarded
      out += v.dump();
      return;
  }
}

}  // namespace

std::string HistoryEventText(const HistoryEvent& e) {
  // nlohmann::json objects keep their keys sorted: write them in that order.
  enum Field { kEventId, kEventTimestamp, kEventType, kSubType, kId, kName, kParentId, kDetails };
  // event_type + "Details", in a buffer on the stack when it fits.
  char buffer[64];
  std::string long_key;
  std::string_view details_key;
  if (e.event_type.size() + 7 <= sizeof buffer) {
    std::memcpy(buffer, e.event_type.data(), e.event_type.size());
    std::memcpy(buffer + e.event_type.size(), "Details", 7);
    details_key = std::string_view(buffer, e.event_type.size() + 7);
  } else {
    long_key = e.event_type + "Details";
    details_key = long_key;
  }
  struct Key {
    std::string_view name;
    Field field;
    // The name written as `"name":` (the fixed names need no escapes).
    std::string_view quoted;
  };
  // The fixed keys, in sorted order; the details key is inserted at its place.
  std::array<Key, 8> keys;
  size_t n = 0;
  keys[n++] = {"EventId", kEventId, "\"EventId\":"};
  keys[n++] = {"EventTimestamp", kEventTimestamp, "\"EventTimestamp\":"};
  keys[n++] = {"EventType", kEventType, "\"EventType\":"};
  if (e.id) keys[n++] = {"Id", kId, "\"Id\":"};
  if (e.name) keys[n++] = {"Name", kName, "\"Name\":"};
  if (e.parent_id) keys[n++] = {"ParentId", kParentId, "\"ParentId\":"};
  if (e.sub_type) keys[n++] = {"SubType", kSubType, "\"SubType\":"};
  size_t at = 0;
  while (at < n && keys[at].name < details_key) ++at;
  if (at < n && keys[at].name == details_key) {
    // A details key equal to another key replaces it, as in HistoryEventToJson.
    keys[at].field = kDetails;
  } else {
    for (size_t i = n; i > at; --i) keys[i] = keys[i - 1];
    keys[at] = {details_key, kDetails, {}};
    ++n;
  }
  std::string out;
  out.reserve(256);
  out.push_back('{');
  for (size_t i = 0; i < n; ++i) {
    if (i) out.push_back(',');
    if (!keys[i].quoted.empty() && keys[i].field != kDetails) {
      out += keys[i].quoted;
    } else {
      AppendJsonString(out, keys[i].name);
      out.push_back(':');
    }
    switch (keys[i].field) {
      case kEventId:
        AppendInteger(out, e.event_id);
        break;
      case kEventTimestamp:
        AppendTimestamp(out, e.timestamp);
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
        if (e.details_text.empty()) {
          AppendJson(out, e.details);
        } else {
          out += e.details_text;
        }
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

namespace {

// An event about `op` with empty details.
HistoryEvent AboutOperation(std::string event_type, const Operation& op, Timestamp now) {
  HistoryEvent e;
  e.event_type = std::move(event_type);
  e.timestamp = now;
  e.id = op.id;
  e.name = op.name;
  e.parent_id = op.parent_id;
  e.sub_type = op.sub_type;
  return e;
}

}  // namespace

HistoryEvent OperationEvent(std::string event_type, const Operation& op, Timestamp now,
                            json details) {
  HistoryEvent e = AboutOperation(std::move(event_type), op, now);
  e.details = std::move(details);
  return e;
}

HistoryEvent OperationEvent(std::string event_type, const Operation& op, Timestamp now,
                            std::string details_text) {
  HistoryEvent e = AboutOperation(std::move(event_type), op, now);
  e.details_text = std::move(details_text);
  return e;
}

std::string ResultDetailsText(const std::optional<std::string>& payload,
                              std::optional<int> current_attempt) {
  std::string out;
  out.reserve(48 + (payload ? payload->size() + payload->size() / 8 : 0));
  out += "{\"Result\":{";
  if (payload) {
    out += "\"Payload\":";
    AppendJsonString(out, *payload);
  }
  out.push_back('}');
  if (current_attempt) {
    out += ",\"RetryDetails\":{\"CurrentAttempt\":";
    AppendInteger(out, *current_attempt);
    out.push_back('}');
  }
  out.push_back('}');
  return out;
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
      e.details_text = ResultDetailsText(result, std::nullopt);
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
