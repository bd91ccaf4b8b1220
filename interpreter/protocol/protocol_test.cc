#include "protocol/protocol.h"

#include <gtest/gtest.h>

namespace cairn::protocol {
namespace {

using nlohmann::json;

TEST(ProtocolTest, TimestampsInEveryFormTheSourcesShow) {
  EXPECT_EQ(*TimestampFromJson(json(1764000000)), 1764000000000);      // epoch seconds
  EXPECT_EQ(*TimestampFromJson(json(1764000000.25)), 1764000000250);   // fractional seconds
  EXPECT_EQ(*TimestampFromJson(json(1764000000123)), 1764000000123);   // epoch ms
  EXPECT_EQ(*TimestampFromJson(json("2025-11-24T16:00:00Z")), 1764000000000);
  EXPECT_EQ(*TimestampFromJson(json("2025-11-24T16:00:00.5Z")), 1764000000500);
  EXPECT_EQ(*TimestampFromJson(json("2025-11-24T18:00:00+02:00")), 1764000000000);
  EXPECT_FALSE(TimestampFromJson(json("yesterday")).ok());
  EXPECT_FALSE(TimestampFromJson(json::object()).ok());
  EXPECT_EQ(FormatIso8601(1764000000123), "2025-11-24T16:00:00.123Z");
  EXPECT_EQ(TimestampToJson(1764000000000), json(1764000000));
}

TEST(ProtocolTest, InvocationEventParses) {
  auto j = json::parse(R"({
    "DurableExecutionArn": "arn:aws:lambda:us-east-1:123456789012:function:cairn:$LATEST/durable-execution/e1/inv1",
    "CheckpointToken": "tok",
    "InitialExecutionState": {"Operations": [
      {"Id": "e1", "Type": "EXECUTION", "Status": "STARTED", "StartTimestamp": 1764000000,
       "ExecutionDetails": {"InputPayload": "{\"message\":\"hi\"}"}},
      {"Id": "s1", "Name": "createRecord", "Type": "STEP", "SubType": "Step", "Status": "SUCCEEDED",
       "StepDetails": {"Attempt": 1, "Result": "{\"ok\":true}"}},
      {"Id": "c1", "Type": "CALLBACK", "Status": "STARTED", "CallbackDetails": {"CallbackId": "cb-1"}}
    ], "NextMarker": ""}})");
  auto inv = InvocationFromJson(j);
  ASSERT_TRUE(inv.ok()) << inv.error().message;
  ASSERT_EQ(inv->initial_state.operations.size(), 3u);
  EXPECT_EQ(inv->initial_state.operations[0].input_payload, "{\"message\":\"hi\"}");
  EXPECT_EQ(inv->initial_state.operations[1].result, "{\"ok\":true}");
  EXPECT_EQ(inv->initial_state.operations[1].attempt, 1);
  EXPECT_EQ(inv->initial_state.operations[2].callback_id, "cb-1");
}

TEST(ProtocolTest, UpdateRoundTripsWithOptions) {
  OperationUpdate u;
  u.id = "op-1";
  u.parent_id = "ctx";
  u.name = "runTask";
  u.type = OperationType::kStep;
  u.sub_type = "Step";
  u.action = OperationAction::kRetry;
  u.error = ErrorObject{"ECS.ThrottlingException", "slow down", std::nullopt, {}};
  u.next_attempt_delay_seconds = 4;
  json j = ToJson(u);
  EXPECT_EQ(j["Action"], "RETRY");
  EXPECT_EQ(j["StepOptions"]["NextAttemptDelaySeconds"], 4);
  EXPECT_EQ(j["Error"]["ErrorType"], "ECS.ThrottlingException");
  auto back = OperationUpdateFromJson(j);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, u);

  OperationUpdate cb;
  cb.id = "c";
  cb.type = OperationType::kCallback;
  cb.callback_timeout_seconds = 3600;
  cb.callback_heartbeat_timeout_seconds = 300;
  EXPECT_EQ(ToJson(cb)["CallbackOptions"], json({{"TimeoutSeconds", 3600}, {"HeartbeatTimeoutSeconds", 300}}));
  EXPECT_EQ(*OperationUpdateFromJson(ToJson(cb)), cb);
}

TEST(ProtocolTest, OperationRoundTripsPerType) {
  Operation w;
  w.id = "w";
  w.type = OperationType::kWait;
  w.status = OperationStatus::kStarted;
  w.start_timestamp = 1764000000000;
  w.scheduled_end_timestamp = 1764000030000;
  EXPECT_EQ(*OperationFromJson(ToJson(w)), w);
  Operation s;
  s.id = "s";
  s.type = OperationType::kStep;
  s.status = OperationStatus::kPending;
  s.attempt = 2;
  s.next_attempt_timestamp = 1764000004000;
  s.error = ErrorObject{"X", "y", "{}", {"at a"}};
  EXPECT_EQ(*OperationFromJson(ToJson(s)), s);
}

TEST(ProtocolTest, MalformedInputIsAnErrorNotACrash) {
  EXPECT_FALSE(InvocationFromJson(json::parse(R"({"CheckpointToken": "t"})")).ok());
  EXPECT_FALSE(OperationFromJson(json::parse(R"({"Id": "x", "Type": "BOGUS", "Status": "STARTED"})")).ok());
  EXPECT_FALSE(OperationFromJson(json::parse(R"({"Id": 5, "Type": "STEP", "Status": "STARTED"})")).ok());
  EXPECT_FALSE(CheckpointRequestFromJson(json::parse(R"({"CheckpointToken": "t", "Updates": {}})")).ok());
  EXPECT_FALSE(OperationUpdateFromJson(json::parse(
      R"({"Id": "x", "Type": "WAIT", "Action": "START", "WaitOptions": {"WaitSeconds": "5"}})")).ok());
  EXPECT_FALSE(ErrorObjectFromJson(json::array()).ok());
}

TEST(ProtocolTest, ExecutionArnParts) {
  auto p = ParseExecutionArn(
      "arn:aws:lambda:us-east-1:123456789012:function:orders:$LATEST/durable-execution/run-1/abc");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->function, "orders");
  EXPECT_EQ(p->name, "run-1");
  p = ParseExecutionArn("arn:aws:lambda:local:0:function:wf/durable-execution/n/1");  // no qualifier
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->function, "wf");
  EXPECT_EQ(p->name, "n");
  for (const char* bad : {"", "arn:aws:lambda:local:0:function:wf",
                          "arn:aws:lambda:local:0:function:wf/durable-execution/n",
                          "arn:aws:lambda:local:0:function:wf/durable-execution//1",
                          "arn:aws:lambda:local:0:function:/durable-execution/n/1",
                          "/durable-execution/n/1 :function:wf"}) {
    EXPECT_FALSE(ParseExecutionArn(bad).has_value()) << bad;
  }
}

TEST(ProtocolTest, OutputShapes) {
  InvocationOutput ok{InvocationStatus::kSucceeded, "{\"a\":1}", std::nullopt};
  EXPECT_EQ(ToJson(ok), json({{"Status", "SUCCEEDED"}, {"Result", "{\"a\":1}"}}));
  InvocationOutput pending;
  EXPECT_EQ(ToJson(pending), json({{"Status", "PENDING"}}));
  InvocationOutput failed{InvocationStatus::kFailed, std::nullopt, ErrorObject{"TaskFailed", "exit 1", std::nullopt, {}}};
  EXPECT_EQ(ToJson(failed)["Error"]["ErrorType"], "TaskFailed");
}

}  // namespace
}  // namespace cairn::protocol
