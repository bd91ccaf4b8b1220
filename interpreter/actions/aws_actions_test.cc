// The AWS actions against a recording AwsCaller / scripted HttpClient: the
// exact request each builds and how replies and errors map to outcomes.
#include "actions/aws_actions.h"

#include <gtest/gtest.h>

#include <memory>

#include "actions/aws_caller_fake.h"
#include "actions/dynamodb_action.h"
#include "actions/ecs_action.h"

namespace cairn::actions {
namespace {

using nlohmann::json;

class AwsActionsTest : public ::testing::Test {
 protected:
  AwsActionsTest() : caller_(std::make_shared<RecordingAwsCaller>()) {
    RegisterAwsActions(registry_, caller_);
  }

  ActionOutcome Run(const std::string& type, const char* params_json,
                    std::optional<Duration> timeout = std::nullopt) {
    ActionRequest request;
    request.timeout = timeout;
    request.type = type;
    request.params = json::parse(params_json);
    request.operation_id = "runTask-0123456789abcdef";
    request.execution_arn =
        "arn:aws:lambda:us-east-1:123456789012:function:wf:$LATEST/durable-execution/e1/i1";
    return registry_.Run(request);
  }

  const aws::AwsCall& LastCall() const { return caller_->calls.back(); }

  std::shared_ptr<RecordingAwsCaller> caller_;
  ActionRegistry registry_;
};

// ---- DynamoDB ----

TEST_F(AwsActionsTest, PutItemSendsMarshalledItemAndCondition) {
  auto out = Run("dynamodb.putItem", R"j({"table": "T", "item": {"executionId": "e1", "n": 5},
      "condition": "attribute_not_exists(executionId)"})j");
  ASSERT_TRUE(out.ok) << out.error.message;
  ASSERT_EQ(caller_->calls.size(), 1u);
  EXPECT_EQ(LastCall().service, "dynamodb");
  EXPECT_EQ(LastCall().protocol, aws::AwsProtocol::kJson10);
  EXPECT_EQ(LastCall().target, "DynamoDB_20120810.PutItem");
  EXPECT_EQ(LastCall().body, json::parse(R"j({"TableName": "T",
      "Item": {"executionId": {"S": "e1"}, "n": {"N": "5"}},
      "ConditionExpression": "attribute_not_exists(executionId)"})j"));
  EXPECT_EQ(out.result, json::parse(R"j({"attributes": null})j"));
}

TEST_F(AwsActionsTest, TheStepTimeoutBoundsEveryAwsCall) {
  ASSERT_TRUE(Run("dynamodb.getItem", R"j({"table": "T", "key": {"id": "a"}})j").ok);
  EXPECT_FALSE(LastCall().timeout.has_value());
  ASSERT_TRUE(Run("dynamodb.getItem", R"j({"table": "T", "key": {"id": "a"}})j",
                  Duration{90'000})
                  .ok);
  EXPECT_EQ(LastCall().timeout, std::chrono::milliseconds(90'000));
  Run("ecs.describeTasks", R"j({"cluster": "c", "tasks": ["arn:t"]})j", Duration{5'000});
  EXPECT_EQ(LastCall().timeout, std::chrono::milliseconds(5'000));
  Run("lambda.invoke", R"j({"function": "f", "payload": {}})j", Duration{7'000});
  EXPECT_EQ(LastCall().timeout, std::chrono::milliseconds(7'000));
}

TEST_F(AwsActionsTest, ConditionalCheckFailureIsTheServiceErrorName) {
  caller_->replies.push_back(RecordingAwsCaller::Err("DynamoDB.ConditionalCheckFailedException",
                                                     "The conditional request failed"));
  auto out = Run("dynamodb.putItem", R"j({"table": "T", "item": {"id": "a"},
      "condition": "attribute_not_exists(id)"})j");
  ASSERT_FALSE(out.ok);
  EXPECT_EQ(out.error.name, "DynamoDB.ConditionalCheckFailedException");
  EXPECT_EQ(out.error.message, "The conditional request failed");
  EXPECT_EQ(out.error.data, json::parse(R"j({"httpStatus": 400})j"));
}

TEST_F(AwsActionsTest, UpdateItemSetFormBuildsTheExpression) {
  caller_->replies.push_back(RecordingAwsCaller::Ok(json::parse(
      R"j({"Attributes": {"status": {"S": "COMPLETED"}, "count": {"N": "9007199254740993"}}})j")));
  auto out = Run("dynamodb.updateItem", R"j({"table": "T", "key": {"executionId": "e1"},
      "set": {"status": "COMPLETED", "result": {"ok": true}},
      "condition": "#st = :running", "names": {"#st": "status"}, "values": {":running": "RUNNING"},
      "returnValues": "ALL_NEW"})j");
  ASSERT_TRUE(out.ok) << out.error.message;
  EXPECT_EQ(LastCall().target, "DynamoDB_20120810.UpdateItem");
  EXPECT_EQ(LastCall().body, json::parse(R"j({"TableName": "T",
      "Key": {"executionId": {"S": "e1"}},
      "UpdateExpression": "SET #set0 = :set0, #set1 = :set1",
      "ConditionExpression": "#st = :running",
      "ExpressionAttributeNames": {"#st": "status", "#set0": "result", "#set1": "status"},
      "ExpressionAttributeValues": {":running": {"S": "RUNNING"},
          ":set0": {"M": {"ok": {"BOOL": true}}}, ":set1": {"S": "COMPLETED"}},
      "ReturnValues": "ALL_NEW"})j"));
  EXPECT_EQ(out.result["attributes"]["status"], "COMPLETED");
  EXPECT_EQ(out.result["attributes"]["count"].dump(), "9007199254740993");
}

TEST_F(AwsActionsTest, UpdateItemRawForm) {
  auto out = Run("dynamodb.updateItem", R"j({"table": "T", "key": {"id": "a"},
      "update": "SET attempts = attempts + :one", "values": {":one": 1}})j");
  ASSERT_TRUE(out.ok) << out.error.message;
  EXPECT_EQ(LastCall().body, json::parse(R"j({"TableName": "T", "Key": {"id": {"S": "a"}},
      "UpdateExpression": "SET attempts = attempts + :one",
      "ExpressionAttributeValues": {":one": {"N": "1"}}})j"));
  auto mixed = Run("dynamodb.updateItem", R"j({"table": "T", "key": {"id": "a"},
      "update": "SET a = :one", "set": {"b": 1}})j");
  ASSERT_FALSE(mixed.ok);
  EXPECT_EQ(mixed.error.name, "Cairn.InvalidParameters");
  EXPECT_EQ(caller_->calls.size(), 1u);
}

TEST_F(AwsActionsTest, GetItemAndDeleteItem) {
  caller_->replies.push_back(RecordingAwsCaller::Ok(json::object()));
  auto missing =
      Run("dynamodb.getItem", R"j({"table": "T", "key": {"id": "a"}, "consistentRead": true,
      "projection": "#s", "names": {"#s": "status"}})j");
  ASSERT_TRUE(missing.ok);
  EXPECT_EQ(missing.result, json::parse(R"j({"item": null})j"));
  EXPECT_EQ(LastCall().body, json::parse(R"j({"TableName": "T", "Key": {"id": {"S": "a"}},
      "ConsistentRead": true, "ProjectionExpression": "#s",
      "ExpressionAttributeNames": {"#s": "status"}})j"));

  caller_->replies.push_back(
      RecordingAwsCaller::Ok(json::parse(R"j({"Item": {"id": {"S": "a"}}})j")));
  auto found = Run("dynamodb.getItem", R"j({"table": "T", "key": {"id": "a"}})j");
  EXPECT_EQ(found.result, json::parse(R"j({"item": {"id": "a"}})j"));

  caller_->replies.push_back(
      RecordingAwsCaller::Ok(json::parse(R"j({"Attributes": {"id": {"S": "a"}}})j")));
  auto deleted = Run("dynamodb.deleteItem",
                     R"j({"table": "T", "key": {"id": "a"}, "returnValues": "ALL_OLD"})j");
  EXPECT_EQ(LastCall().target, "DynamoDB_20120810.DeleteItem");
  EXPECT_EQ(LastCall().body, json::parse(R"j({"TableName": "T", "Key": {"id": {"S": "a"}},
      "ReturnValues": "ALL_OLD"})j"));
  EXPECT_EQ(deleted.result, json::parse(R"j({"attributes": {"id": "a"}})j"));
}

TEST_F(AwsActionsTest, QueryPagesWithStartKey) {
  caller_->replies.push_back(RecordingAwsCaller::Ok(json::parse(R"j({"Items": [
      {"pk": {"S": "p"}, "sk": {"N": "1"}}, {"pk": {"S": "p"}, "sk": {"N": "2"}}],
      "Count": 2, "ScannedCount": 3, "LastEvaluatedKey": {"pk": {"S": "p"}, "sk": {"N": "2"}}})j")));
  auto out = Run("dynamodb.query", R"j({"table": "T", "keyCondition": "pk = :pk",
      "values": {":pk": "p"}, "limit": 2, "scanForward": false, "index": "byX",
      "filter": "attribute_exists(sk)", "startKey": {"pk": "p", "sk": 0}})j");
  ASSERT_TRUE(out.ok) << out.error.message;
  EXPECT_EQ(LastCall().body, json::parse(R"j({"TableName": "T", "IndexName": "byX",
      "KeyConditionExpression": "pk = :pk", "FilterExpression": "attribute_exists(sk)",
      "ExpressionAttributeValues": {":pk": {"S": "p"}}, "Limit": 2, "ScanIndexForward": false,
      "ExclusiveStartKey": {"pk": {"S": "p"}, "sk": {"N": "0"}}})j"));
  EXPECT_EQ(out.result, json::parse(R"j({"items": [{"pk": "p", "sk": 1}, {"pk": "p", "sk": 2}],
      "count": 2, "scannedCount": 3, "lastEvaluatedKey": {"pk": "p", "sk": 2}})j"));
}

TEST_F(AwsActionsTest, DynamoDbParameterProblemsSendNothing) {
  for (const char* params : {
           R"j({"table": "T"})j",                                               // no item
           R"j({"table": "T", "item": {}})j",                                   // empty item
           R"j({"table": "T", "item": {"a": 1}, "tabel": "x"})j",               // unknown key
           R"j({"table": 5, "item": {"a": 1}})j",                               // wrong type
           R"j({"table": "T", "item": {"a": 1}, "returnValues": "ALL_NEW"})j",  // not for put
           R"j({"table": "T", "item": {"a": 1}, "names": {"n": "x"}})j",        // no '#'
       }) {
    auto out = Run("dynamodb.putItem", params);
    ASSERT_FALSE(out.ok) << params;
    EXPECT_EQ(out.error.name, "Cairn.InvalidParameters") << params;
  }
  auto typo = Run("dynamodb.putItem", R"j({"table": "T", "item": {"a": 1}, "conditon": "x"})j");
  EXPECT_NE(typo.error.message.find("did you mean `condition`"), std::string::npos);
  EXPECT_TRUE(caller_->calls.empty());
}

TEST_F(AwsActionsTest, UnreadableReplyIsInvalidReply) {
  caller_->replies.push_back(
      RecordingAwsCaller::Ok(json::parse(R"j({"Item": {"id": {"Q": "a"}}})j")));
  auto out = Run("dynamodb.getItem", R"j({"table": "T", "key": {"id": "a"}})j");
  ASSERT_FALSE(out.ok);
  EXPECT_EQ(out.error.name, "Cairn.InvalidReply");
}

TEST_F(AwsActionsTest, TransportFailuresPassThrough) {
  aws::AwsReply r;
  r.error_name = "Cairn.Transient";
  r.error_message = "connection refused";
  caller_->replies.push_back(r);
  auto out = Run("dynamodb.getItem", R"j({"table": "T", "key": {"id": "a"}})j");
  EXPECT_EQ(out.error.name, "Cairn.Transient");
  EXPECT_TRUE(out.error.data.is_null());
}

// ---- ECS ----

TEST_F(AwsActionsTest, RunTaskBuildsOverridesNetworkAndDerivedToken) {
  caller_->replies.push_back(RecordingAwsCaller::Ok(json::parse(
      R"j({"taskDefinition": {"containerDefinitions": [{"name": "worker"}, {"name": "sidecar"}]}})j")));
  caller_->replies.push_back(RecordingAwsCaller::Ok(json::parse(
      R"j({"tasks": [{"taskArn": "arn:t1", "lastStatus": "PROVISIONING"}], "failures": []})j")));
  auto out = Run("ecs.runTask", R"j({"cluster": "c", "taskDefinition": "worker:3",
      "launchType": "FARGATE",
      "network": {"subnets": ["s1", "s2"], "securityGroups": ["g1"], "assignPublicIp": false},
      "environment": {"CALLBACK_ID": "cb-1", "N": 5, "OBJ": {"a": 1}},
      "command": ["run", "--x"], "startedBy": "cairn", "tags": {"team": "a"}})j");
  ASSERT_TRUE(out.ok) << out.error.message;
  ASSERT_EQ(caller_->calls.size(), 2u);
  EXPECT_EQ(caller_->calls[0].target, "AmazonEC2ContainerServiceV20141113.DescribeTaskDefinition");
  EXPECT_EQ(caller_->calls[0].body, json::parse(R"j({"taskDefinition": "worker:3"})j"));
  const aws::AwsCall& run = caller_->calls[1];
  EXPECT_EQ(run.service, "ecs");
  EXPECT_EQ(run.protocol, aws::AwsProtocol::kJson11);
  EXPECT_EQ(run.target, "AmazonEC2ContainerServiceV20141113.RunTask");
  json expected = json::parse(R"j({"cluster": "c", "taskDefinition": "worker:3",
      "launchType": "FARGATE", "startedBy": "cairn",
      "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["s1", "s2"],
          "securityGroups": ["g1"], "assignPublicIp": "DISABLED"}},
      "overrides": {"containerOverrides": [{"name": "worker",
          "environment": [{"name": "CALLBACK_ID", "value": "cb-1"}, {"name": "N", "value": "5"},
                          {"name": "OBJ", "value": "{\"a\":1}"}],
          "command": ["run", "--x"]}]},
      "tags": [{"key": "team", "value": "a"}]})j");
  expected["clientToken"] = EcsAction::DerivedClientToken(
      "arn:aws:lambda:us-east-1:123456789012:function:wf:$LATEST/durable-execution/e1/i1",
      "runTask-0123456789abcdef");
  EXPECT_EQ(run.body, expected);
  EXPECT_EQ(out.result["tasks"][0]["taskArn"], "arn:t1");

  // A pinned revision's container name is cached: the second run makes one call.
  Run("ecs.runTask", R"j({"taskDefinition": "worker:3", "environment": {"A": "b"}})j");
  EXPECT_EQ(caller_->calls.size(), 3u);
  EXPECT_EQ(caller_->calls[2].target, "AmazonEC2ContainerServiceV20141113.RunTask");
}

TEST_F(AwsActionsTest, ClientTokenIsStablePerStepAndExecution) {
  const std::string a = EcsAction::DerivedClientToken("arn:e1", "op");
  EXPECT_EQ(a, EcsAction::DerivedClientToken("arn:e1", "op"));
  EXPECT_NE(a, EcsAction::DerivedClientToken("arn:e2", "op"));
  EXPECT_NE(a, EcsAction::DerivedClientToken("arn:e1", "op2"));
  EXPECT_EQ(a.size(), 64u);
  // The same token on every attempt; a given token wins.
  Run("ecs.runTask", R"j({"taskDefinition": "t", "container": "c", "environment": {"A": "1"}})j");
  const json first = LastCall().body["clientToken"];
  Run("ecs.runTask", R"j({"taskDefinition": "t", "container": "c", "environment": {"A": "1"}})j");
  EXPECT_EQ(LastCall().body["clientToken"], first);
  EXPECT_EQ(LastCall().body["overrides"]["containerOverrides"][0]["name"], "c");
  Run("ecs.runTask", R"j({"taskDefinition": "t", "clientToken": "mine"})j");
  EXPECT_EQ(LastCall().body["clientToken"], "mine");
  auto too_long = Run(
      "ecs.runTask",
      (R"j({"taskDefinition": "t", "clientToken": ")j" + std::string(65, 'x') + R"j("})j").c_str());
  EXPECT_EQ(too_long.error.name, "Cairn.InvalidParameters");
}

TEST_F(AwsActionsTest, RunTaskFailuresAreTaskFailed) {
  caller_->replies.push_back(RecordingAwsCaller::Ok(json::parse(
      R"j({"tasks": [], "failures": [{"arn": "arn:c", "reason": "RESOURCE:MEMORY", "detail": "no room"}]})j")));
  auto out = Run("ecs.runTask", R"j({"taskDefinition": "t"})j");
  ASSERT_FALSE(out.ok);
  EXPECT_EQ(out.error.name, "Cairn.TaskFailed");
  EXPECT_EQ(out.error.message, "RunTask reported 1 failure: RESOURCE:MEMORY (no room) for arn:c");
  EXPECT_EQ(out.error.data["failures"][0]["reason"], "RESOURCE:MEMORY");

  caller_->replies.push_back(
      RecordingAwsCaller::Ok(json::parse(R"j({"tasks": [], "failures": []})j")));
  EXPECT_EQ(Run("ecs.runTask", R"j({"taskDefinition": "t"})j").error.message,
            "RunTask started no task");

  caller_->replies.push_back(RecordingAwsCaller::Ok(json::parse(R"j({"tasks": [{"taskArn": "arn:t",
      "lastStatus": "STOPPED", "stoppedReason": "Essential container exited",
      "containers": [{"name": "w", "exitCode": 3}]}], "failures": []})j")));
  auto stopped = Run("ecs.runTask", R"j({"taskDefinition": "t"})j");
  EXPECT_EQ(stopped.error.name, "Cairn.TaskFailed");
  EXPECT_EQ(stopped.error.message,
            "task arn:t stopped: container w exited with code 3 (Essential container exited)");
}

TEST_F(AwsActionsTest, RunTaskServiceErrorsAndParameters) {
  caller_->replies.push_back(
      RecordingAwsCaller::Err("ECS.ClusterNotFoundException", "Cluster not found."));
  auto out = Run("ecs.runTask", R"j({"taskDefinition": "t", "cluster": "nope"})j");
  EXPECT_EQ(out.error.name, "ECS.ClusterNotFoundException");
  const size_t calls = caller_->calls.size();
  EXPECT_EQ(Run("ecs.runTask", R"j({"taskDefinition": "t", "launchType": "FARGATE"})j").error.name,
            "Cairn.InvalidParameters");
  EXPECT_EQ(Run("ecs.runTask", R"j({"taskDefinition": "t", "count": 11})j").error.name,
            "Cairn.InvalidParameters");
  EXPECT_EQ(
      Run("ecs.runTask", R"j({"taskDefinition": "t", "network": {"subnets": []}})j").error.name,
      "Cairn.InvalidParameters");
  EXPECT_EQ(
      Run("ecs.runTask", R"j({"taskDefinition": "t", "environment": {"A": null}})j").error.name,
      "Cairn.InvalidParameters");
  EXPECT_EQ(caller_->calls.size(), calls);
}

TEST_F(AwsActionsTest, DescribeAndStopTask) {
  caller_->replies.push_back(RecordingAwsCaller::Ok(json::parse(
      R"j({"tasks": [{"taskArn": "arn:t", "lastStatus": "STOPPED", "containers": [{"exitCode": 1}]}], "failures": []})j")));
  auto described = Run("ecs.describeTasks", R"j({"cluster": "c", "tasks": ["arn:t"]})j");
  ASSERT_TRUE(described.ok) << "describeTasks reports, it does not judge";
  EXPECT_EQ(LastCall().target, "AmazonEC2ContainerServiceV20141113.DescribeTasks");
  EXPECT_EQ(LastCall().body, json::parse(R"j({"cluster": "c", "tasks": ["arn:t"]})j"));
  EXPECT_EQ(described.result["tasks"][0]["lastStatus"], "STOPPED");

  auto stopped = Run("ecs.stopTask", R"j({"cluster": "c", "task": "arn:t", "reason": "r"})j");
  ASSERT_TRUE(stopped.ok);
  EXPECT_EQ(LastCall().target, "AmazonEC2ContainerServiceV20141113.StopTask");
  EXPECT_EQ(LastCall().body, json::parse(R"j({"cluster": "c", "task": "arn:t", "reason": "r"})j"));
  EXPECT_EQ(Run("ecs.describeTasks", R"j({"tasks": []})j").error.name, "Cairn.InvalidParameters");
}

// ---- Lambda ----

TEST_F(AwsActionsTest, LambdaInvokeRequestResponse) {
  aws::AwsReply reply = RecordingAwsCaller::Ok(nullptr);
  reply.raw_body = R"j({"answer": 42})j";
  caller_->replies.push_back(reply);
  auto out = Run("lambda.invoke", R"j({"function": "arn:aws:lambda:us-east-1:1:function:f",
      "qualifier": "live", "payload": {"q": "x"}})j");
  ASSERT_TRUE(out.ok) << out.error.message;
  EXPECT_EQ(LastCall().service, "lambda");
  EXPECT_EQ(LastCall().protocol, aws::AwsProtocol::kRestJson);
  EXPECT_EQ(LastCall().method, "POST");
  EXPECT_EQ(LastCall().path,
            "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Af/invocations");
  EXPECT_EQ(LastCall().query, "Qualifier=live");
  EXPECT_TRUE(LastCall().use_raw_body);
  EXPECT_EQ(LastCall().raw_body, R"j({"q":"x"})j");
  ASSERT_EQ(LastCall().headers.size(), 1u);
  EXPECT_EQ(LastCall().headers[0],
            std::make_pair(std::string("X-Amz-Invocation-Type"), std::string("RequestResponse")));
  EXPECT_EQ(out.result, json::parse(R"j({"answer": 42})j"));
}

TEST_F(AwsActionsTest, LambdaFunctionErrorAndDurable) {
  aws::AwsReply reply = RecordingAwsCaller::Ok(nullptr);
  reply.raw_body = R"j({"errorType": "Error", "errorMessage": "boom", "trace": []})j";
  reply.headers = {{"X-Amz-Function-Error", "Unhandled"}};
  caller_->replies.push_back(reply);
  auto out = Run("lambda.invoke", R"j({"function": "f"})j");
  ASSERT_FALSE(out.ok);
  EXPECT_EQ(out.error.name, "Lambda.FunctionError");
  EXPECT_EQ(out.error.message, "boom");
  EXPECT_EQ(out.error.data["errorType"], "Error");
  EXPECT_FALSE(LastCall().use_raw_body);

  const size_t calls = caller_->calls.size();
  auto durable = Run("lambda.invoke", R"j({"function": "f", "durable": true})j");
  EXPECT_EQ(durable.error.name, "Cairn.UnsupportedAction");
  EXPECT_NE(durable.error.message.find("only the Lambda backend"), std::string::npos);
  EXPECT_EQ(caller_->calls.size(), calls);

  aws::AwsReply accepted = RecordingAwsCaller::Ok(nullptr);
  accepted.http_status = 202;
  caller_->replies.push_back(accepted);
  auto event = Run("lambda.invoke", R"j({"function": "f", "invocationType": "Event"})j");
  EXPECT_EQ(event.result, json::parse(R"j({"statusCode": 202})j"));
  EXPECT_EQ(LastCall().headers[0].second, "Event");

  aws::AwsReply text = RecordingAwsCaller::Ok(nullptr);
  text.raw_body = "not json";
  caller_->replies.push_back(text);
  EXPECT_EQ(Run("lambda.invoke", R"j({"function": "f"})j").result, "not json");
}

}  // namespace
}  // namespace cairn::actions
