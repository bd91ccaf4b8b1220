#include "aws/credentials_provider.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "aws/curl_http_client.h"
#include "aws/test_servers.h"

namespace cairn::aws {
namespace {

namespace fs = std::filesystem;
using testing::LocalHttpServer;

EnvironmentLookup EnvOf(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

class TempDir {
 public:
  TempDir() {
    std::string templ = (fs::temp_directory_path() / "cairn-aws-XXXXXX").string();
    path_ = mkdtemp(templ.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }
  std::string Write(const std::string& name, const std::string& text,
                    bool executable = false) const {
    fs::path file = path_ / name;
    std::ofstream(file) << text;
    if (executable) chmod(file.c_str(), 0755);
    return file.string();
  }

 private:
  fs::path path_;
};

TEST(SharedConfigTest, ParsesProfilesServicesAndComments) {
  SharedConfig config;
  ParseSharedConfigText(
      "# comment\n[default]\nregion = eu-west-1 ; inline\nAWS_Access_Key_Id=AKIDCONFIG\n"
      "[profile dev]\nregion=us-west-2\nservices = local\n"
      "[services local]\ndynamodb =\n  endpoint_url = http://127.0.0.1:8000\necs =\n"
      "  endpoint_url = http://127.0.0.1:5000 # moto\n"
      "[sso-session x]\nsso_region = us-east-1\n[notaprofile]\nregion = nowhere\n",
      /*is_config_file=*/true, config);
  EXPECT_EQ(config.Get("default", "region"), "eu-west-1");
  EXPECT_EQ(config.Get("default", "aws_access_key_id"), "AKIDCONFIG");
  EXPECT_EQ(config.Get("dev", "region"), "us-west-2");
  EXPECT_EQ(config.Get("dev", "services"), "local");
  EXPECT_EQ(config.services["local"]["dynamodb.endpoint_url"], "http://127.0.0.1:8000");
  EXPECT_EQ(config.services["local"]["ecs.endpoint_url"], "http://127.0.0.1:5000");
  EXPECT_EQ(config.FindProfile("notaprofile"), nullptr);
  EXPECT_EQ(config.FindProfile("x"), nullptr);

  // The credentials file: [name] sections, and its values win.
  ParseSharedConfigText(
      "[default]\naws_access_key_id = AKIDCREDS\n[dev]\naws_secret_access_key = s\n",
      /*is_config_file=*/false, config);
  EXPECT_EQ(config.Get("default", "aws_access_key_id"), "AKIDCREDS");
  EXPECT_EQ(config.Get("default", "region"), "eu-west-1");
  EXPECT_EQ(config.Get("dev", "aws_secret_access_key"), "s");
}

TEST(SharedConfigTest, FileLocationsFromEnvironmentAndHome) {
  TempDir dir;
  fs::create_directories(dir.path() / ".aws");
  dir.Write(".aws/config", "[default]\nregion = ap-south-1\n");
  dir.Write("other-credentials", "[default]\naws_access_key_id = AKIDOTHER\n");
  Result<SharedConfig> config = LoadSharedConfig(
      EnvOf({{"HOME", dir.path().string()},
             {"AWS_SHARED_CREDENTIALS_FILE", (dir.path() / "other-credentials").string()}}));
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->Get("default", "region"), "ap-south-1");
  EXPECT_EQ(config->Get("default", "aws_access_key_id"), "AKIDOTHER");
  // Missing files are empty files.
  Result<SharedConfig> empty =
      LoadSharedConfig(EnvOf({{"HOME", (dir.path() / "nothing").string()}}));
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->profiles.empty());
}

TEST(EnvironmentCredentialsTest, NeedsBothKeys) {
  auto provider = MakeEnvironmentCredentialsProvider(EnvOf({{"AWS_ACCESS_KEY_ID", "AKIDENV"},
                                                            {"AWS_SECRET_ACCESS_KEY", "s"},
                                                            {"AWS_SESSION_TOKEN", "t"}}));
  Result<ProvidedCredentials> found = provider->Resolve();
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->credentials.access_key_id(), "AKIDENV");
  EXPECT_EQ(found->credentials.secret_access_key_for_signing(), "s");
  EXPECT_EQ(found->credentials.session_token(), "t");
  EXPECT_EQ(found->source, "environment");
  Result<ProvidedCredentials> half =
      MakeEnvironmentCredentialsProvider(EnvOf({{"AWS_ACCESS_KEY_ID", "AKID"}}))->Resolve();
  ASSERT_FALSE(half.ok());
  EXPECT_EQ(half.error().code, "credentials.absent");
}

class ChainTest : public ::testing::Test {
 protected:
  CredentialsChainOptions Options(std::map<std::string, std::string> vars) {
    vars.emplace("HOME", dir_.path().string());
    vars.emplace("AWS_EC2_METADATA_DISABLED", "true");
    CredentialsChainOptions options;
    options.env = EnvOf(std::move(vars));
    options.http = http_;
    return options;
  }
  TempDir dir_;
  std::shared_ptr<CurlHttpClient> http_ = std::make_shared<CurlHttpClient>();
  FakeClock clock_;
};

TEST_F(ChainTest, ProfileFromCredentialsAndConfigFiles) {
  std::string credentials = dir_.Write("credentials",
                                       "[default]\naws_access_key_id = AKIDDEFAULT\n"
                                       "aws_secret_access_key = secret-default\n");
  std::string config = dir_.Write("config",
                                  "[profile dev]\naws_access_key_id = AKIDDEV\n"
                                  "aws_secret_access_key = secret-dev\naws_session_token = tok\n");
  auto options =
      Options({{"AWS_SHARED_CREDENTIALS_FILE", credentials}, {"AWS_CONFIG_FILE", config}});
  Result<ProvidedCredentials> by_default = MakeProfileCredentialsProvider(options)->Resolve();
  ASSERT_TRUE(by_default.ok()) << by_default.error().message;
  EXPECT_EQ(by_default->credentials.access_key_id(), "AKIDDEFAULT");
  EXPECT_EQ(by_default->source, "profile default");

  options = Options({{"AWS_SHARED_CREDENTIALS_FILE", credentials},
                     {"AWS_CONFIG_FILE", config},
                     {"AWS_PROFILE", "dev"}});
  Result<ProvidedCredentials> dev = MakeProfileCredentialsProvider(options)->Resolve();
  ASSERT_TRUE(dev.ok()) << dev.error().message;
  EXPECT_EQ(dev->credentials.access_key_id(), "AKIDDEV");
  EXPECT_EQ(dev->credentials.session_token(), "tok");

  options = Options({{"AWS_SHARED_CREDENTIALS_FILE", credentials},
                     {"AWS_CONFIG_FILE", config},
                     {"AWS_PROFILE", "nope"}});
  Result<ProvidedCredentials> missing = MakeProfileCredentialsProvider(options)->Resolve();
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, "credentials");
  EXPECT_NE(missing.error().message.find("profile 'nope'"), std::string::npos);
}

TEST_F(ChainTest, AssumeRoleProfilesAreReportedAsUnsupported) {
  std::string config =
      dir_.Write("config", "[default]\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = b\n");
  Result<ProvidedCredentials> result =
      MakeProfileCredentialsProvider(Options({{"AWS_CONFIG_FILE", config}}))->Resolve();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, "credentials");
  EXPECT_NE(result.error().message.find("does not support"), std::string::npos);
}

TEST_F(ChainTest, CredentialProcessRunsARealScript) {
  std::string script =
      dir_.Write("creds.sh",
                 "#!/bin/sh\necho 'helper on stderr' >&2\n"
                 "printf '{\"Version\": 1, \"AccessKeyId\": \"AKIDPROC\", \"SecretAccessKey\": "
                 "\"secret-%s\", \"SessionToken\": \"tok\", \"Expiration\": "
                 "\"2030-01-02T03:04:05Z\"}' \"$1\"\n",
                 /*executable=*/true);
  std::string config =
      dir_.Write("config", "[profile p]\ncredential_process = " + script + " arg1\n");
  auto options = Options({{"AWS_CONFIG_FILE", config}, {"AWS_PROFILE", "p"}});
  Result<ProvidedCredentials> result = MakeProfileCredentialsProvider(options)->Resolve();
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->credentials.access_key_id(), "AKIDPROC");
  EXPECT_EQ(result->credentials.secret_access_key_for_signing(), "secret-arg1");
  EXPECT_EQ(result->credentials.session_token(), "tok");
  ASSERT_TRUE(result->expiration.has_value());
  EXPECT_EQ(*result->expiration, ParseIso8601("2030-01-02T03:04:05Z"));
  EXPECT_EQ(result->source, "profile p (credential_process)");
}

TEST_F(ChainTest, FailingCredentialProcessStopsTheChain) {
  std::string script =
      dir_.Write("fail.sh", "#!/bin/sh\necho '{\"AccessKeyId\":\"LEAKED\"}'\nexit 3\n", true);
  std::string config = dir_.Write("config", "[default]\ncredential_process = " + script + "\n");
  // Container credentials are configured too, but the chain must stop at
  // the broken profile, as the SDKs do.
  auto chain = MakeDefaultCredentialsChain(
      Options({{"AWS_CONFIG_FILE", config},
               {"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:1/x"}}),
      clock_);
  Result<ProvidedCredentials> result = chain->Resolve();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, "credentials");
  EXPECT_NE(result.error().message.find("exited with status 3"), std::string::npos)
      << result.error().message;
  EXPECT_EQ(result.error().message.find("LEAKED"), std::string::npos);
}

TEST(CredentialProcessTest, TimeoutKillsTheProcess) {
  auto start = std::chrono::steady_clock::now();
  Result<std::string> result =
      RunCredentialProcess("sleep 5; echo late", std::chrono::milliseconds(200));
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().message.find("did not finish within 200 ms"), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
}

TEST(CredentialProcessTest, CapturesStdout) {
  Result<std::string> result = RunCredentialProcess("printf 'a b'; printf ' c'");
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(*result, "a b c");
}

TEST_F(ChainTest, ContainerEndpointWithTokenFile) {
  LocalHttpServer server;
  std::atomic<int> calls{0};
  server.server().Get(
      "/v2/credentials/abc", [&](const httplib::Request& req, httplib::Response& res) {
        ++calls;
        if (req.get_header_value("Authorization") != "container-token") {
          res.status = 401;
          return;
        }
        res.set_content(R"({"AccessKeyId":"AKIDCONTAINER","SecretAccessKey":"s","Token":"t",
                        "Expiration":"2030-01-01T00:00:00Z","RoleArn":"arn"})",
                        "application/json");
      });
  ASSERT_TRUE(server.Start());
  std::string token_file = dir_.Write("token", "container-token\n");
  auto options =
      Options({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", server.url() + "/v2/credentials/abc"},
               {"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", token_file},
               {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "wrong"}});
  Result<ProvidedCredentials> result = MakeDefaultCredentialsChain(options, clock_)->Resolve();
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->credentials.access_key_id(), "AKIDCONTAINER");
  EXPECT_EQ(result->credentials.session_token(), "t");
  EXPECT_EQ(result->source, "container endpoint");

  // The relative form, with the link-local base pointed at the test server.
  options = Options({{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/abc"},
                     {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "container-token"}});
  options.container_relative_base = server.url();
  result = MakeContainerCredentialsProvider(options)->Resolve();
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(calls.load(), 2);

  // A wrong token: the endpoint's 401 is an error that stops the chain.
  options = Options({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", server.url() + "/v2/credentials/abc"},
                     {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "wrong"}});
  result = MakeDefaultCredentialsChain(options, clock_)->Resolve();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, "credentials");
  EXPECT_NE(result.error().message.find("HTTP 401"), std::string::npos) << result.error().message;
  EXPECT_EQ(result.error().message.find("wrong"), std::string::npos);
}

TEST_F(ChainTest, ContainerFullUriOverPlainHttpMustBeLocal) {
  auto options = Options({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://198.51.100.7/creds"}});
  Result<ProvidedCredentials> result = MakeContainerCredentialsProvider(options)->Resolve();
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().message.find("plain http"), std::string::npos);
}

class ImdsTest : public ChainTest {
 protected:
  void SetUp() override {
    server_.server().Put(
        "/latest/api/token", [this](const httplib::Request& req, httplib::Response& res) {
          ++token_calls_;
          if (req.get_header_value("X-aws-ec2-metadata-token-ttl-seconds") != "21600") {
            res.status = 400;
            return;
          }
          res.set_content("imds-session-token", "text/plain");
        });
    auto authorized = [](const httplib::Request& req, httplib::Response& res) {
      if (req.get_header_value("X-aws-ec2-metadata-token") == "imds-session-token") return true;
      res.status = 401;
      return false;
    };
    server_.server().Get("/latest/meta-data/iam/security-credentials/",
                         [authorized](const httplib::Request& req, httplib::Response& res) {
                           if (authorized(req, res)) res.set_content("my-role\n", "text/plain");
                         });
    server_.server().Get("/latest/meta-data/iam/security-credentials/my-role",
                         [authorized](const httplib::Request& req, httplib::Response& res) {
                           if (!authorized(req, res)) return;
                           res.set_content(
                               R"({"Code":"Success","Type":"AWS-HMAC","AccessKeyId":"AKIDIMDS",
                              "SecretAccessKey":"s","Token":"t","Expiration":"2026-11-24T00:00:00Z"})",
                               "application/json");
                         });
    ASSERT_TRUE(server_.Start());
  }
  // Closes the client's kept-alive connections before the server stops.
  void TearDown() override { http_.reset(); }
  LocalHttpServer server_;
  std::atomic<int> token_calls_{0};
};

TEST_F(ImdsTest, TokenThenRoleThenCredentials) {
  auto options = Options({{"AWS_EC2_METADATA_DISABLED", "false"},
                          {"AWS_EC2_METADATA_SERVICE_ENDPOINT", server_.url() + "/"}});
  Result<ProvidedCredentials> result = MakeDefaultCredentialsChain(options, clock_)->Resolve();
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->credentials.access_key_id(), "AKIDIMDS");
  EXPECT_EQ(result->source, "EC2 instance metadata");
  EXPECT_EQ(result->expiration, ParseIso8601("2026-11-24T00:00:00Z"));
  EXPECT_EQ(token_calls_.load(), 1);
}

TEST_F(ImdsTest, DisabledOrUnreachableMeansNoCredentials) {
  auto disabled = Options({{"AWS_EC2_METADATA_DISABLED", "TRUE"},
                           {"AWS_EC2_METADATA_SERVICE_ENDPOINT", server_.url()}});
  Result<ProvidedCredentials> result = MakeDefaultCredentialsChain(disabled, clock_)->Resolve();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, "credentials");
  EXPECT_NE(result.error().message.find("no AWS credentials found"), std::string::npos);
  EXPECT_NE(result.error().message.find("AWS_EC2_METADATA_DISABLED"), std::string::npos);
  EXPECT_EQ(token_calls_.load(), 0);

  auto unreachable = Options({{"AWS_EC2_METADATA_DISABLED", "false"},
                              {"AWS_EC2_METADATA_SERVICE_ENDPOINT",
                               "http://127.0.0.1:" + std::to_string(testing::UnusedPort())}});
  result = MakeImdsCredentialsProvider(unreachable)->Resolve();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, "credentials.absent");
}

TEST_F(ChainTest, EnvironmentComesFirst) {
  std::string credentials = dir_.Write("credentials",
                                       "[default]\naws_access_key_id = AKIDFILE\n"
                                       "aws_secret_access_key = s\n");
  auto options = Options({{"AWS_SHARED_CREDENTIALS_FILE", credentials},
                          {"AWS_ACCESS_KEY_ID", "AKIDENV"},
                          {"AWS_SECRET_ACCESS_KEY", "s"}});
  Result<ProvidedCredentials> result = MakeDefaultCredentialsChain(options, clock_)->Resolve();
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->credentials.access_key_id(), "AKIDENV");
}

// Counts calls and hands out credentials expiring an hour after "now".
class CountingProvider final : public CredentialsProvider {
 public:
  explicit CountingProvider(const FakeClock& clock) : clock_(clock) {}
  Result<ProvidedCredentials> Resolve() override {
    int n = ++calls;
    if (fail) return MakeError("credentials", "endpoint down");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return ProvidedCredentials{
        Credentials("AKID" + std::to_string(n), "s", "t"),
        std::chrono::floor<std::chrono::seconds>(std::chrono::sys_time<std::chrono::milliseconds>(
            std::chrono::milliseconds(clock_.NowMillis()))) +
            std::chrono::hours(1),
        "counting"};
  }
  std::atomic<int> calls{0};
  std::atomic<bool> fail{false};

 private:
  const FakeClock& clock_;
};

TEST(CachingCredentialsTest, RefreshesFiveMinutesBeforeExpiry) {
  FakeClock clock;
  auto counting = std::make_unique<CountingProvider>(clock);
  CountingProvider& inner = *counting;
  CachingCredentialsProvider cache(std::move(counting), clock);

  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] { ASSERT_TRUE(cache.Resolve().ok()); });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(inner.calls.load(), 1);

  clock.Advance(54 * 60 * 1000);  // 6 minutes before expiry: still cached
  EXPECT_EQ(cache.Resolve()->credentials.access_key_id(), "AKID1");
  clock.Advance(2 * 60 * 1000);  // 4 minutes before: refreshed
  EXPECT_EQ(cache.Resolve()->credentials.access_key_id(), "AKID2");
  EXPECT_EQ(inner.calls.load(), 2);

  // A failed refresh keeps credentials that have not expired yet...
  inner.fail = true;
  clock.Advance(57 * 60 * 1000);
  Result<ProvidedCredentials> still = cache.Resolve();
  ASSERT_TRUE(still.ok());
  EXPECT_EQ(still->credentials.access_key_id(), "AKID2");
  // ...but not expired ones.
  clock.Advance(5 * 60 * 1000);
  EXPECT_FALSE(cache.Resolve().ok());
  inner.fail = false;
  cache.Invalidate();
  EXPECT_TRUE(cache.Resolve().ok());
}

TEST(Iso8601Test, Forms) {
  using std::chrono::sys_days;
  EXPECT_EQ(ParseIso8601("2030-01-02T03:04:05Z"),
            sys_days(std::chrono::year(2030) / 1 / 2) + std::chrono::hours(3) +
                std::chrono::minutes(4) + std::chrono::seconds(5));
  EXPECT_EQ(ParseIso8601("2030-01-02T03:04:05.123Z"), ParseIso8601("2030-01-02T03:04:05Z"));
  EXPECT_EQ(ParseIso8601("2030-01-02T05:04:05+02:00"), ParseIso8601("2030-01-02T03:04:05Z"));
  EXPECT_FALSE(ParseIso8601("2030-02-30T03:04:05Z").has_value());
  EXPECT_FALSE(ParseIso8601("2030-01-02 03:04").has_value());
  EXPECT_FALSE(ParseIso8601("2030-01-02T03:04:05").has_value());
}

}  // namespace
}  // namespace cairn::aws
