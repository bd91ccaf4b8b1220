// SigV4 signing cost per request: cairn's signer (aws/sigv4.h) beside the
// signer of the AWS SDK for JavaScript v3 (bench/sigv4_bench_sdk.mjs:
// @smithy/signature-v4 with the client's node:crypto SHA-256, resolved from
// the @aws-sdk/client-dynamodb installed in tests/aws_e2e), in the same run.
//
// Both sign the same DynamoDB PutItem request (the one aws_bench signs:
// Host, Content-Type, X-Amz-Target, a session token; us-east-1, dynamodb,
// a fixed date) with bodies of 256, 4096 and 65536 bytes. Before timing,
// the Authorization header each side computes is compared for every body:
// the comparison is only printed when they are identical.
//
// Timed per body size, each the best (lowest) of R runs of N signatures in
// a row after a warm-up of max(N, 5000), as wall time and as the process's
// CPU time (user + system). On a loaded machine other processes only ever
// add time, to both and unevenly between runs, so the best run is the
// figure that repeats:
//  * cairn SignRequest, deriving the signing key each time (what
//    ServiceClient does per attempt);
//  * cairn SignRequest with a SigningKey derived once;
//  * the SDK's `await signer.sign(request)`, as its signing middleware calls
//    it (the SDK caches the derived key itself).
//
// Run: build/<preset>/bench/sigv4_bench [N] [R]   (defaults 5000 and 9;
// N is divided by 4 for 64 KiB bodies). Without node or the SDK, cairn's
// figures are printed with a line saying what to install.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "actions/process_runner.h"
#include "aws/sigv4.h"
#include "sigv4_request.h"

namespace {

using cairn::Result;
using cairn::aws::Credentials;
using cairn::aws::HttpRequest;
using cairn::aws::SignedRequest;
using cairn::aws::SigningKey;
using Steady = std::chrono::steady_clock;

using cairn::aws::bench::kCredentials;
using cairn::aws::bench::kTime;
using cairn::aws::bench::PutItemRequest;
constexpr const char* kRegion = "us-east-1";
constexpr const char* kService = "dynamodb";

// Nanoseconds per signature, the best of the runs.
struct PerCall {
  double wall_ns = 0;
  double cpu_ns = 0;
};

struct Size {
  size_t body_bytes;
  int n;  // signatures per timed run
  std::string authorization;
  PerCall cairn;
  PerCall cairn_cached;
  std::optional<PerCall> sdk;
};

// A signature's bytes are consumed here so that no call can be dropped.
volatile char g_sink = 0;

// CPU time (user + system) of the whole process so far, in ns.
double ProcessCpuNs() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto ns = [](const timeval& t) { return t.tv_sec * 1e9 + t.tv_usec * 1e3; };
  return ns(usage.ru_utime) + ns(usage.ru_stime);
}

// The best of `repetitions` runs of `n` calls of `sign`, per call.
template <typename Sign>
PerCall MeasurePerCall(int n, int repetitions, const Sign& sign) {
  for (int i = 0; i < std::max(n, 5000); ++i) sign();  // warm-up: caches, allocator
  std::vector<double> wall;
  std::vector<double> cpu;
  for (int r = 0; r < repetitions; ++r) {
    const auto start = Steady::now();
    const double cpu_start = ProcessCpuNs();
    for (int i = 0; i < n; ++i) sign();
    cpu.push_back((ProcessCpuNs() - cpu_start) / n);
    wall.push_back(std::chrono::duration<double, std::nano>(Steady::now() - start).count() / n);
  }
  return {*std::min_element(wall.begin(), wall.end()), *std::min_element(cpu.begin(), cpu.end())};
}

void Consume(const Result<SignedRequest>& signed_request) {
  if (!signed_request.ok()) {
    std::fprintf(stderr, "error: SignRequest failed: %s\n", signed_request.error().message.c_str());
    std::exit(1);
  }
  g_sink = static_cast<char>(g_sink + signed_request->signature[0]);
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  double one = 0, five = 0;
  if (!(in >> one >> five)) return "unknown";
  char text[64];
  std::snprintf(text, sizeof text, "%.2f (1 min), %.2f (5 min)", one, five);
  return text;
}

// "SignedHeaders=…" of an Authorization value: what may be shown of it.
std::string SignedHeadersOf(const std::string& authorization) {
  const size_t at = authorization.find("SignedHeaders=");
  if (at == std::string::npos) return "(no SignedHeaders)";
  return authorization.substr(at, authorization.find(',', at) - at);
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::max(100, std::atoi(argv[1])) : 5000;
  const int repetitions = argc > 2 ? std::max(1, std::atoi(argv[2])) : 9;
  std::vector<Size> sizes = {{256, n, {}}, {4096, n, {}}, {65536, std::max(100, n / 4), {}}};
  const std::string load_before = LoadAverage();

  for (Size& size : sizes) {
    const HttpRequest request = PutItemRequest(size.body_bytes);
    Result<SignedRequest> reference =
        cairn::aws::SignRequest(request, kCredentials, kTime, kRegion, kService);
    Consume(reference);
    size.authorization = reference->authorization;
    size.cairn = MeasurePerCall(size.n, repetitions, [&] {
      Consume(cairn::aws::SignRequest(request, kCredentials, kTime, kRegion, kService));
    });
    Result<SigningKey> key = cairn::aws::DeriveSigningKey(
        kCredentials, std::chrono::floor<std::chrono::days>(kTime), kRegion, kService);
    if (!key.ok()) {
      std::fprintf(stderr, "error: DeriveSigningKey failed: %s\n", key.error().message.c_str());
      return 1;
    }
    size.cairn_cached = MeasurePerCall(size.n, repetitions, [&] {
      Consume(cairn::aws::SignRequest(request, kCredentials, *key, kTime));
    });
  }

  // The reference, right after, in one node process.
  cairn::actions::ProcessSpec spec;
  spec.argv = {"node", std::string(CAIRN_SOURCE_DIR) + "/bench/sigv4_bench_sdk.mjs",
               std::string(CAIRN_SOURCE_DIR) + "/tests/aws_e2e", std::to_string(repetitions)};
  for (const Size& size : sizes) {
    spec.argv.push_back(std::to_string(size.body_bytes) + ":" + std::to_string(size.n));
  }
  spec.timeout = cairn::Duration::Seconds(600);
  cairn::actions::PosixProcessRunner runner;
  Result<cairn::actions::ProcessResult> ran = runner.Run(spec);
  std::string skipped;  // why the SDK was not measured, when it was not
  std::string sdk_version;
  bool mismatch = false;
  if (!ran.ok()) {
    skipped = "cannot run `node` (" + ran.error().message +
              "); install Node.js 18 or later (Debian: apt-get install nodejs npm), then "
              "`npm ci` in tests/aws_e2e";
  } else if (ran->ending == cairn::actions::ProcessResult::Ending::kExited && ran->exit_code == 3) {
    std::string why = ran->stderr_output.head.substr(0, ran->stderr_output.head.find('\n'));
    skipped = why + "; run `npm ci` in tests/aws_e2e";
  } else if (ran->ending != cairn::actions::ProcessResult::Ending::kExited || ran->exit_code != 0) {
    std::fprintf(stderr, "error: sigv4_bench_sdk.mjs failed (exit %d, signal %d): %s\n",
                 ran->exit_code, ran->signal, ran->stderr_output.head.substr(0, 600).c_str());
    return 1;
  } else {
    nlohmann::json reply = nlohmann::json::parse(ran->stdout_output.head, nullptr, false);
    if (!reply.is_object() || !reply.contains("sizes") || !reply["sizes"].is_array() ||
        reply["sizes"].size() != sizes.size()) {
      std::fprintf(stderr, "error: unexpected output from sigv4_bench_sdk.mjs: %s\n",
                   ran->stdout_output.head.substr(0, 300).c_str());
      return 1;
    }
    sdk_version = reply.value("sdkVersion", "?");
    for (size_t i = 0; i < sizes.size(); ++i) {
      const nlohmann::json& measured = reply["sizes"][i];
      const std::string authorization = measured.value("authorization", "");
      if (measured.value("bodyBytes", size_t{0}) != sizes[i].body_bytes ||
          authorization != sizes[i].authorization) {
        // Only the signed header lists: the signatures are not shown.
        std::fprintf(stderr,
                     "error: the SDK's Authorization differs from cairn's for the %zu-byte "
                     "body (cairn %s, SDK %s): the two sides did not sign the same request\n",
                     sizes[i].body_bytes, SignedHeadersOf(sizes[i].authorization).c_str(),
                     SignedHeadersOf(authorization).c_str());
        mismatch = true;
        continue;
      }
      sizes[i].sdk =
          PerCall{measured.value("nsPerRequest", 0.0), measured.value("cpuNsPerRequest", 0.0)};
    }
  }

  std::printf(
      "SigV4 signing of a DynamoDB PutItem request (us-east-1/dynamodb, session token), "
      "best of %d runs\nload average before: %s\n",
      repetitions, load_before.c_str());
  if (!sdk_version.empty() && !mismatch) {
    std::printf(
        "Authorization headers identical (cairn, @aws-sdk/client-dynamodb %s's "
        "SignatureV4) for every body\n",
        sdk_version.c_str());
  }
  // ns per request, wall / CPU; the ratios are of CPU times.
  std::printf("%10s %7s  %-19s %-19s %-19s %10s %11s\n", "body bytes", "N", "cairn",
              "cairn, cached key", "SDK", "SDK/cairn", "SDK/cached");
  auto cell = [](const PerCall& per_call) {
    char text[32];
    std::snprintf(text, sizeof text, "%.0f / %.0f", per_call.wall_ns, per_call.cpu_ns);
    return std::string(text);
  };
  for (const Size& size : sizes) {
    std::printf("%10zu %7d  %-19s %-19s", size.body_bytes, size.n, cell(size.cairn).c_str(),
                cell(size.cairn_cached).c_str());
    if (size.sdk) {
      std::printf(" %-19s %9.2fx %10.2fx\n", cell(*size.sdk).c_str(),
                  size.sdk->cpu_ns / size.cairn.cpu_ns,
                  size.sdk->cpu_ns / size.cairn_cached.cpu_ns);
    } else {
      std::printf(" %-19s %10s %11s\n", "-", "-", "-");
    }
  }
  std::printf("(ns per request, wall / CPU time of the process; the ratios are of CPU times)\n");
  if (!skipped.empty()) std::printf("SDK comparison skipped: %s\n", skipped.c_str());
  return mismatch ? 1 : 0;
}
