#include "backend/lambda/lambda_checkpoint_client.h"

#include <gtest/gtest.h>

#include <deque>

namespace cairn::backend::lambda {
namespace {

using nlohmann::json;
namespace P = protocol;

// An HttpClient that records requests and answers from a script.
class ScriptedHttp final : public aws::HttpClient {
 public:
  struct Sent {
    std::string base_url;
    aws::HttpRequest request;
  };
  Result<aws::HttpResponse> Send(std::string_view base_url, const aws::HttpRequest& request,
                                 const aws::HttpCallOptions&) override {
    sent.push_back({std::string(base_url), request});
    if (replies.empty()) return aws::HttpResponse{500, {}, "{\"message\":\"script exhausted\"}"};
    auto r = std::move(replies.front());
    replies.pop_front();
    return r;
  }
  void Reply(int status, json body, std::vector<aws::HttpHeader> headers = {}) {
    replies.push_back(aws::HttpResponse{status, std::move(headers), body.dump()});
  }
  void Fail(std::string code) { replies.push_back(MakeError(std::move(code), "connection refused")); }

  std::deque<Result<aws::HttpResponse>> replies;
  std::vector<Sent> sent;
};

constexpr const char* kArn =
    "arn:aws:lambda:us-east-1:123456789012:function:cairn:$LATEST/durable-execution/run-1/abc";

class LambdaCheckpointClientTest : public ::testing::Test {
 protected:
  LambdaCheckpointClientOptions Options() {
    LambdaCheckpointClientOptions o;
    o.endpoint = "https://lambda.us-east-1.amazonaws.com";
    o.region = "us-east-1";
    o.credentials = aws::Credentials("AKIDEXAMPLE", "secret", "session-token");
    o.clock = &clock_;
    o.backoff = [this](int attempt) { backoffs_.push_back(attempt); };
    o.make_client_token = [this] { return "ct-" + std::to_string(++client_tokens_); };
    return o;
  }
  static P::OperationUpdate Step(std::string id, P::OperationAction action,
                                 std::optional<std::string> payload = std::nullopt) {
    P::OperationUpdate u;
    u.id = std::move(id);
    u.type = P::OperationType::kStep;
    u.sub_type = "Step";
    u.action = action;
    u.payload = std::move(payload);
    return u;
  }
  static json Ok(std::string token, json operations = json::array()) {
    return {{"CheckpointToken", std::move(token)},
            {"NewExecutionState", {{"Operations", std::move(operations)}}}};
  }
  static json Body(const ScriptedHttp::Sent& s) { return json::parse(s.request.body); }

  FakeClock clock_{1'764'000'000'000};
  ScriptedHttp http_;
  std::vector<int> backoffs_;
  int client_tokens_ = 0;
};

TEST_F(LambdaCheckpointClientTest, SendsASignedCheckpointToTheEncodedArnPath) {
  LambdaCheckpointClient client(http_, Options());
  http_.Reply(200, Ok("t2", json::array({{{"Id", "s1"},
                                          {"Type", "STEP"},
                                          {"Status", "SUCCEEDED"},
                                          {"StartTimestamp", 1764000000.5},
                                          {"EndTimestamp", 1764000001250},
                                          {"StepDetails", {{"Result", "1"}, {"Attempt", 1}}}}})));
  P::CheckpointRequest req{"t1", std::nullopt, {Step("s1", P::OperationAction::kStart),
                                                Step("s1", P::OperationAction::kSucceed, "1")}};
  auto r = client.Checkpoint(kArn, req);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->checkpoint_token, "t2");
  ASSERT_EQ(r->new_state.operations.size(), 1u);
  EXPECT_EQ(r->new_state.operations[0].start_timestamp, 1'764'000'000'500);
  EXPECT_EQ(r->new_state.operations[0].end_timestamp, 1'764'000'001'250);
  EXPECT_EQ(client.NewestToken(kArn), "t2");

  ASSERT_EQ(http_.sent.size(), 1u);
  const auto& s = http_.sent[0];
  EXPECT_EQ(s.base_url, "https://lambda.us-east-1.amazonaws.com");
  EXPECT_EQ(s.request.method, "POST");
  EXPECT_EQ(s.request.path,
            "/2025-12-01/durable-executions/"
            "arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Acairn%3A%24LATEST%2F"
            "durable-execution%2Frun-1%2Fabc/checkpoint");
  const std::string* auth = aws::FindHeader(s.request, "Authorization");
  ASSERT_NE(auth, nullptr);
  EXPECT_NE(auth->find("Credential=AKIDEXAMPLE/20251124/us-east-1/lambda/aws4_request"),
            std::string::npos)
      << *auth;
  ASSERT_NE(aws::FindHeader(s.request, "X-Amz-Security-Token"), nullptr);
  EXPECT_EQ(*aws::FindHeader(s.request, "Host"), "lambda.us-east-1.amazonaws.com");
  json body = Body(s);
  EXPECT_EQ(body["CheckpointToken"], "t1");
  EXPECT_EQ(body["ClientToken"], "ct-1");
  ASSERT_EQ(body["Updates"].size(), 2u);
  EXPECT_EQ(body["Updates"][1]["Action"], "SUCCEED");
  EXPECT_EQ(body["Updates"][1]["Payload"], "1");
  EXPECT_EQ(body.dump().find("secret"), std::string::npos);
}

TEST_F(LambdaCheckpointClientTest, AcceptsIsoTimestamps) {
  LambdaCheckpointClient client(http_, Options());
  http_.Reply(200, Ok("t2", json::array({{{"Id", "w"},
                                          {"Type", "WAIT"},
                                          {"Status", "STARTED"},
                                          {"StartTimestamp", "2025-11-24T16:00:00.250Z"},
                                          {"WaitDetails",
                                           {{"ScheduledEndTimestamp", "2025-11-24T16:00:10Z"}}}}})));
  auto r = client.Checkpoint(kArn, {"t1", std::nullopt, {}});
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->new_state.operations[0].scheduled_end_timestamp, 1'764'000'010'000);
  EXPECT_EQ(r->new_state.operations[0].start_timestamp, 1'764'000'000'250);
}

TEST_F(LambdaCheckpointClientTest, RetriesTransientFailuresWithTheSameClientToken) {
  LambdaCheckpointClient client(http_, Options());
  http_.Reply(500, {{"message", "internal"}});
  http_.Fail("http.connect");
  http_.Reply(200, Ok("t2"));
  auto r = client.Checkpoint(kArn, {"t1", std::nullopt, {Step("s", P::OperationAction::kStart)}});
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  ASSERT_EQ(http_.sent.size(), 3u);
  for (const auto& s : http_.sent) {
    EXPECT_EQ(Body(s)["ClientToken"], "ct-1");
    EXPECT_EQ(Body(s)["CheckpointToken"], "t1");
  }
  EXPECT_EQ(backoffs_, (std::vector<int>{1, 2}));
  EXPECT_EQ(client.stats().retries, 2);
}

TEST_F(LambdaCheckpointClientTest, ThrottlingThatOutlastsTheRetriesIsRetryable) {
  LambdaCheckpointClient client(http_, Options());
  for (int i = 0; i < 3; ++i) {
    http_.Reply(429, {{"message", "Rate exceeded"}},
                {{"X-Amzn-ErrorType", "TooManyRequestsException"}});
  }
  auto r = client.Checkpoint(kArn, {"t1", std::nullopt, {}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, kRetryableError);
  EXPECT_NE(r.error().message.find("TooManyRequestsException"), std::string::npos);
  EXPECT_EQ(ClassifyError(r.error()), ErrorClass::kRetryable);
  EXPECT_EQ(http_.sent.size(), 3u);
}

TEST_F(LambdaCheckpointClientTest, StaleTokenIsNotRetried) {
  LambdaCheckpointClient client(http_, Options());
  http_.Reply(400, {{"__type", "InvalidParameterValueException"},
                    {"message", "Invalid checkpoint token: already used"}});
  auto r = client.Checkpoint(kArn, {"t1", std::nullopt, {}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, kStaleTokenError);
  EXPECT_EQ(ClassifyError(r.error()), ErrorClass::kStaleToken);
  EXPECT_EQ(r.error().message.rfind("Invalid checkpoint token", 0), 0u);
  EXPECT_EQ(http_.sent.size(), 1u);
}

TEST_F(LambdaCheckpointClientTest, OtherClientErrorsArePermanent) {
  LambdaCheckpointClient client(http_, Options());
  http_.Reply(400, {{"Type", "User"}, {"message", "STEP s cannot SUCCEED from SUCCEEDED"}},
              {{"X-Amzn-ErrorType", "InvalidParameterValueException:http://internal"}});
  http_.Reply(404, {{"message", "no such execution"}});
  auto r = client.Checkpoint(kArn, {"t1", std::nullopt, {}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, kInvalidRequestError);
  EXPECT_EQ(ClassifyError(r.error()), ErrorClass::kPermanent);
  EXPECT_NE(r.error().message.find("InvalidParameterValueException: STEP s"), std::string::npos)
      << r.error().message;
  auto g = client.GetState(kArn, "t1", "");
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.error().code, kNotFoundError);
  EXPECT_EQ(http_.sent.size(), 2u);
}

TEST_F(LambdaCheckpointClientTest, OversizedPayloadIsRefusedBeforeAnythingIsSent) {
  LambdaCheckpointClient client(http_, Options());
  std::string big(P::kMaxOperationPayloadBytes + 1, 'x');
  auto r = client.Checkpoint(kArn, {"t1", std::nullopt,
                                    {Step("a", P::OperationAction::kStart),
                                     Step("a", P::OperationAction::kSucceed, "\"" + big + "\"")}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, kPayloadTooLargeError);
  EXPECT_EQ(ClassifyError(r.error()), ErrorClass::kPermanent);
  EXPECT_TRUE(http_.sent.empty());

  // Exactly at the limit is fine.
  http_.Reply(200, Ok("t2"));
  std::string edge(P::kMaxOperationPayloadBytes, 'y');
  auto ok = client.Checkpoint(kArn, {"t1", std::nullopt, {Step("b", P::OperationAction::kSucceed, edge)}});
  EXPECT_TRUE(ok.ok());
}

TEST_F(LambdaCheckpointClientTest, SplitsLargeRequestsIntoBatchesThreadingTheToken) {
  LambdaCheckpointClient client(http_, Options());
  // Five 200 KB payloads: at most three fit in 750 KB.
  std::vector<P::OperationUpdate> updates;
  for (int i = 0; i < 5; ++i) {
    updates.push_back(Step("s" + std::to_string(i), P::OperationAction::kSucceed,
                           std::string(200'000, 'a' + static_cast<char>(i))));
  }
  http_.Reply(200, Ok("t2", json::array({{{"Id", "s0"}, {"Type", "STEP"}, {"Status", "SUCCEEDED"}}})));
  http_.Reply(200, Ok("t3", json::array({{{"Id", "s4"}, {"Type", "STEP"}, {"Status", "SUCCEEDED"}}})));
  auto r = client.Checkpoint(kArn, {"t1", std::nullopt, updates});
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  ASSERT_EQ(http_.sent.size(), 2u);
  EXPECT_EQ(Body(http_.sent[0])["CheckpointToken"], "t1");
  EXPECT_EQ(Body(http_.sent[1])["CheckpointToken"], "t2");
  EXPECT_NE(Body(http_.sent[0])["ClientToken"], Body(http_.sent[1])["ClientToken"]);
  size_t total = 0;
  for (const auto& s : http_.sent) {
    EXPECT_LE(s.request.body.size(), kDefaultMaxBatchBytes);
    total += Body(s)["Updates"].size();
  }
  EXPECT_EQ(total, 5u);
  EXPECT_EQ(Body(http_.sent[1])["Updates"].back()["Id"], "s4");  // order kept
  EXPECT_EQ(r->checkpoint_token, "t3");
  EXPECT_EQ(r->new_state.operations.size(), 2u);
  EXPECT_EQ(client.NewestToken(kArn), "t3");
}

TEST_F(LambdaCheckpointClientTest, ManyUpdatesSplitAt250) {
  LambdaCheckpointClient client(http_, Options());
  std::vector<P::OperationUpdate> updates;
  for (int i = 0; i < 600; ++i) updates.push_back(Step("s" + std::to_string(i), P::OperationAction::kStart));
  for (int i = 0; i < 3; ++i) http_.Reply(200, Ok("t" + std::to_string(i + 2)));
  auto r = client.Checkpoint(kArn, {"t1", std::nullopt, updates});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(http_.sent.size(), 3u);
  EXPECT_EQ(Body(http_.sent[0])["Updates"].size(), 250u);
  EXPECT_EQ(Body(http_.sent[2])["Updates"].size(), 100u);
}

TEST_F(LambdaCheckpointClientTest, AnOversizedExecutionResultGoesAlone) {
  LambdaCheckpointClient client(http_, Options());
  P::OperationUpdate done;
  done.id = "abc";
  done.type = P::OperationType::kExecution;
  done.action = P::OperationAction::kSucceed;
  done.payload = std::string(7'000'000, 'r');
  http_.Reply(200, Ok("t2"));
  http_.Reply(200, {{"NewExecutionState", {{"Operations", json::array()}}}});
  auto r = client.Checkpoint(kArn, {"t1", std::nullopt, {Step("s", P::OperationAction::kStart), done}});
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  ASSERT_EQ(http_.sent.size(), 2u);
  EXPECT_EQ(Body(http_.sent[1])["Updates"][0]["Type"], "EXECUTION");
  EXPECT_FALSE(r->checkpoint_token.has_value());
}

TEST_F(LambdaCheckpointClientTest, GetStatePagesWithTheMarker) {
  LambdaCheckpointClient client(http_, Options());
  http_.Reply(200, {{"Operations", json::array({{{"Id", "x"}, {"Type", "STEP"}, {"Status", "STARTED"}}})},
                    {"NextMarker", "m2"}});
  auto r = client.GetState(kArn, "tok/+=", "m 1");
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->next_marker, "m2");
  ASSERT_EQ(http_.sent.size(), 1u);
  EXPECT_EQ(http_.sent[0].request.method, "GET");
  EXPECT_NE(http_.sent[0].request.path.find("/state"), std::string::npos);
  EXPECT_EQ(http_.sent[0].request.query, "CheckpointToken=tok%2F%2B%3D&Marker=m%201&MaxItems=1000");
}

TEST_F(LambdaCheckpointClientTest, MalformedRepliesAreRetryable) {
  LambdaCheckpointClientOptions o = Options();
  o.max_attempts = 1;
  LambdaCheckpointClient client(http_, o);
  http_.replies.push_back(aws::HttpResponse{200, {}, "<html>"});
  auto r = client.Checkpoint(kArn, {"t1", std::nullopt, {}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, kRetryableError);
}

TEST(ErrorFromReplyTest, Classes) {
  auto make = [](int status, std::string body) { return aws::HttpResponse{status, {}, std::move(body)}; };
  EXPECT_EQ(ErrorFromReply(make(413, "{}"), "x").code, kPayloadTooLargeError);
  EXPECT_EQ(ErrorFromReply(make(503, "{}"), "x").code, kRetryableError);
  EXPECT_EQ(ErrorFromReply(make(400, R"({"message":"invalid checkpoint token"})"), "x").code,
            kStaleTokenError);
  EXPECT_EQ(ErrorFromReply(make(409, "{}"), "x").code, kInvalidRequestError);
}

}  // namespace
}  // namespace cairn::backend::lambda
