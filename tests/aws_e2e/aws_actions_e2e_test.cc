// The AWS actions against real peers, through the production wiring
// (RegisterDefaultAwsActions: ServiceClient, CurlHttpClient, credentials
// chain, endpoints from AWS_ENDPOINT_URL_<SERVICE>):
//   * DynamoDB on dynalite: every dynamodb.* action, conditional failures,
//     ReturnValues, numbers, paging; http.request signed with SigV4;
//   * ECS on moto: RunTask with overrides and network configuration from
//     moto's default VPC, DescribeTasks polled until STOPPED, StopTask,
//     service errors.
// Run by with_peers.sh, which starts the peers and exports their endpoints;
// each suite skips, saying what is missing, when its peer is absent.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <regex>
#include <thread>

#include "actions/aws_actions.h"
#include "aws/service_client.h"
#include "core/clock.h"

namespace cairn {
namespace {

using nlohmann::json;

std::string EnvOr(const char* name) {
  const char* v = std::getenv(name);  // test harness input, not cairn code
  return v ? v : "";
}

aws::EnvironmentLookup EnvOf(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

// Dummy credentials (neither peer checks the secret here), the peers'
// endpoints, no shared files, no instance metadata.
std::map<std::string, std::string> PeerEnvironment() {
  std::map<std::string, std::string> env = {
      {"AWS_ACCESS_KEY_ID", "AKIDCAIRNTEST"},
      {"AWS_SECRET_ACCESS_KEY", "cairn-test-secret"},
      {"AWS_REGION", "us-east-1"},
      {"AWS_EC2_METADATA_DISABLED", "true"},
      {"AWS_CONFIG_FILE", "/nonexistent/config"},
      {"AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials"},
      {"AWS_MAX_ATTEMPTS", "2"}};
  if (std::string d = EnvOr("CAIRN_E2E_DYNAMODB"); !d.empty()) env["AWS_ENDPOINT_URL_DYNAMODB"] = d;
  if (std::string m = EnvOr("CAIRN_E2E_MOTO"); !m.empty()) {
    env["AWS_ENDPOINT_URL_ECS"] = m;
    env["AWS_ENDPOINT_URL_EC2"] = m;
  }
  return env;
}

class PeerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto env = EnvOf(PeerEnvironment());
    actions::RegisterDefaultAwsActions(registry_, env, SystemClock::Instance());
    raw_ = aws::MakeDefaultServiceClient(env, SystemClock::Instance());
  }

  actions::ActionOutcome Run(const std::string& type, json params, const std::string& op = "op-1") {
    actions::ActionRequest request;
    request.type = type;
    request.params = std::move(params);
    request.operation_id = op;
    request.execution_arn =
        "arn:aws:lambda:us-east-1:123456789012:function:e2e:$LATEST/"
        "durable-execution/" +
        exec_name_ + "/inv-1";
    return registry_.Run(request);
  }

  // A raw API call for setting up the peers (CreateTable, CreateCluster, ...).
  json Setup(const std::string& service, aws::AwsProtocol protocol, const std::string& target,
             json body) {
    aws::AwsCall call;
    call.service = service;
    call.protocol = protocol;
    call.target = target;
    call.body = std::move(body);
    aws::AwsReply reply = raw_->Call(call);
    EXPECT_TRUE(reply.ok) << target << ": " << reply.error_name << ": " << reply.error_message;
    return reply.body;
  }

  actions::ActionRegistry registry_;
  std::unique_ptr<aws::ServiceClient> raw_;
  std::string exec_name_ = "e2e-1";
};

// ---------------------------------------------------------------- DynamoDB

json WithTable(json params, const std::string& table) {
  params["table"] = table;
  return params;
}

class DynaliteTest : public PeerTest {
 protected:
  void SetUp() override {
    if (EnvOr("CAIRN_E2E_DYNAMODB").empty()) {
      GTEST_SKIP() << "dynalite is not running: run this test through tests/aws_e2e/with_peers.sh "
                      "(ctest does), after `npm ci` in tests/aws_e2e. "
                   << EnvOr("CAIRN_E2E_MISSING");
    }
    PeerTest::SetUp();
    static int tables = 0;
    table_ = "t" + std::to_string(++tables) + "_" +
             std::to_string(SystemClock::Instance().MonotonicNanos() % 1000000);
    Setup("dynamodb", aws::AwsProtocol::kJson10, "DynamoDB_20120810.CreateTable",
          {{"TableName", table_},
           {"AttributeDefinitions",
            {{{"AttributeName", "pk"}, {"AttributeType", "S"}},
             {{"AttributeName", "sk"}, {"AttributeType", "N"}}}},
           {"KeySchema",
            {{{"AttributeName", "pk"}, {"KeyType", "HASH"}},
             {{"AttributeName", "sk"}, {"KeyType", "RANGE"}}}},
           {"BillingMode", "PAY_PER_REQUEST"}});
    // dynalite answers CreateTable with CREATING and makes the table ACTIVE
    // on a later tick (even with --createTableMs 0); until then every item
    // call is ResourceNotFoundException, as DynamoDB's would be.
    for (int i = 0; i < 500; ++i) {
      json d = Setup("dynamodb", aws::AwsProtocol::kJson10, "DynamoDB_20120810.DescribeTable",
                     {{"TableName", table_}});
      if (d.value("/Table/TableStatus"_json_pointer, "") == "ACTIVE") return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    FAIL() << "table " << table_ << " did not become ACTIVE in 10 s";
  }
  std::string table_;
};

TEST_F(DynaliteTest, ConditionalPutFailsWithTheServiceErrorName) {
  json put = {{"table", table_},
              {"item", {{"pk", "a"}, {"sk", 1}, {"status", "RUNNING"}}},
              {"condition", "attribute_not_exists(pk)"}};
  auto first = Run("dynamodb.putItem", put);
  ASSERT_TRUE(first.ok) << first.error.name << ": " << first.error.message;
  EXPECT_EQ(first.result, json::parse(R"({"attributes": null})"));
  auto second = Run("dynamodb.putItem", put);
  ASSERT_FALSE(second.ok);
  EXPECT_EQ(second.error.name, "DynamoDB.ConditionalCheckFailedException");
  EXPECT_EQ(second.error.message, "The conditional request failed");
  EXPECT_EQ(second.error.data["httpStatus"], 400);
}

TEST_F(DynaliteTest, UpdateWithSetAddRemoveAndReturnValues) {
  ASSERT_TRUE(Run("dynamodb.putItem",
                  {{"table", table_}, {"item", {{"pk", "u"}, {"sk", 1}, {"lease", "x"}, {"n", 1}}}})
                  .ok);
  auto updated = Run("dynamodb.updateItem", WithTable(json::parse(R"({"key": {"pk": "u", "sk": 1},
                         "set": {"status": "COMPLETED", "result": {"words": 3, "ok": true, "list": [1, "a", null]}},
                         "add": {"n": 41, "tags": ["x", "y"]}, "remove": ["lease"],
                         "condition": "#st <> :done", "names": {"#st": "status"},
                         "values": {":done": "COMPLETED"}, "returnValues": "ALL_NEW"})"),
                                                      table_));
  ASSERT_TRUE(updated.ok) << updated.error.name << ": " << updated.error.message;
  json attributes = updated.result["attributes"];
  EXPECT_EQ(attributes["status"], "COMPLETED");
  EXPECT_EQ(attributes["n"], 42);
  EXPECT_EQ(attributes["result"],
            json::parse(R"({"words": 3, "ok": true, "list": [1, "a", null]})"));
  EXPECT_EQ(attributes["tags"], json::parse(R"(["x", "y"])"));
  EXPECT_FALSE(attributes.contains("lease"));

  // The same condition now fails; UPDATED_OLD returns what a raw update changed.
  auto again =
      Run("dynamodb.updateItem",
          WithTable(json::parse(R"({"key": {"pk": "u", "sk": 1}, "set": {"status": "AGAIN"},
                       "condition": "#st <> :done", "names": {"#st": "status"},
                       "values": {":done": "COMPLETED"}})"),
                    table_));
  EXPECT_EQ(again.error.name, "DynamoDB.ConditionalCheckFailedException");
  auto raw =
      Run("dynamodb.updateItem",
          WithTable(json::parse(R"({"key": {"pk": "u", "sk": 1}, "update": "SET n = n + :one",
                     "values": {":one": 1}, "returnValues": "UPDATED_OLD"})"),
                    table_));
  ASSERT_TRUE(raw.ok) << raw.error.message;
  EXPECT_EQ(raw.result, json::parse(R"({"attributes": {"n": 42}})"));
}

TEST_F(DynaliteTest, NumbersKeepTheirDigits) {
  json item = json::parse(R"({"pk": "n", "sk": 2, "max": 9223372036854775807,
      "umax": 18446744073709551615, "min": -9223372036854775808, "tenth": 0.1,
      "third": 0.3333333333333333, "big": 1e100, "neg": -2.5e-10})");
  ASSERT_TRUE(Run("dynamodb.putItem", {{"table", table_}, {"item", item}}).ok);
  auto got = Run("dynamodb.getItem",
                 {{"table", table_}, {"key", {{"pk", "n"}, {"sk", 2}}}, {"consistentRead", true}});
  ASSERT_TRUE(got.ok) << got.error.message;
  const json& back = got.result["item"];
  for (const char* k : {"max", "umax", "min", "tenth", "third", "neg"}) {
    EXPECT_EQ(back[k].dump(), item[k].dump()) << k;
  }
  EXPECT_DOUBLE_EQ(back["big"].get<double>(), 1e100);
}

TEST_F(DynaliteTest, GetDeleteAndQueryPages) {
  for (int sk = 1; sk <= 5; ++sk) {
    ASSERT_TRUE(Run("dynamodb.putItem",
                    {{"table", table_}, {"item", {{"pk", "q"}, {"sk", sk}, {"v", sk * 10}}}})
                    .ok);
  }
  auto missing = Run("dynamodb.getItem", {{"table", table_}, {"key", {{"pk", "none"}, {"sk", 0}}}});
  ASSERT_TRUE(missing.ok);
  EXPECT_TRUE(missing.result["item"].is_null());

  json query = {{"table", table_},
                {"keyCondition", "pk = :pk AND sk >= :from"},
                {"values", {{":pk", "q"}, {":from", 2}}},
                {"limit", 2},
                {"scanForward", false}};
  std::vector<int> seen;
  for (int page = 0; page < 5; ++page) {
    auto out = Run("dynamodb.query", query);
    ASSERT_TRUE(out.ok) << out.error.message;
    for (const json& i : out.result["items"]) seen.push_back(i["sk"].get<int>());
    if (out.result["lastEvaluatedKey"].is_null()) break;
    query["startKey"] = out.result["lastEvaluatedKey"];
  }
  EXPECT_EQ(seen, (std::vector<int>{5, 4, 3, 2}));

  auto deleted =
      Run("dynamodb.deleteItem",
          {{"table", table_}, {"key", {{"pk", "q"}, {"sk", 3}}}, {"returnValues", "ALL_OLD"}});
  ASSERT_TRUE(deleted.ok);
  EXPECT_EQ(deleted.result["attributes"]["v"], 30);
  auto gone = Run("dynamodb.deleteItem", {{"table", table_},
                                          {"key", {{"pk", "q"}, {"sk", 3}}},
                                          {"condition", "attribute_exists(pk)"}});
  EXPECT_EQ(gone.error.name, "DynamoDB.ConditionalCheckFailedException");
}

TEST_F(DynaliteTest, ServiceValidationErrorsAreNamed) {
  auto out = Run("dynamodb.getItem", {{"table", table_}, {"key", {{"pk", "only-hash"}}}});
  ASSERT_FALSE(out.ok);
  EXPECT_EQ(out.error.name, "DynamoDB.ValidationException");
  auto no_table =
      Run("dynamodb.getItem", {{"table", "no_such_table"}, {"key", {{"pk", "a"}, {"sk", 1}}}});
  EXPECT_EQ(no_table.error.name, "DynamoDB.ResourceNotFoundException");
}

TEST_F(DynaliteTest, HttpRequestSignedWithSigV4) {
  const std::string url = EnvOr("CAIRN_E2E_DYNAMODB") + "/";
  json request = {{"url", url},
                  {"method", "POST"},
                  {"headers",
                   {{"X-Amz-Target", "DynamoDB_20120810.DescribeTable"},
                    {"Content-Type", "application/x-amz-json-1.0"}}},
                  {"body", json({{"TableName", table_}}).dump()}};
  // dynalite refuses a request without a well-formed SigV4 Authorization.
  auto unsigned_out = Run("http.request", request);
  ASSERT_FALSE(unsigned_out.ok);
  EXPECT_EQ(unsigned_out.error.name, "HTTP.400");
  EXPECT_NE(unsigned_out.error.data["body"].dump().find("MissingAuthenticationToken"),
            std::string::npos)
      << unsigned_out.error.data.dump();

  request["sigv4"] = {{"service", "dynamodb"}};
  auto signed_out = Run("http.request", request);
  ASSERT_TRUE(signed_out.ok) << signed_out.error.name << ": " << signed_out.error.message << " "
                             << signed_out.error.data.dump();
  EXPECT_EQ(signed_out.result["status"], 200);
  EXPECT_EQ(signed_out.result["body"]["Table"]["TableName"], table_);
}

// ---------------------------------------------------------------- ECS

class MotoTest : public PeerTest {
 protected:
  void SetUp() override {
    if (EnvOr("CAIRN_E2E_MOTO").empty()) {
      GTEST_SKIP() << "moto_server is not running: run this test through "
                      "tests/aws_e2e/with_peers.sh (ctest does); moto 5.x must be on PATH. "
                   << EnvOr("CAIRN_E2E_MISSING");
    }
    PeerTest::SetUp();
    Setup("ecs", aws::AwsProtocol::kJson11, "AmazonEC2ContainerServiceV20141113.CreateCluster",
          {{"clusterName", "cairn-e2e"}});
    Setup("ecs", aws::AwsProtocol::kJson11,
          "AmazonEC2ContainerServiceV20141113.RegisterTaskDefinition",
          json::parse(R"({"family": "worker", "networkMode": "awsvpc",
              "requiresCompatibilities": ["FARGATE"], "cpu": "256", "memory": "512",
              "containerDefinitions": [{"name": "worker", "image": "busybox", "cpu": 256,
                                        "memory": 512, "essential": true}]})"));
    subnets_ = Ec2Ids("DescribeSubnets", "subnetId");
    groups_ = Ec2Ids("DescribeSecurityGroups", "groupId");
  }

  // EC2 speaks the query protocol (XML), which AwsCaller does not: ask it
  // with a SigV4-signed http.request and read the ids from the XML.
  std::vector<std::string> Ec2Ids(const std::string& action, const std::string& element) {
    auto out =
        Run("http.request", {{"url", EnvOr("CAIRN_E2E_MOTO") + "/"},
                             {"method", "POST"},
                             {"headers", {{"Content-Type", "application/x-www-form-urlencoded"}}},
                             {"body", "Action=" + action + "&Version=2016-11-15"},
                             {"sigv4", {{"service", "ec2"}, {"region", "us-east-1"}}}});
    EXPECT_TRUE(out.ok) << action << ": " << out.error.name << ": " << out.error.message;
    std::vector<std::string> ids;
    if (!out.ok) return ids;
    const std::string xml = out.result["body"].get<std::string>();
    const std::regex id("<" + element + ">([^<]+)</" + element + ">");
    for (std::sregex_iterator it(xml.begin(), xml.end(), id), end; it != end; ++it) {
      ids.push_back((*it)[1].str());
    }
    return ids;
  }

  std::vector<std::string> subnets_;
  std::vector<std::string> groups_;
};

TEST_F(MotoTest, RunTaskThenPollUntilStopped) {
  ASSERT_FALSE(subnets_.empty());
  ASSERT_FALSE(groups_.empty());
  json params = {
      {"cluster", "cairn-e2e"},
      {"taskDefinition", "worker:1"},
      {"launchType", "FARGATE"},
      {"network",
       {{"subnets", {subnets_[0]}}, {"securityGroups", {groups_[0]}}, {"assignPublicIp", true}}},
      {"environment", {{"CALLBACK_ID", "cb-123"}, {"ATTEMPTS", 3}}},
      {"startedBy", "cairn-e2e"}};
  auto run = Run("ecs.runTask", params, "runTask-1");
  ASSERT_TRUE(run.ok) << run.error.name << ": " << run.error.message;
  ASSERT_EQ(run.result["tasks"].size(), 1u);
  const std::string arn = run.result["tasks"][0]["taskArn"];
  // moto records the overrides the action built (the container name came
  // from DescribeTaskDefinition).
  const json& overrides = run.result["tasks"][0]["overrides"]["containerOverrides"][0];
  EXPECT_EQ(overrides["name"], "worker");
  EXPECT_EQ(
      overrides["environment"],
      json::parse(
          R"([{"name": "ATTEMPTS", "value": "3"}, {"name": "CALLBACK_ID", "value": "cb-123"}])"));

  std::string status;
  json task;
  for (int attempt = 0; attempt < 20 && status != "STOPPED"; ++attempt) {
    auto described = Run("ecs.describeTasks", {{"cluster", "cairn-e2e"}, {"tasks", {arn}}});
    ASSERT_TRUE(described.ok) << described.error.message;
    ASSERT_EQ(described.result["tasks"].size(), 1u);
    task = described.result["tasks"][0];
    status = task["lastStatus"];
  }
  EXPECT_EQ(status, "STOPPED");
  EXPECT_EQ(task["taskArn"], arn);
}

TEST_F(MotoTest, StopTaskAndServiceErrors) {
  ASSERT_FALSE(subnets_.empty());
  json params = {{"cluster", "cairn-e2e"},
                 {"taskDefinition", "worker"},
                 {"launchType", "FARGATE"},
                 // moto needs security groups too (ECS itself does not).
                 {"network", {{"subnets", subnets_}, {"securityGroups", groups_}}}};
  auto run = Run("ecs.runTask", params, "runTask-2");
  ASSERT_TRUE(run.ok) << run.error.name << ": " << run.error.message;
  const std::string arn = run.result["tasks"][0]["taskArn"];
  auto stopped = Run("ecs.stopTask", {{"cluster", "cairn-e2e"}, {"task", arn}, {"reason", "e2e"}});
  ASSERT_TRUE(stopped.ok) << stopped.error.message;
  EXPECT_EQ(stopped.result["task"]["taskArn"], arn);
  EXPECT_EQ(stopped.result["task"]["stoppedReason"], "e2e");

  params["cluster"] = "no-such-cluster";
  auto missing = Run("ecs.runTask", params, "runTask-3");
  ASSERT_FALSE(missing.ok);
  EXPECT_EQ(missing.error.name, "ECS.ClusterNotFoundException");
}

}  // namespace
}  // namespace cairn
