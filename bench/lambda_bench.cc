// lambda_bench: the cost of `cairn lambda` as AWS Lambda sees it.
//
//  * cold start: from spawning `cairn lambda` (the seed workflows bundled
//    with their manifest, as scripts/package-lambda ships them) to the first
//    checkpoint request arriving, for an execution of local-callback (list
//    the folder, validate — all but the schema pass, which the manifest
//    vouches for — and compile the workflow, replay, run up to its first
//    durable operation). Target ≤ 25 ms. Also without the manifest (full
//    validation: a bundle packaged otherwise, or a workflow edited since).
//    Reference in the same run: `cairn --version` from spawn to exit (the
//    process start-up floor). Both also as CPU time (user + system, from
//    wait4), which stays meaningful on a loaded machine where wall-clock
//    figures stretch.
//  * warm: per invocation of an already running runtime, from the event
//    being handed out on /next to the reply being posted (one checkpoint
//    included), beside the floor of the same two HTTP exchanges with nothing
//    in between (a raw loopback GET + POST).
//
// A local Runtime API and checkpoint endpoint (cpp-httplib, 127.0.0.1, port
// 0) stand in for Lambda. Usage:
//   lambda_bench [--runs N] [--warm N] [--engine PATH] [--compare PATH]
// --engine: another cairn-engine than this build's; --compare: a second
// cairn-engine whose cold starts alternate with the first's (same bundle,
// manifest included), so that a before/after comparison on a busy machine
// sees the same load on both sides.
#include <httplib.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"

extern char** environ;

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

int64_t Now() { return cairn::SystemClock::Instance().MonotonicNanos(); }

// CPU time (user + system) of a child that ended, in ms: unlike the wall
// clock, it does not grow when other processes compete for the cores.
double CpuMs(const rusage& usage) {
  auto ms = [](const timeval& t) { return static_cast<double>(t.tv_sec) * 1e3 + t.tv_usec / 1e3; };
  return ms(usage.ru_utime) + ms(usage.ru_stime);
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// The fake Lambda: hands out events one at a time, answers checkpoints.
struct FakeLambda {
  httplib::Server server;
  int port = 0;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> events;  // to hand out
  int64_t served_at = 0;            // when the last event went out
  int64_t first_checkpoint_at = 0;
  int64_t replied_at = 0;
  int replies = 0;
  int tokens = 0;

  FakeLambda() {
    server.set_tcp_nodelay(true);
    server.Get("/2018-06-01/runtime/invocation/next", [this](const httplib::Request&, httplib::Response& res) {
      std::unique_lock lock(mu);
      cv.wait(lock, [this] { return !events.empty(); });
      std::string body = events.front();
      events.erase(events.begin());
      served_at = Now();
      res.set_header("Lambda-Runtime-Aws-Request-Id", "bench-" + std::to_string(++tokens));
      res.set_header("Lambda-Runtime-Deadline-Ms", "99999999999999");
      res.set_content(body, "application/json");
    });
    server.Post(R"(/2018-06-01/runtime/invocation/([^/]+)/(response|error))",
                [this](const httplib::Request& req, httplib::Response& res) {
                  std::lock_guard lock(mu);
                  replied_at = Now();
                  ++replies;
                  if (req.matches[2] == "error") std::fprintf(stderr, "invocation error: %s\n", req.body.c_str());
                  res.status = 202;
                  cv.notify_all();
                });
    server.Post("/2018-06-01/runtime/init/error", [this](const httplib::Request& req, httplib::Response& res) {
      std::fprintf(stderr, "init error: %s\n", req.body.c_str());
      std::lock_guard lock(mu);
      ++replies;
      res.status = 202;
      cv.notify_all();
    });
    server.Post(R"(/2025-12-01/durable-executions/(.+)/checkpoint)",
                [this](const httplib::Request&, httplib::Response& res) {
                  std::lock_guard lock(mu);
                  if (first_checkpoint_at == 0) first_checkpoint_at = Now();
                  res.set_content(json{{"CheckpointToken", "t" + std::to_string(++tokens)},
                                       {"NewExecutionState", {{"Operations", json::array()}}}}
                                      .dump(),
                                  "application/json");
                });
    server.Get("/ping", [](const httplib::Request&, httplib::Response& res) { res.set_content("{}", "application/json"); });
    server.Post("/ping", [](const httplib::Request&, httplib::Response& res) { res.status = 202; });
    port = server.bind_to_any_port("127.0.0.1");
  }

  void Give(std::string event) {
    std::lock_guard lock(mu);
    events.push_back(std::move(event));
    cv.notify_all();
  }
  void WaitReplies(int n) {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return replies >= n; });
  }
};

std::string Event(int n, const std::string& workflow, const json& input) {
  std::string exec_id = "exec-" + std::to_string(n);
  json op = {{"Id", exec_id},
             {"Type", "EXECUTION"},
             {"Status", "STARTED"},
             {"StartTimestamp", 1764000000},
             {"ExecutionDetails", {{"InputPayload", json{{"workflow", workflow}, {"input", input}}.dump()}}}};
  return json{{"DurableExecutionArn",
               "arn:aws:lambda:us-east-1:123456789012:function:cairn:$LATEST/durable-execution/b" +
                   std::to_string(n) + "/" + exec_id},
              {"CheckpointToken", "t0"},
              {"InitialExecutionState", {{"Operations", json::array({op})}, {"NextMarker", ""}}}}
      .dump();
}

pid_t Spawn(const std::vector<std::string>& args, const std::vector<std::string>& env) {
  std::vector<char*> argv, envp;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  if (posix_spawn(&pid, args[0].c_str(), &actions, nullptr, argv.data(), envp.data()) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 15, warm = 200;
  std::string cairn = CAIRN_BINARY;
  std::string compare;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--runs") == 0) runs = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--warm") == 0) warm = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--engine") == 0) cairn = argv[i + 1];
    if (std::strcmp(argv[i], "--compare") == 0) compare = argv[i + 1];
  }
  const fs::path bundle = fs::temp_directory_path() / ("cairn-lambda-bench-" + std::to_string(getpid()));
  fs::create_directories(bundle);
  for (const auto& f : fs::directory_iterator(fs::path(CAIRN_SOURCE_DIR) / "workflows")) {
    fs::copy_file(f.path(), bundle / f.path().filename(), fs::copy_options::overwrite_existing);
  }
  {
    FILE* f = std::fopen((bundle / "tiny.yaml").c_str(), "w");
    std::fputs("cairn: 1\nname: tiny\nsteps:\n  - name: pause\n    wait: 1s\n", f);
    std::fclose(f);
  }

  size_t bundled = 0;
  for (const auto& f : fs::directory_iterator(bundle)) bundled += f.path().extension() == ".yaml";
  FakeLambda lambda;
  std::thread serve([&] { lambda.server.listen_after_bind(); });
  while (!lambda.server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const std::string api = "127.0.0.1:" + std::to_string(lambda.port);
  const std::vector<std::string> env = {
      "AWS_LAMBDA_RUNTIME_API=" + api, "AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=AKIDBENCH",
      "AWS_SECRET_ACCESS_KEY=bench", "AWS_ENDPOINT_URL_LAMBDA=http://" + api,
      "LAMBDA_TASK_ROOT=" + bundle.string(), "PATH=/usr/bin:/bin"};

  // Reference: process start-up alone.
  std::vector<double> version_ms, version_cpu_ms;
  for (int i = 0; i < runs; ++i) {
    int64_t t0 = Now();
    pid_t pid = Spawn({cairn, "--version"}, env);
    int status = 0;
    rusage usage{};
    wait4(pid, &status, 0, &usage);
    version_ms.push_back(static_cast<double>(Now() - t0) / 1e6);
    version_cpu_ms.push_back(CpuMs(usage));
  }

  // Cold start: spawn → first checkpoint request, once.
  auto cold_start = [&](int i, std::vector<double>* wall_ms, std::vector<double>* cpu_ms,
                        const std::string& engine) {
    {
      std::lock_guard lock(lambda.mu);
      lambda.first_checkpoint_at = 0;
      lambda.replies = 0;
    }
    lambda.Give(Event(i, "local-callback", json{{"message", "cold start"}}));
    int64_t t0 = Now();
    pid_t pid = Spawn({engine, "lambda", "--workflows", bundle.string(), "--max-invocations", "1", "-q"}, env);
    lambda.WaitReplies(1);
    int status = 0;
    rusage usage{};
    wait4(pid, &status, 0, &usage);
    cpu_ms->push_back(CpuMs(usage));
    std::lock_guard lock(lambda.mu);
    if (lambda.first_checkpoint_at == 0) {
      std::fprintf(stderr, "no checkpoint arrived\n");
      return false;
    }
    wall_ms->push_back(static_cast<double>(lambda.first_checkpoint_at - t0) / 1e6);
    return true;
  };
  // As packaged — with the manifest, written the way scripts/package-lambda
  // writes it — and without it, alternately, so that a change of the
  // machine's load during the run weighs on both alike.
  std::vector<double> cold_ms, cold_cpu_ms, full_ms, full_cpu_ms, other_ms, other_cpu_ms;
  const fs::path manifest = bundle / "cairn-manifest.json";
  const fs::path manifest_aside = bundle / "cairn-manifest.json.aside";
  const bool has_manifest = [&] {
    pid_t writer = Spawn({cairn, "lambda", "--workflows", bundle.string(), "--write-manifest"}, env);
    int status = 0;
    waitpid(writer, &status, 0);
    return writer > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 && fs::exists(manifest);
  }();
  for (int i = 0; i < runs; ++i) {
    if (!cold_start(3 * i, &cold_ms, &cold_cpu_ms, cairn)) return 1;
    if (!compare.empty() && !cold_start(3 * i + 1, &other_ms, &other_cpu_ms, compare)) return 1;
    if (!has_manifest) continue;
    fs::rename(manifest, manifest_aside);
    if (!cold_start(3 * i + 2, &full_ms, &full_cpu_ms, cairn)) return 1;
    fs::rename(manifest_aside, manifest);
  }

  // Warm: one running runtime, `warm` invocations of a one-checkpoint workflow.
  {
    std::lock_guard lock(lambda.mu);
    lambda.replies = 0;
  }
  pid_t pid = Spawn({cairn, "lambda", "--workflows", bundle.string(), "--max-invocations",
                     std::to_string(warm + 1), "-q"},
                    env);
  lambda.Give(Event(0, "tiny", json::object()));  // compiles tiny
  lambda.WaitReplies(1);
  std::vector<double> warm_us;
  for (int i = 1; i <= warm; ++i) {
    lambda.Give(Event(i, "tiny", json::object()));
    lambda.WaitReplies(i + 1);
    std::lock_guard lock(lambda.mu);
    warm_us.push_back(static_cast<double>(lambda.replied_at - lambda.served_at) / 1e3);
  }
  int status = 0;
  waitpid(pid, &status, 0);

  // Floor: the same two exchanges with nothing in between.
  std::vector<double> floor_us;
  httplib::Client client("127.0.0.1", lambda.port);
  for (int i = 0; i < warm; ++i) {
    int64_t t0 = Now();
    (void)client.Get("/ping");
    (void)client.Post("/ping", "{}", "application/json");
    (void)client.Post("/ping", "{}", "application/json");
    floor_us.push_back(static_cast<double>(Now() - t0) / 1e3);
  }

  lambda.server.stop();
  serve.join();
  fs::remove_all(bundle);

  std::printf("lambda_bench (%d cold runs, %d warm invocations; medians)\n", runs, warm);
  std::printf("  cold start, spawn -> first checkpoint (local-callback, %zu workflows bundled%s): %7.1f ms   target <= 25 ms: %s\n",
              bundled, has_manifest ? ", manifest" : ", NO manifest: this engine cannot write one",
              Median(cold_ms), Median(cold_ms) <= 25 ? "met" : "NOT met");
  if (has_manifest) {
    std::printf("  the same without the manifest (every check, the schema pass too):                %7.1f ms\n",
                Median(full_ms));
  }
  if (!compare.empty()) {
    std::printf("  the same with --compare %s (alternating):  %7.1f ms, CPU %.1f ms\n", compare.c_str(),
                Median(other_ms), Median(other_cpu_ms));
  }
  std::printf("  reference: `cairn --version`, spawn -> exit:                                  %7.1f ms\n",
              Median(version_ms));
  std::printf("  CPU time (user+sys) of a cold process, the whole invocation through exit:       %7.1f ms\n",
              Median(cold_cpu_ms));
  if (has_manifest) {
    std::printf("  the same without the manifest:                                                  %7.1f ms\n",
                Median(full_cpu_ms));
  }
  std::printf("  reference: CPU time of `cairn --version`:                                     %7.1f ms\n",
              Median(version_cpu_ms));
  std::printf("  warm invocation, event out -> reply in (1 checkpoint):                         %7.0f us\n",
              Median(warm_us));
  std::printf("  reference: 3 loopback HTTP exchanges (next + checkpoint + reply), no work:     %7.0f us\n",
              Median(floor_us));
  return 0;
}
