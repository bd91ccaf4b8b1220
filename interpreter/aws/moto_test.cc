// ServiceClient against moto_server with signature verification on: the
// real check that what cairn signs, a SigV4 implementation it did not write
// accepts, and that a wrong secret or an altered request is refused.
//
// moto_server is on the machine image (pyenv), not in the package
// registries: without it these tests skip, saying so.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>

#include "aws/curl_http_client.h"
#include "aws/service_client.h"
#include "aws/sigv4.h"
#include "aws/test_servers.h"

extern char** environ;

namespace cairn::aws {
namespace {

using std::chrono::milliseconds;

std::string XmlElement(const std::string& body, const std::string& tag) {
  size_t start = body.find("<" + tag + ">");
  if (start == std::string::npos) return "";
  start += tag.size() + 2;
  return body.substr(start, body.find("</" + tag + ">", start) - start);
}

// moto_server on a free 127.0.0.1 port with signature checking after the
// first four (unauthenticated) actions, which create an IAM user, an
// allow-all policy attached to it, and its access key.
class MotoServer {
 public:
  static MotoServer* Get() {
    // Shared by the tests of one process; its destructor (at exit) stops
    // the server.
    static MotoServer server;
    return &server;
  }
  bool ok() const { return !error_.empty() ? false : true; }
  const std::string& error() const { return error_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  const std::string& access_key_id() const { return access_key_id_; }
  const std::string& secret() const { return secret_; }

  ~MotoServer() {
    if (pid_ <= 0) return;
    kill(-pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) break;
      std::this_thread::sleep_for(milliseconds(50));
    }
    kill(-pid_, SIGKILL);  // whatever of the group is left
    waitpid(pid_, nullptr, WNOHANG);
  }

 private:
  MotoServer() {
    // A port freed by UnusedPort may be taken by someone else before moto
    // binds it; moto then exits, and we try another port.
    for (int attempt = 0; attempt < 3; ++attempt) {
      Start start = StartOnce();
      if (start == Start::kUp) {
        SetUpIam();
        return;
      }
      if (start == Start::kFailed) return;
    }
  }

  enum class Start { kUp, kExited, kFailed };

  Start StartOnce() {
    const std::string moto = "moto_server";
    const std::string absent =
        "moto_server is not on PATH: it ships with moto 5.x on the machine image (pyenv shims); "
        "no package registry here provides it";
    port_ = testing::UnusedPort();
    std::vector<std::string> env_strings{"INITIAL_NO_AUTH_ACTION_COUNT=4"};
    for (char** e = environ; *e != nullptr; ++e) {
      if (std::string_view(*e).starts_with("INITIAL_NO_AUTH_ACTION_COUNT=")) continue;
      env_strings.emplace_back(*e);
    }
    std::vector<char*> envp;
    for (std::string& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::string port = std::to_string(port_);
    const char* argv[] = {moto.c_str(), "-H", "127.0.0.1", "-p", port.c_str(), nullptr};
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    // Its own process group: the pyenv shim may leave python as a child of
    // the pid we get, and the whole group must stop with the test.
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    int rc = posix_spawnp(&pid_, moto.c_str(), &actions, &attr, const_cast<char* const*>(argv),
                          envp.data());
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      error_ =
          rc == ENOENT ? absent : "cannot start moto_server: " + std::string(std::strerror(rc));
      pid_ = 0;
      return Start::kFailed;
    }
    HttpRequest ping{
        .method = "GET", .path = "/moto-api/", .headers = {{"Host", "127.0.0.1:" + port}}};
    for (int i = 0; i < 300; ++i) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {  // port taken, or a shim without moto
        kill(-pid_, SIGKILL);
        pid_ = 0;
        error_ = absent + " (moto_server exited at start)";
        return Start::kExited;
      }
      Result<HttpResponse> response =
          http_.Send(url(), ping, {milliseconds(500), milliseconds(2000)});
      if (response.ok() && response->status == 200) {
        error_.clear();
        return Start::kUp;
      }
      std::this_thread::sleep_for(milliseconds(100));
    }
    error_ = "moto_server did not answer on " + url() + " within 30 s";
    return Start::kFailed;
  }

  // One IAM (query protocol) action, signed by hand with any credentials
  // (these are the unauthenticated ones).
  Result<std::string> Iam(const std::string& query_body) {
    HttpRequest request{
        .method = "POST",
        .path = "/",
        .headers = {{"Host", "127.0.0.1:" + std::to_string(port_)},
                    {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}},
        .body = query_body + "&Version=2010-05-08"};
    Result<SignedRequest> signed_request = SignRequest(
        request, Credentials("AKIDBOOTSTRAP", "bootstrap"),
        std::chrono::sys_seconds(std::chrono::seconds(SystemClock::Instance().NowMillis() / 1000)),
        "us-east-1", "iam");
    if (!signed_request.ok()) return signed_request.error();
    Result<HttpResponse> response = http_.Send(url(), signed_request->request, HttpCallOptions{});
    if (!response.ok()) return response.error();
    if (response->status != 200)
      return MakeError("iam", "HTTP " + std::to_string(response->status) + ": " + response->body);
    return response->body;
  }

  void SetUpIam() {
    const std::string policy =
        "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%"
        "2C"
        "%22Action%22%3A%22%2A%22%2C%22Resource%22%3A%22%2A%22%7D%5D%7D";
    Result<std::string> user = Iam("Action=CreateUser&UserName=cairn");
    Result<std::string> created =
        Iam("Action=CreatePolicy&PolicyName=all&PolicyDocument=" + policy);
    if (!user.ok() || !created.ok()) {
      error_ = "IAM setup failed: " + (!user.ok() ? user.error().message : created.error().message);
      return;
    }
    std::string arn = XmlElement(*created, "Arn");
    std::string encoded_arn;
    for (char c : arn)
      encoded_arn += (c == ':'   ? std::string("%3A")
                      : c == '/' ? std::string("%2F")
                                 : std::string(1, c));
    Result<std::string> attached =
        Iam("Action=AttachUserPolicy&UserName=cairn&PolicyArn=" + encoded_arn);
    Result<std::string> key = Iam("Action=CreateAccessKey&UserName=cairn");
    if (!attached.ok() || !key.ok()) {
      error_ =
          "IAM setup failed: " + (!attached.ok() ? attached.error().message : key.error().message);
      return;
    }
    access_key_id_ = XmlElement(*key, "AccessKeyId");
    secret_ = XmlElement(*key, "SecretAccessKey");
    if (access_key_id_.empty() || secret_.empty())
      error_ = "CreateAccessKey returned no key: " + *key;
  }

  CurlHttpClient http_;
  pid_t pid_ = 0;
  int port_ = 0;
  std::string error_;
  std::string access_key_id_;
  std::string secret_;
};

// Changes the body after signing, as an attacker in the middle would.
class TamperingHttpClient final : public HttpClient {
 public:
  Result<HttpResponse> Send(std::string_view base_url, const HttpRequest& request,
                            const HttpCallOptions& options) override {
    HttpRequest changed = request;
    changed.body.insert(changed.body.size() - 1, ",\"ReturnConsumedCapacity\":\"TOTAL\"");
    return curl_.Send(base_url, changed, options);
  }

 private:
  CurlHttpClient curl_;
};

class MotoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    moto_ = MotoServer::Get();
    if (!moto_->ok()) GTEST_SKIP() << moto_->error();
  }

  std::unique_ptr<ServiceClient> Client(const std::string& secret,
                                        std::shared_ptr<HttpClient> http = nullptr) {
    ServiceClientOptions options;
    options.http = http ? http : std::make_shared<CurlHttpClient>();
    options.credentials = std::make_shared<StaticCredentialsProvider>(
        Credentials(moto_->access_key_id(), secret), "moto IAM user");
    options.clock = &SystemClock::Instance();
    std::string endpoint = moto_->url();
    options.config =
        LoadServiceConfig([endpoint](std::string_view name) -> std::optional<std::string> {
          if (name == "AWS_REGION") return "us-east-1";
          if (name == "AWS_ENDPOINT_URL") return endpoint;
          if (name == "HOME") return "/nonexistent";
          return std::nullopt;
        });
    options.sleep = [](milliseconds) {};
    return std::make_unique<ServiceClient>(std::move(options));
  }

  static AwsCall Dynamo(const std::string& operation, nlohmann::json body) {
    AwsCall call;
    call.service = "dynamodb";
    call.protocol = AwsProtocol::kJson10;
    call.target = "DynamoDB_20120810." + operation;
    call.body = std::move(body);
    return call;
  }

  MotoServer* moto_ = nullptr;
};

TEST_F(MotoTest, SignedDynamoDbCallsAreAccepted) {
  auto client = Client(moto_->secret());
  AwsReply created = client->Call(Dynamo(
      "CreateTable", {{"TableName", "records"},
                      {"KeySchema", {{{"AttributeName", "pk"}, {"KeyType", "HASH"}}}},
                      {"AttributeDefinitions", {{{"AttributeName", "pk"}, {"AttributeType", "S"}}}},
                      {"BillingMode", "PAY_PER_REQUEST"}}));
  ASSERT_TRUE(created.ok) << created.error_name << ": " << created.error_message;
  EXPECT_EQ(created.body["TableDescription"]["TableName"], "records");

  nlohmann::json item = {{"pk", {{"S", "order-1"}}}, {"state", {{"S", "NEW"}}}};
  AwsReply put = client->Call(Dynamo("PutItem", {{"TableName", "records"}, {"Item", item}}));
  ASSERT_TRUE(put.ok) << put.error_name << ": " << put.error_message;
  AwsReply got = client->Call(
      Dynamo("GetItem", {{"TableName", "records"}, {"Key", {{"pk", {{"S", "order-1"}}}}}}));
  ASSERT_TRUE(got.ok) << got.error_message;
  EXPECT_EQ(got.body["Item"], item);

  AwsReply again =
      client->Call(Dynamo("PutItem", {{"TableName", "records"},
                                      {"Item", item},
                                      {"ConditionExpression", "attribute_not_exists(pk)"}}));
  EXPECT_FALSE(again.ok);
  EXPECT_EQ(again.error_name, "DynamoDB.ConditionalCheckFailedException");
  EXPECT_EQ(again.http_status, 400);
}

TEST_F(MotoTest, SignedEcsCallsAreAccepted) {
  auto client = Client(moto_->secret());
  AwsCall create;
  create.service = "ecs";
  create.protocol = AwsProtocol::kJson11;
  create.target = "AmazonEC2ContainerServiceV20141113.CreateCluster";
  create.body = {{"clusterName", "cairn-workers"}};
  AwsReply created = client->Call(create);
  ASSERT_TRUE(created.ok) << created.error_name << ": " << created.error_message;
  EXPECT_EQ(created.body["cluster"]["clusterName"], "cairn-workers");

  AwsCall describe = create;
  describe.target = "AmazonEC2ContainerServiceV20141113.DescribeTasks";
  describe.body = {{"cluster", "no-such-cluster"}, {"tasks", {"t"}}};
  AwsReply missing = client->Call(describe);
  EXPECT_FALSE(missing.ok);
  EXPECT_EQ(missing.error_name, "ECS.ClusterNotFoundException") << missing.error_message;
}

TEST_F(MotoTest, WrongSecretIsRefusedAsSignatureDoesNotMatch) {
  auto client = Client(moto_->secret() + "x");
  AwsReply reply = client->Call(Dynamo("ListTables", nlohmann::json::object()));
  EXPECT_FALSE(reply.ok);
  EXPECT_EQ(reply.http_status, 403);
  EXPECT_EQ(reply.error_name, "DynamoDB.SignatureDoesNotMatch") << reply.error_message;
  EXPECT_NE(reply.error_message.find(
                "the signature was rejected: the secret access key of access key id " +
                moto_->access_key_id()),
            std::string::npos)
      << reply.error_message;
  EXPECT_EQ(reply.error_message.find(moto_->secret()), std::string::npos);
}

TEST_F(MotoTest, AlteredRequestIsRefused) {
  auto client = Client(moto_->secret(), std::make_shared<TamperingHttpClient>());
  AwsReply reply = client->Call(Dynamo("ListTables", nlohmann::json::object()));
  EXPECT_FALSE(reply.ok);
  EXPECT_EQ(reply.error_name, "DynamoDB.SignatureDoesNotMatch") << reply.error_message;
}

TEST_F(MotoTest, UnknownAccessKeyIsRefused) {
  ServiceClientOptions options;
  auto client = Client(moto_->secret());
  // Same secret, another key id: the service does not know the key.
  options.http = std::make_shared<CurlHttpClient>();
  options.credentials = std::make_shared<StaticCredentialsProvider>(
      Credentials("AKIAUNKNOWNKEY000000", moto_->secret()), "test");
  options.clock = &SystemClock::Instance();
  std::string endpoint = moto_->url();
  options.config =
      LoadServiceConfig([endpoint](std::string_view name) -> std::optional<std::string> {
        if (name == "AWS_REGION") return "us-east-1";
        if (name == "AWS_ENDPOINT_URL") return endpoint;
        return std::nullopt;
      });
  AwsReply reply =
      ServiceClient(std::move(options)).Call(Dynamo("ListTables", nlohmann::json::object()));
  EXPECT_FALSE(reply.ok);
  EXPECT_EQ(reply.http_status, 403);
  EXPECT_TRUE(reply.error_name == "DynamoDB.UnrecognizedClientException" ||
              reply.error_name == "DynamoDB.InvalidClientTokenId")
      << reply.error_name << ": " << reply.error_message;
  EXPECT_NE(reply.error_message.find("does not know access key id AKIAUNKNOWNKEY000000"),
            std::string::npos);
}

}  // namespace
}  // namespace cairn::aws
