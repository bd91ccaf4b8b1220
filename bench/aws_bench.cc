// What SigV4 signing costs per AWS request, beside its references measured
// in the same run:
//  * SignRequest/<body bytes>: sign a DynamoDB PutItem-shaped request (Host,
//    Content-Type, X-Amz-Target, session token), deriving the signing key
//    each time — what ServiceClient does per attempt;
//  * SignRequestCachedKey/<bytes>: the same with a SigningKey derived once;
//  * DeriveSigningKey: the four HMACs of the key derivation alone;
//  * Sha256Payload/<bytes>: hashing the body, which any signer must do (the
//    floor for large bodies);
//  * LocalRoundTrip: one unsigned POST over a reused connection to a
//    cpp-httplib server on 127.0.0.1 through CurlHttpClient, the smallest
//    HTTP exchange the signature is added to;
//  * ServiceClientCall: a whole ServiceClient call (build, credentials,
//    sign, send, parse) against that server.
#include <benchmark/benchmark.h>
#include <httplib.h>

#include <memory>
#include <string>
#include <thread>

#include "aws/curl_http_client.h"
#include "aws/service_client.h"
#include "aws/sigv4.h"
#include "sigv4_request.h"
#include "core/clock.h"

namespace cairn::aws {
namespace {

using bench::kCredentials;
using bench::kTime;
using bench::PutItemRequest;

void SignRequestBench(benchmark::State& state) {
  HttpRequest request = PutItemRequest(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    Result<SignedRequest> signed_request =
        SignRequest(request, kCredentials, kTime, "us-east-1", "dynamodb");
    benchmark::DoNotOptimize(signed_request);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * request.body.size()));
}
BENCHMARK(SignRequestBench)->Name("SignRequest")->Arg(256)->Arg(4096)->Arg(65536);

void SignRequestCachedKeyBench(benchmark::State& state) {
  HttpRequest request = PutItemRequest(static_cast<size_t>(state.range(0)));
  Result<SigningKey> key = DeriveSigningKey(
      kCredentials, std::chrono::floor<std::chrono::days>(kTime), "us-east-1", "dynamodb");
  for (auto _ : state) {
    Result<SignedRequest> signed_request = SignRequest(request, kCredentials, *key, kTime);
    benchmark::DoNotOptimize(signed_request);
  }
}
BENCHMARK(SignRequestCachedKeyBench)->Name("SignRequestCachedKey")->Arg(256)->Arg(4096)->Arg(65536);

void DeriveSigningKeyBench(benchmark::State& state) {
  for (auto _ : state) {
    Result<SigningKey> key = DeriveSigningKey(
        kCredentials, std::chrono::floor<std::chrono::days>(kTime), "us-east-1", "dynamodb");
    benchmark::DoNotOptimize(key);
  }
}
BENCHMARK(DeriveSigningKeyBench)->Name("DeriveSigningKey");

void Sha256PayloadBench(benchmark::State& state) {
  HttpRequest request = PutItemRequest(static_cast<size_t>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(Sha256Hex(request.body));
}
BENCHMARK(Sha256PayloadBench)->Name("Sha256Payload")->Arg(256)->Arg(4096)->Arg(65536);

// A local server answering every POST with a small JSON body.
class LocalServer {
 public:
  LocalServer() {
    server_.Post("/", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(R"({"ConsumedCapacity":{"TableName":"records","CapacityUnits":1}})",
                      "application/x-amz-json-1.0");
    });
    // No Nagle delay between the response's header and body writes, and no
    // cap on requests per connection: the bench measures the client.
    server_.set_tcp_nodelay(true);
    server_.set_keep_alive_max_count(1u << 30);
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~LocalServer() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
};

void LocalRoundTripBench(benchmark::State& state) {
  LocalServer server;
  {
    CurlHttpClient http;
    HttpRequest request = PutItemRequest(256);
    request.headers[0].value = server.url().substr(7);
    for (auto _ : state) {
      Result<HttpResponse> response = http.Send(server.url(), request, HttpCallOptions{});
      if (!response.ok() || response->status != 200) state.SkipWithError("request failed");
    }
    state.counters["connections"] = static_cast<double>(http.connections_opened());
  }
}
BENCHMARK(LocalRoundTripBench)->Name("LocalRoundTrip")->UseRealTime();

void ServiceClientCallBench(benchmark::State& state) {
  LocalServer server;
  {
    auto http = std::make_shared<CurlHttpClient>();
    ServiceClientOptions options;
    options.http = http;
    options.credentials = std::make_shared<StaticCredentialsProvider>(kCredentials);
    options.clock = &SystemClock::Instance();
    std::string endpoint = server.url();
    options.config =
        LoadServiceConfig([endpoint](std::string_view name) -> std::optional<std::string> {
          if (name == "AWS_REGION") return "us-east-1";
          if (name == "AWS_ENDPOINT_URL") return endpoint;
          return std::nullopt;
        });
    ServiceClient client(std::move(options));
    AwsCall call;
    call.service = "dynamodb";
    call.target = "DynamoDB_20120810.PutItem";
    call.body = nlohmann::json::parse(PutItemRequest(256).body);
    for (auto _ : state) {
      AwsReply reply = client.Call(call);
      if (!reply.ok) state.SkipWithError(reply.error_message.c_str());
    }
    state.counters["connections"] = static_cast<double>(http->connections_opened());
  }
}
BENCHMARK(ServiceClientCallBench)->Name("ServiceClientCall")->UseRealTime();

}  // namespace
}  // namespace cairn::aws

BENCHMARK_MAIN();
