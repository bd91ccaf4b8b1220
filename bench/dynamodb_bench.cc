// DynamoDB PutItem round trips per second against dynalite: through cairn's
// dynamodb.putItem action (parameters checked, item marshalled, SigV4-signed,
// sent by CurlHttpClient, reply parsed — the whole production path, as
// RegisterDefaultAwsActions wires it) beside the official AWS SDK for
// JavaScript v3 (bench/dynamodb_bench_sdk.mjs) in the same run, same
// dynalite, same item shape. Both sequential: one request in flight.
//
// Run (dynalite from tests/aws_e2e, `npm ci` there):
//   tests/aws_e2e/with_peers.sh sh -c 'build/release/bench/dynamodb_bench "$CAIRN_E2E_DYNAMODB"
//   3000'
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "actions/aws_actions.h"
#include "actions/process_runner.h"
#include "aws/service_client.h"
#include "core/clock.h"

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

struct Measured {
  int n = 0;
  double seconds = 0;
  double p50_ms = 0;
  double p99_ms = 0;
};

cairn::aws::EnvironmentLookup EnvOf(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: dynamodb_bench DYNALITE_URL [N]\n"
                 "  e.g. tests/aws_e2e/with_peers.sh sh -c "
                 "'build/release/bench/dynamodb_bench \"$CAIRN_E2E_DYNAMODB\"'\n");
    return 2;
  }
  const std::string endpoint = argv[1];
  const int n = argc > 2 ? std::max(1, std::atoi(argv[2])) : 2000;
  auto env = EnvOf({{"AWS_ACCESS_KEY_ID", "AKIDCAIRNBENCH"},
                    {"AWS_SECRET_ACCESS_KEY", "cairn-bench-secret"},
                    {"AWS_REGION", "us-east-1"},
                    {"AWS_EC2_METADATA_DISABLED", "true"},
                    {"AWS_CONFIG_FILE", "/nonexistent"},
                    {"AWS_SHARED_CREDENTIALS_FILE", "/nonexistent"},
                    {"AWS_MAX_ATTEMPTS", "1"},
                    {"AWS_ENDPOINT_URL_DYNAMODB", endpoint}});
  const cairn::Clock& clock = cairn::SystemClock::Instance();
  cairn::actions::ActionRegistry registry;
  cairn::actions::RegisterDefaultAwsActions(registry, env, clock);

  const std::string table = "bench";
  {
    auto raw = cairn::aws::MakeDefaultServiceClient(env, clock);
    cairn::aws::AwsCall call;
    call.service = "dynamodb";
    call.target = "DynamoDB_20120810.CreateTable";
    call.body = {{"TableName", table},
                 {"AttributeDefinitions", {{{"AttributeName", "pk"}, {"AttributeType", "S"}}}},
                 {"KeySchema", {{{"AttributeName", "pk"}, {"KeyType", "HASH"}}}},
                 {"BillingMode", "PAY_PER_REQUEST"}};
    auto reply = raw->Call(call);
    if (!reply.ok && reply.error_name != "DynamoDB.ResourceInUseException") {
      std::fprintf(stderr, "CreateTable failed: %s: %s\n", reply.error_name.c_str(),
                   reply.error_message.c_str());
      return 1;
    }
  }

  auto put = [&](int i) {
    cairn::actions::ActionRequest request;
    request.type = "dynamodb.putItem";
    request.params = {{"table", table},
                      {"item",
                       {{"pk", "cairn-" + std::to_string(i % 1000)},
                        {"status", "RUNNING"},
                        {"attempt", i},
                        {"message", "hello from the benchmark"}}}};
    request.operation_id = "bench";
    return registry.Run(request);
  };
  for (int i = 0; i < 100; ++i) put(i);  // warm-up: connection, credentials
  std::vector<double> latencies;
  latencies.reserve(n);
  const auto start = Clock::now();
  for (int i = 0; i < n; ++i) {
    const auto t0 = Clock::now();
    auto out = put(i);
    latencies.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    if (!out.ok) {
      std::fprintf(stderr, "PutItem failed: %s: %s\n", out.error.name.c_str(),
                   out.error.message.c_str());
      return 1;
    }
  }
  Measured cairn_side;
  cairn_side.n = n;
  cairn_side.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::sort(latencies.begin(), latencies.end());
  cairn_side.p50_ms = latencies[latencies.size() / 2];
  cairn_side.p99_ms = latencies[std::min(latencies.size() - 1, latencies.size() * 99 / 100)];

  // The reference, right after, against the same dynalite.
  cairn::actions::PosixProcessRunner runner;
  cairn::actions::ProcessSpec spec;
  spec.argv = {"node",
               std::string(CAIRN_SOURCE_DIR) + "/bench/dynamodb_bench_sdk.mjs",
               std::string(CAIRN_SOURCE_DIR) + "/tests/aws_e2e",
               endpoint,
               table,
               std::to_string(n)};
  spec.timeout = cairn::Duration::Seconds(600);
  auto ran = runner.Run(spec);
  Measured sdk;
  bool sdk_ok = false;
  if (ran.ok() && ran->exit_code == 0) {
    json r = json::parse(ran->stdout_output.head, nullptr, false);
    if (r.is_object()) {
      sdk.n = r.value("n", 0);
      sdk.seconds = r.value("seconds", 0.0);
      sdk.p50_ms = r.value("p50Ms", 0.0);
      sdk.p99_ms = r.value("p99Ms", 0.0);
      sdk_ok = sdk.seconds > 0;
    }
  }

  std::printf("DynamoDB PutItem against dynalite (%s), %d sequential round trips each\n",
              endpoint.c_str(), n);
  std::printf("%-44s %10s %10s %10s\n", "client", "puts/s", "p50 ms", "p99 ms");
  std::printf("%-44s %10.0f %10.3f %10.3f\n", "cairn dynamodb.putItem (action, C++)",
              cairn_side.n / cairn_side.seconds, cairn_side.p50_ms, cairn_side.p99_ms);
  if (sdk_ok) {
    std::printf("%-44s %10.0f %10.3f %10.3f\n", "@aws-sdk/client-dynamodb PutItem (Node)",
                sdk.n / sdk.seconds, sdk.p50_ms, sdk.p99_ms);
    std::printf("cairn / SDK throughput: %.2fx\n",
                (cairn_side.n / cairn_side.seconds) / (sdk.n / sdk.seconds));
  } else {
    std::printf(
        "@aws-sdk/client-dynamodb: not measured (%s); run `npm ci` in tests/aws_e2e\n",
        ran.ok() ? (ran->stderr_output.head.substr(0, 300)).c_str() : ran.error().message.c_str());
    return 1;
  }
  return 0;
}
