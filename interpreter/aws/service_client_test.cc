#include "aws/service_client.h"

#include <gtest/gtest.h>

#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>

#include "aws/aws_error.h"
#include "aws/curl_http_client.h"
#include "aws/sigv4.h"
#include "aws/test_servers.h"

namespace cairn::aws {
namespace {

using std::chrono::milliseconds;
using testing::LocalHttpServer;

EnvironmentLookup EnvOf(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

struct Scripted {
  int status = 200;
  std::string body = "{}";
  std::vector<std::pair<std::string, std::string>> headers;
  bool stall = false;
};

// A local server that answers with scripted responses, in order (the last
// one repeats), and checks every request's SigV4 signature by signing the
// received request again with the same secret.
class ScriptedService {
 public:
  explicit ScriptedService(std::string secret = "secret") : secret_(std::move(secret)) {
    auto handler = [this](const httplib::Request& req, httplib::Response& res) {
      Scripted next;
      {
        std::lock_guard<std::mutex> lock(mu_);
        requests_.push_back(req);
        signature_ok_.push_back(CheckSignature(req));
        next = script_.size() > 1 ? script_.front()
               : script_.empty()  ? Scripted{}
                                  : script_.front();
        if (script_.size() > 1) script_.pop_front();
      }
      if (next.stall) server_.WaitForRelease(10);
      res.status = next.status;
      for (const auto& [name, value] : next.headers) res.set_header(name, value);
      res.set_content(next.body, "application/x-amz-json-1.0");
    };
    server_.server().Post(".*", handler);
    server_.server().Get(".*", handler);
    started_ = server_.Start();
  }

  void Script(std::vector<Scripted> script) {
    std::lock_guard<std::mutex> lock(mu_);
    script_.assign(script.begin(), script.end());
  }
  std::string url() const { return server_.url(); }
  bool started() const { return started_; }
  int count() {
    std::lock_guard<std::mutex> lock(mu_);
    return static_cast<int>(requests_.size());
  }
  httplib::Request request(size_t i) {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_.at(i);
  }
  bool all_signatures_ok() {
    std::lock_guard<std::mutex> lock(mu_);
    for (bool ok : signature_ok_) {
      if (!ok) return false;
    }
    return !signature_ok_.empty();
  }
  void Release() { server_.Release(); }

 private:
  bool CheckSignature(const httplib::Request& req) {
    std::string authorization = req.get_header_value("Authorization");
    // "AWS4-HMAC-SHA256 Credential=AKID/20251124/us-east-1/dynamodb/aws4_request,
    // SignedHeaders=a;b, Signature=…"
    size_t credential = authorization.find("Credential=");
    size_t signed_headers = authorization.find("SignedHeaders=");
    if (credential == std::string::npos || signed_headers == std::string::npos) return false;
    std::string scope = authorization.substr(credential + 11,
                                             authorization.find(',', credential) - credential - 11);
    std::vector<std::string> parts;
    for (size_t start = 0, slash; start <= scope.size(); start = slash + 1) {
      slash = scope.find('/', start);
      if (slash == std::string::npos) slash = scope.size();
      parts.push_back(scope.substr(start, slash - start));
    }
    if (parts.size() != 5) return false;
    std::string names = authorization.substr(
        signed_headers + 14, authorization.find(',', signed_headers) - signed_headers - 14);
    HttpRequest copy;
    copy.method = req.method;
    copy.path = req.target.substr(0, req.target.find('?'));
    if (size_t q = req.target.find('?'); q != std::string::npos)
      copy.query = req.target.substr(q + 1);
    copy.body = req.body;
    for (size_t start = 0, semi; start < names.size(); start = semi + 1) {
      semi = names.find(';', start);
      if (semi == std::string::npos) semi = names.size();
      std::string name = names.substr(start, semi - start);
      if (name == "x-amz-date") continue;  // SignRequest sets it again
      copy.headers.push_back({name, req.get_header_value(name.c_str())});
    }
    std::string date = req.get_header_value("X-Amz-Date");  // 20251124T160000Z
    std::tm tm{};
    if (date.size() != 16 || strptime(date.c_str(), "%Y%m%dT%H%M%SZ", &tm) == nullptr) return false;
    auto time = std::chrono::sys_seconds(std::chrono::seconds(timegm(&tm)));
    Result<SignedRequest> expected = SignRequest(
        copy, Credentials(parts[0], secret_, req.get_header_value("X-Amz-Security-Token")), time,
        parts[2], parts[3]);
    return expected.ok() && expected->authorization == authorization;
  }

  const std::string secret_;
  LocalHttpServer server_;
  bool started_ = false;
  std::mutex mu_;
  std::deque<Scripted> script_;
  std::vector<httplib::Request> requests_;
  std::vector<bool> signature_ok_;
};

// Counts Resolve/Invalidate; hands out fixed credentials.
class CountingCredentials final : public CredentialsProvider {
 public:
  Result<ProvidedCredentials> Resolve() override {
    ++resolves;
    return ProvidedCredentials{Credentials("AKIDTEST", "secret", "session-token"), std::nullopt,
                               "test"};
  }
  void Invalidate() override { ++invalidations; }
  std::atomic<int> resolves{0};
  std::atomic<int> invalidations{0};
};

// Sends attempt N to routes[N] (the last one repeats) instead of the
// endpoint: a connection reset on one attempt and a server on the next.
class RoutingHttpClient final : public HttpClient {
 public:
  explicit RoutingHttpClient(std::vector<std::string> routes) : routes_(std::move(routes)) {}
  Result<HttpResponse> Send(std::string_view, const HttpRequest& request,
                            const HttpCallOptions& options) override {
    size_t n = std::min(calls_++, routes_.size() - 1);
    return curl_.Send(routes_[n], request, options);
  }

 private:
  CurlHttpClient curl_;
  std::vector<std::string> routes_;
  size_t calls_ = 0;
};

class ServiceClientTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(service_.started()); }

  std::unique_ptr<ServiceClient> Client(std::map<std::string, std::string> env = {},
                                        std::shared_ptr<HttpClient> http = nullptr) {
    env.emplace("AWS_REGION", "us-east-1");
    env.emplace("AWS_ENDPOINT_URL", service_.url());
    env.emplace("HOME", "/nonexistent");
    ServiceClientOptions options;
    options.http = http ? http : std::make_shared<CurlHttpClient>();
    options.credentials = credentials_;
    options.clock = &clock_;
    options.config = LoadServiceConfig(EnvOf(env));
    options.retry = retry_;
    options.sleep = [this](milliseconds d) { sleeps_.push_back(d); };
    options.random = [] { return 0.5; };
    options.call = call_options_;
    return std::make_unique<ServiceClient>(std::move(options));
  }

  static AwsCall PutItem() {
    AwsCall call;
    call.service = "dynamodb";
    call.protocol = AwsProtocol::kJson10;
    call.target = "DynamoDB_20120810.PutItem";
    call.body = {{"TableName", "t"}, {"Item", {{"pk", {{"S", "a"}}}}}};
    return call;
  }

  ScriptedService service_;
  std::shared_ptr<CountingCredentials> credentials_ = std::make_shared<CountingCredentials>();
  FakeClock clock_{1'764'000'000'000};  // 2025-11-24T16:00:00Z
  RetryOptions retry_;
  HttpCallOptions call_options_;
  std::vector<milliseconds> sleeps_;
};

TEST_F(ServiceClientTest, JsonCallIsBuiltAndSigned) {
  service_.Script({{200, R"({"Attributes":{"n":{"N":"1"}}})"}});
  AwsReply reply = Client()->Call(PutItem());
  ASSERT_TRUE(reply.ok) << reply.error_name << ": " << reply.error_message;
  EXPECT_EQ(reply.http_status, 200);
  EXPECT_EQ(reply.body["Attributes"]["n"]["N"], "1");
  ASSERT_EQ(service_.count(), 1);
  httplib::Request seen = service_.request(0);
  EXPECT_EQ(seen.method, "POST");
  EXPECT_EQ(seen.path, "/");
  EXPECT_EQ(seen.get_header_value("Content-Type"), "application/x-amz-json-1.0");
  EXPECT_EQ(seen.get_header_value("X-Amz-Target"), "DynamoDB_20120810.PutItem");
  EXPECT_EQ(seen.get_header_value("X-Amz-Date"), "20251124T160000Z");
  EXPECT_EQ(seen.get_header_value("X-Amz-Security-Token"), "session-token");
  EXPECT_EQ(seen.get_header_value("Host"), service_.url().substr(7));
  EXPECT_TRUE(
      seen.get_header_value("Authorization")
          .starts_with(
              "AWS4-HMAC-SHA256 Credential=AKIDTEST/20251124/us-east-1/dynamodb/aws4_request"));
  EXPECT_EQ(nlohmann::json::parse(seen.body)["TableName"], "t");
  EXPECT_TRUE(service_.all_signatures_ok());
  EXPECT_TRUE(sleeps_.empty());
}

TEST_F(ServiceClientTest, TheSignatureCheckOfTheTestServerCanFail) {
  ScriptedService other_secret("not-the-secret");
  ASSERT_TRUE(other_secret.started());
  AwsReply reply = Client({{"AWS_ENDPOINT_URL_DYNAMODB", other_secret.url()}})->Call(PutItem());
  ASSERT_TRUE(reply.ok);
  EXPECT_EQ(other_secret.count(), 1);
  EXPECT_FALSE(other_secret.all_signatures_ok());
}

TEST_F(ServiceClientTest, RestJsonCallWithRawBodyAndHeaders) {
  service_.Script({{200, "raw payload", {{"X-Amz-Function-Error", "Unhandled"}}}});
  AwsCall call;
  call.service = "lambda";
  call.protocol = AwsProtocol::kRestJson;
  call.method = "POST";
  call.path = "/2015-03-31/functions/my%20fn/invocations";
  call.query = "Qualifier=live";
  call.headers = {{"X-Amz-Invocation-Type", "RequestResponse"}};
  call.raw_body = "not json";
  call.use_raw_body = true;
  AwsReply reply = Client()->Call(call);
  ASSERT_TRUE(reply.ok) << reply.error_message;
  EXPECT_TRUE(reply.body.is_null());
  EXPECT_EQ(reply.raw_body, "raw payload");
  bool found = false;
  for (const auto& [name, value] : reply.headers)
    found |= name == "X-Amz-Function-Error" && value == "Unhandled";
  EXPECT_TRUE(found);
  httplib::Request seen = service_.request(0);
  EXPECT_EQ(seen.target, "/2015-03-31/functions/my%20fn/invocations?Qualifier=live");
  EXPECT_EQ(seen.body, "not json");
  EXPECT_EQ(seen.get_header_value("X-Amz-Invocation-Type"), "RequestResponse");
  EXPECT_TRUE(seen.get_header_value("Authorization").find("/us-east-1/lambda/aws4_request") !=
              std::string::npos);
  EXPECT_TRUE(service_.all_signatures_ok());
}

TEST_F(ServiceClientTest, ServiceErrorsAreNamedAndNotRetried) {
  service_.Script(
      {{400, R"({"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
                             "message":"The conditional request failed"})"}});
  AwsReply reply = Client()->Call(PutItem());
  EXPECT_FALSE(reply.ok);
  EXPECT_EQ(reply.http_status, 400);
  EXPECT_EQ(reply.error_name, "DynamoDB.ConditionalCheckFailedException");
  EXPECT_EQ(reply.error_message, "The conditional request failed");
  EXPECT_EQ(service_.count(), 1);

  service_.Script(
      {{400, R"({"__type":"ClusterNotFoundException","message":"Cluster not found."})"}});
  AwsCall ecs;
  ecs.service = "ecs";
  ecs.protocol = AwsProtocol::kJson11;
  ecs.target = "AmazonEC2ContainerServiceV20141113.RunTask";
  reply = Client()->Call(ecs);
  EXPECT_EQ(reply.error_name, "ECS.ClusterNotFoundException");
  EXPECT_EQ(service_.request(1).get_header_value("Content-Type"), "application/x-amz-json-1.1");

  service_.Script(
      {{404,
        R"({"Type":"User","Message":"Function not found: arn:aws:lambda:…"})",
        {{"X-Amzn-ErrorType", "ResourceNotFoundException:http://internal.amazon.com/coral/"}}}});
  AwsCall lambda;
  lambda.service = "lambda";
  lambda.protocol = AwsProtocol::kRestJson;
  lambda.method = "GET";
  lambda.path = "/2015-03-31/functions/nope";
  reply = Client()->Call(lambda);
  EXPECT_EQ(reply.error_name, "Lambda.ResourceNotFoundException");
  EXPECT_EQ(reply.error_message, "Function not found: arn:aws:lambda:…");
}

TEST_F(ServiceClientTest, ServerErrorThenSuccessIsRetried) {
  service_.Script(
      {{500, R"({"__type":"InternalServerError","message":"oops"})"}, {200, R"({"ok":1})"}});
  auto client = Client();
  AwsReply reply = client->Call(PutItem());
  ASSERT_TRUE(reply.ok) << reply.error_message;
  EXPECT_EQ(reply.body["ok"], 1);
  EXPECT_EQ(service_.count(), 2);
  ASSERT_EQ(sleeps_.size(), 1u);
  EXPECT_EQ(sleeps_[0], milliseconds(50));  // 0.5 × 100 ms
  EXPECT_TRUE(service_.all_signatures_ok());
  // The retry's cost was refunded by the success.
  EXPECT_EQ(client->RetryTokensAvailable("dynamodb"), 500);
}

TEST_F(ServiceClientTest, ThrottlingWithRetryAfterIsHonoured) {
  service_.Script({{429, R"({"message":"Rate exceeded"})", {{"Retry-After", "3"}}},
                   {400, R"({"__type":"ThrottlingException","message":"slow down"})"},
                   {200, "{}"}});
  AwsReply reply = Client()->Call(PutItem());
  ASSERT_TRUE(reply.ok) << reply.error_message;
  ASSERT_EQ(sleeps_.size(), 2u);
  EXPECT_EQ(sleeps_[0], milliseconds(3000));  // Retry-After beats 0.5 × 500 ms
  EXPECT_EQ(sleeps_[1], milliseconds(500));   // 0.5 × 500 ms × 2
}

TEST_F(ServiceClientTest, ExhaustedRetriesAreTransient) {
  service_.Script({{503, R"({"__type":"ServiceUnavailable","message":"try later"})"}});
  auto client = Client();
  AwsReply reply = client->Call(PutItem());
  EXPECT_FALSE(reply.ok);
  EXPECT_EQ(reply.error_name, "Cairn.Transient");
  EXPECT_EQ(reply.http_status, 503);
  EXPECT_NE(reply.error_message.find("DynamoDB.ServiceUnavailable (HTTP 503): try later"),
            std::string::npos)
      << reply.error_message;
  EXPECT_NE(reply.error_message.find("gave up after 3 attempts"), std::string::npos);
  EXPECT_EQ(service_.count(), 3);
  EXPECT_EQ(sleeps_, (std::vector<milliseconds>{milliseconds(50), milliseconds(100)}));
  EXPECT_EQ(client->RetryTokensAvailable("dynamodb"), 490);
}

TEST_F(ServiceClientTest, MaxAttemptsFromTheEnvironment) {
  service_.Script({{500, "{}"}});
  AwsReply reply = Client({{"AWS_MAX_ATTEMPTS", "5"}})->Call(PutItem());
  EXPECT_EQ(reply.error_name, "Cairn.Transient");
  EXPECT_EQ(service_.count(), 5);
  EXPECT_EQ(sleeps_.size(), 4u);
}

TEST_F(ServiceClientTest, ConnectionResetIsRetried) {
  testing::ResettingServer resetting;
  auto routes = std::make_shared<RoutingHttpClient>(
      std::vector<std::string>{resetting.url(), service_.url()});
  service_.Script({{200, R"({"after":"reset"})"}});
  AwsReply reply = Client({}, routes)->Call(PutItem());
  ASSERT_TRUE(reply.ok) << reply.error_message;
  EXPECT_EQ(reply.body["after"], "reset");
  EXPECT_EQ(resetting.connections(), 1);
  EXPECT_EQ(sleeps_.size(), 1u);
}

TEST_F(ServiceClientTest, ResetsEveryTimeEndTransient) {
  testing::ResettingServer resetting;
  AwsReply reply = Client({{"AWS_ENDPOINT_URL_DYNAMODB", resetting.url()}})->Call(PutItem());
  EXPECT_EQ(reply.error_name, "Cairn.Transient");
  EXPECT_NE(reply.error_message.find("127.0.0.1:" + std::to_string(resetting.port())),
            std::string::npos);
  EXPECT_EQ(resetting.connections(), 3);
}

TEST_F(ServiceClientTest, StallHitsTheTimeoutAndCostsMore) {
  call_options_.timeout = milliseconds(250);
  service_.Script({{200, "{}", {}, /*stall=*/true}});
  auto client = Client({{"AWS_MAX_ATTEMPTS", "2"}});
  AwsReply reply = client->Call(PutItem());
  service_.Release();
  EXPECT_EQ(reply.error_name, "Cairn.Transient");
  EXPECT_NE(reply.error_message.find("timed out"), std::string::npos) << reply.error_message;
  EXPECT_EQ(client->RetryTokensAvailable("dynamodb"), 490);  // one timeout retry: 10 tokens
}

// A service that never answers: each attempt uses up its whole timeout.
class StallingHttpClient final : public HttpClient {
 public:
  explicit StallingHttpClient(FakeClock& clock) : clock_(clock) {}
  Result<HttpResponse> Send(std::string_view, const HttpRequest&,
                            const HttpCallOptions& options) override {
    timeouts.push_back(options.timeout);
    clock_.Advance(options.timeout.count());
    return MakeError("http.timeout", "no answer from 127.0.0.1 in time");
  }
  std::vector<milliseconds> timeouts;

 private:
  FakeClock& clock_;
};

TEST_F(ServiceClientTest, TheStepTimeoutBoundsTheWholeCall) {
  auto stalling = std::make_shared<StallingHttpClient>(clock_);
  AwsCall call = PutItem();
  call.timeout = milliseconds(1000);
  AwsReply reply = Client({{"AWS_MAX_ATTEMPTS", "5"}}, stalling)->Call(call);
  EXPECT_EQ(reply.error_name, "Cairn.Timeout") << reply.error_message;
  EXPECT_NE(reply.error_message.find("1000 ms"), std::string::npos) << reply.error_message;
  // The first attempt may take all of the step's time, not the client's 30 s.
  ASSERT_EQ(stalling->timeouts.size(), 1u);
  EXPECT_EQ(stalling->timeouts[0], milliseconds(1000));
  EXPECT_TRUE(sleeps_.empty());
}

TEST_F(ServiceClientTest, NoRetrySleepsPastTheStepTimeout) {
  service_.Script({{503, R"({"__type":"ServiceUnavailable","message":"try later"})"}});
  retry_.base_delay = milliseconds(100);
  AwsCall call = PutItem();
  call.timeout = milliseconds(40);  // less than the first backoff (0.5 × 100 ms)
  AwsReply reply = Client()->Call(call);
  EXPECT_EQ(reply.error_name, "Cairn.Timeout") << reply.error_message;
  EXPECT_EQ(service_.count(), 1);
  EXPECT_TRUE(sleeps_.empty());
}

TEST_F(ServiceClientTest, QuotaExhaustionStopsRetrying) {
  retry_.initial_tokens = 7;  // pays for one retry (5), not two
  service_.Script({{500, "{}"}});
  auto client = Client();
  AwsReply reply = client->Call(PutItem());
  EXPECT_EQ(reply.error_name, "Cairn.Transient");
  EXPECT_NE(reply.error_message.find("retry quota is used up after 2 attempts"), std::string::npos)
      << reply.error_message;
  EXPECT_EQ(service_.count(), 2);
  EXPECT_EQ(client->RetryTokensAvailable("dynamodb"), 2);
  // The next call gets no retry at all.
  reply = client->Call(PutItem());
  EXPECT_NE(reply.error_message.find("used up after 1 attempt"), std::string::npos)
      << reply.error_message;
  EXPECT_EQ(service_.count(), 3);
  // Successes refill it one token at a time.
  service_.Script({{200, "{}"}});
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(client->Call(PutItem()).ok);
  EXPECT_EQ(client->RetryTokensAvailable("dynamodb"), 5);
}

TEST_F(ServiceClientTest, ExpiredTokenRefreshesCredentialsOnce) {
  service_.Script({{400, R"({"__type":"com.amazon.coral.service#ExpiredTokenException",
                             "message":"The security token included in the request is expired"})"},
                   {200, "{}"}});
  AwsReply reply = Client()->Call(PutItem());
  ASSERT_TRUE(reply.ok) << reply.error_message;
  EXPECT_EQ(credentials_->invalidations.load(), 1);
  EXPECT_EQ(credentials_->resolves.load(), 2);

  service_.Script({{400, R"({"__type":"ExpiredTokenException","message":"expired"})"}});
  reply = Client()->Call(PutItem());
  EXPECT_EQ(reply.error_name, "DynamoDB.ExpiredTokenException");
  EXPECT_NE(
      reply.error_message.find("session token of access key id AKIDTEST (from test) has expired"),
      std::string::npos)
      << reply.error_message;
}

TEST_F(ServiceClientTest, AuthenticationErrorsSayWhatToCheck) {
  service_.Script({{400, R"({"__type":"com.amazon.coral.service#UnrecognizedClientException",
                             "message":"The security token included in the request is invalid."})"}});
  AwsReply reply = Client()->Call(PutItem());
  EXPECT_EQ(reply.error_name, "DynamoDB.UnrecognizedClientException");
  EXPECT_NE(reply.error_message.find("does not know access key id AKIDTEST"), std::string::npos);
  EXPECT_EQ(reply.error_message.find("secret"), std::string::npos);
}

TEST_F(ServiceClientTest, MissingRegionOrCredentials) {
  ServiceClientOptions options;
  options.http = std::make_shared<CurlHttpClient>();
  options.credentials = credentials_;
  options.clock = &clock_;
  options.config = LoadServiceConfig(EnvOf({{"HOME", "/nonexistent"}}));
  AwsReply reply = ServiceClient(std::move(options)).Call(PutItem());
  EXPECT_EQ(reply.error_name, "Cairn.Configuration");
  EXPECT_NE(reply.error_message.find("AWS_REGION"), std::string::npos);

  auto client = MakeDefaultServiceClient(EnvOf({{"HOME", "/nonexistent"},
                                                {"AWS_REGION", "us-east-1"},
                                                {"AWS_ENDPOINT_URL", service_.url()},
                                                {"AWS_EC2_METADATA_DISABLED", "true"}}),
                                         clock_);
  reply = client->Call(PutItem());
  EXPECT_EQ(reply.error_name, "Cairn.Credentials");
  EXPECT_NE(reply.error_message.find("no AWS credentials found"), std::string::npos);
  EXPECT_EQ(service_.count(), 0);
}

TEST_F(ServiceClientTest, DefaultClientSignsWithEnvironmentCredentials) {
  service_.Script({{200, "{}"}});
  auto client = MakeDefaultServiceClient(EnvOf({{"HOME", "/nonexistent"},
                                                {"AWS_REGION", "eu-west-1"},
                                                {"AWS_ENDPOINT_URL_DYNAMODB", service_.url()},
                                                {"AWS_ACCESS_KEY_ID", "AKIDENV"},
                                                {"AWS_SECRET_ACCESS_KEY", "secret"}}),
                                         clock_);
  AwsReply reply = client->Call(PutItem());
  ASSERT_TRUE(reply.ok) << reply.error_message;
  EXPECT_TRUE(service_.request(0)
                  .get_header_value("Authorization")
                  .find("AKIDENV/20251124/eu-west-1/dynamodb") != std::string::npos);
  EXPECT_TRUE(service_.all_signatures_ok());
}

TEST(ServiceConfigTest, EndpointPrecedence) {
  ServiceInfo dynamodb = ServiceInfoFor("dynamodb");
  EXPECT_EQ(dynamodb.env_suffix, "DYNAMODB");
  EXPECT_EQ(ServiceInfoFor("logs").env_suffix, "CLOUDWATCH_LOGS");
  EXPECT_EQ(ServiceInfoFor("logs").config_key, "cloudwatch_logs");
  EXPECT_EQ(ServiceInfoFor("ecs").error_prefix, "ECS");
  EXPECT_EQ(ServiceInfoFor("lambda").error_prefix, "Lambda");

  char dir_template[] = "/tmp/cairn-endpoint-XXXXXX";
  std::string dir = mkdtemp(dir_template);
  std::string config_path = dir + "/config";
  std::ofstream(config_path)
      << "[default]\nregion = eu-central-1\nendpoint_url = http://127.0.0.1:4000\n"
         "services = local\n[services local]\ndynamodb =\n  endpoint_url = "
         "http://127.0.0.1:8000/\n";
  std::map<std::string, std::string> vars{{"HOME", dir}, {"AWS_CONFIG_FILE", config_path}};
  auto resolve = [&](const std::string& service) {
    Result<ServiceConfig> config = LoadServiceConfig(EnvOf(vars));
    EXPECT_TRUE(config.ok());
    Result<std::string> url = ResolveEndpoint(*config, ServiceInfoFor(service), config->region);
    return url.ok() ? *url : "error: " + url.error().message;
  };
  EXPECT_EQ(resolve("dynamodb"), "http://127.0.0.1:8000");  // services section
  EXPECT_EQ(resolve("ecs"), "http://127.0.0.1:4000");       // profile endpoint_url
  vars["AWS_ENDPOINT_URL"] = "http://127.0.0.1:5000";
  EXPECT_EQ(resolve("dynamodb"), "http://127.0.0.1:5000");  // environment beats files
  vars["AWS_ENDPOINT_URL_DYNAMODB"] = "http://127.0.0.1:6000";
  EXPECT_EQ(resolve("dynamodb"), "http://127.0.0.1:6000");
  EXPECT_EQ(resolve("ecs"), "http://127.0.0.1:5000");
  vars["AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"] = "true";
  EXPECT_EQ(resolve("dynamodb"), "https://dynamodb.eu-central-1.amazonaws.com");
  vars["AWS_REGION"] = "cn-north-1";
  EXPECT_EQ(resolve("ecs"), "https://ecs.cn-north-1.amazonaws.com.cn");
  vars.erase("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
  vars["AWS_ENDPOINT_URL_ECS"] = "http://127.0.0.1:1/some/path";
  EXPECT_TRUE(resolve("ecs").starts_with("error: AWS_ENDPOINT_URL_ECS"));

  // Region order.
  vars = {{"HOME", dir}, {"AWS_CONFIG_FILE", config_path}};
  EXPECT_EQ(LoadServiceConfig(EnvOf(vars))->region, "eu-central-1");
  vars["AWS_DEFAULT_REGION"] = "us-west-1";
  EXPECT_EQ(LoadServiceConfig(EnvOf(vars))->region, "us-west-1");
  vars["AWS_REGION"] = "us-east-2";
  EXPECT_EQ(LoadServiceConfig(EnvOf(vars))->region, "us-east-2");
  vars["AWS_MAX_ATTEMPTS"] = "zero";
  EXPECT_FALSE(LoadServiceConfig(EnvOf(vars)).ok());
  std::filesystem::remove_all(dir);
}

TEST(RetryStrategyTest, BackoffAndClassification) {
  RetryOptions options;
  EXPECT_EQ(BackoffDelay(1, RetryKind::kTransient, 0.5, options), milliseconds(50));
  EXPECT_EQ(BackoffDelay(3, RetryKind::kTransient, 0.5, options), milliseconds(200));
  EXPECT_EQ(BackoffDelay(1, RetryKind::kThrottling, 0.999, options), milliseconds(499));
  EXPECT_EQ(BackoffDelay(30, RetryKind::kThrottling, 0.5, options),
            milliseconds(10000));  // 20 s cap
  EXPECT_EQ(BackoffDelay(1, RetryKind::kTransient, 0.0, options, milliseconds(60000)),
            milliseconds(20000));
  EXPECT_EQ(ClassifyResponse(400, "ProvisionedThroughputExceededException"),
            RetryKind::kThrottling);
  EXPECT_EQ(ClassifyResponse(400, "RequestLimitExceeded"), RetryKind::kThrottling);
  EXPECT_EQ(ClassifyResponse(429, "Whatever"), RetryKind::kThrottling);
  EXPECT_EQ(ClassifyResponse(502, ""), RetryKind::kTransient);
  EXPECT_EQ(ClassifyResponse(400, "ValidationException"), RetryKind::kNone);
  EXPECT_EQ(ClassifyResponse(501, ""), RetryKind::kNone);
  EXPECT_EQ(ClassifyTransportError("http.timeout"), RetryKind::kTimeout);
  EXPECT_EQ(ClassifyTransportError("http.connect"), RetryKind::kTransient);
}

TEST(AwsErrorTest, Shapes) {
  HttpResponse xml{
      403,
      {},
      "<ErrorResponse><Error><Code>SignatureDoesNotMatch</Code><Message>bad sig</Message>"
      "</Error></ErrorResponse>"};
  ServiceError error = ParseServiceError(xml);
  EXPECT_EQ(error.code, "SignatureDoesNotMatch");
  EXPECT_EQ(error.message, "bad sig");
  EXPECT_NE(DescribeServiceError(error, 403, "AKID", "environment")
                .find("secret access key of access key id AKID"),
            std::string::npos);
  HttpResponse code_field{400, {}, R"({"code":"InvalidParameterValueException","message":"m"})"};
  EXPECT_EQ(ParseServiceError(code_field).code, "InvalidParameterValueException");
  HttpResponse empty{502, {}, ""};
  EXPECT_EQ(ParseServiceError(empty).code, "UnknownError");
  EXPECT_EQ(DescribeServiceError(ParseServiceError(empty), 502, "AKID", "x"), "HTTP 502");
}

}  // namespace
}  // namespace cairn::aws
