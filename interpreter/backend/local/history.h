// History events in the exact shape of GetDurableExecutionHistory (service
// model 2025-12-01, `Event`): EventType, SubType, EventId (from 1,
// ExecutionStarted first), Id, Name, ParentId, EventTimestamp and one
// `<EventType>Details` object. README.md lists every event type's details.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "backend/local/store.h"
#include "core/result.h"
#include "protocol/protocol.h"

namespace cairn::backend::local {

struct HistoryEvent {
  int64_t event_id = 0;
  std::string event_type;  // "StepStarted", "InvocationCompleted", …
  protocol::Timestamp timestamp = 0;
  std::optional<std::string> id;
  std::optional<std::string> name;
  std::optional<std::string> parent_id;
  std::optional<std::string> sub_type;
  // The `<EventType>Details` object: a JSON tree in `details`, or, when
  // `details_text` is not empty, that text (what details.dump() would give:
  // keys in nlohmann's sorted order) and `details` is not used. The events
  // every step records (Step/Context Started and Succeeded) are built as
  // text: making, writing and freeing a JSON tree for each was a tenth of a
  // checkpoint's CPU. DetailsJson() reads either.
  nlohmann::json details = nlohmann::json::object();
  std::string details_text;

  nlohmann::json DetailsJson() const;
  // Equal fields and equal details, however each side holds them.
  friend bool operator==(const HistoryEvent& a, const HistoryEvent& b);
};

// The event as the service returns it. Without execution data, the
// `Payload` of every Input, Result and Error object is left out (the
// objects stay, as the model requires them).
nlohmann::json HistoryEventToJson(const HistoryEvent& event, bool include_execution_data);
Result<HistoryEvent> HistoryEventFromJson(const nlohmann::json& j);
// HistoryEventToJson(event, true).dump(), byte for byte, written directly
// (no JSON tree for the event's own fields): what the store keeps.
std::string HistoryEventText(const HistoryEvent& event);
// Removes execution data from an event in JSON form (see HistoryEventToJson).
void StripExecutionData(nlohmann::json& event);

// An event about operation `op` (its Id, Name, ParentId and SubType).
HistoryEvent OperationEvent(std::string event_type, const protocol::Operation& op,
                            protocol::Timestamp now, nlohmann::json details);
// The same with its details as text (see HistoryEvent::details_text).
HistoryEvent OperationEvent(std::string event_type, const protocol::Operation& op,
                            protocol::Timestamp now, std::string details_text);
// {"Payload": payload} (EventInput / EventResult), or {} without a payload.
nlohmann::json PayloadObject(const std::optional<std::string>& payload);
// As text: {"Result":PayloadObject(payload)}, with
// "RetryDetails":{"CurrentAttempt":n} after it when `current_attempt` is set.
std::string ResultDetailsText(const std::optional<std::string>& payload,
                              std::optional<int> current_attempt);
// {"Payload": {ErrorType, …}} (EventError), or {} without an error.
nlohmann::json ErrorPayloadObject(const std::optional<protocol::ErrorObject>& error);

// The execution's own events: Id is the execution id, Name the execution
// name.
HistoryEvent ExecutionStartedEvent(const ExecutionRecord& execution);
// ExecutionSucceeded / Failed / TimedOut / Stopped for `status`.
HistoryEvent ExecutionEndedEvent(const ExecutionRecord& execution, protocol::ExecutionStatus status,
                                 const std::optional<std::string>& result,
                                 const std::optional<protocol::ErrorObject>& error,
                                 protocol::Timestamp now);
// InvocationCompleted {StartTimestamp, EndTimestamp, RequestId, Error?}.
HistoryEvent InvocationCompletedEvent(protocol::Timestamp start, protocol::Timestamp end,
                                      const std::string& request_id,
                                      const std::optional<protocol::ErrorObject>& error);

// The EXECUTION operation of an execution, as invocations and GetState see
// it (Id = execution id, ExecutionDetails.InputPayload = input).
protocol::Operation ExecutionOperation(const ExecutionRecord& execution);

}  // namespace cairn::backend::local
