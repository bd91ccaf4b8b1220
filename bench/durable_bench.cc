// durable_bench: what the local durable service costs, each figure beside
// its reference measured in the same run (bench/README.md).
//
//   1. service CPU per durable step (MemoryStore, a scripted invoker that
//      checkpoints START+SUCCEED per step, no engine);
//   2. sequential durable step latency on SqliteStore (one fsync per step)
//      against the floor: one write + fdatasync of a small record on the same
//      disk (target: at most 1.3x the floor);
//   3. throughput of 1,000 concurrent 3-step executions with group commit
//      (target: at least 5,000 steps/s on 2 cores), against the floor's
//      one-fsync-per-step rate.
//
// Usage: durable_bench [--dir DIR] [--steps N] [--executions N] [--threads N]
//                      [--part 1|2|3] [--page-size BYTES]
// DIR (default: the current directory) must be on the disk to measure.
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "backend/local/local_durable_service.h"
#include "backend/local/memory_store.h"
#include "backend/local/sqlite_store.h"

namespace cairn::bench {
namespace {

using backend::CheckpointClient;
using backend::Invoker;
using backend::local::LocalDurableService;
using backend::local::MemoryStore;
using backend::local::SqliteStore;
namespace protocol = cairn::protocol;

double CpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double Since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

protocol::OperationUpdate StepUpdate(const std::string& id, protocol::OperationAction action) {
  protocol::OperationUpdate u;
  u.id = id;
  u.name = "step";
  u.type = protocol::OperationType::kStep;
  u.sub_type = "Step";
  u.action = action;
  if (action == protocol::OperationAction::kSucceed) u.payload = R"({"ok":true})";
  return u;
}

// Runs `steps` steps per invocation, each one checkpoint of START+SUCCEED
// (what the engine sends for an at-least-once step), then succeeds.
class StepLoopInvoker final : public Invoker {
 public:
  explicit StepLoopInvoker(int steps) : steps_(steps) {}
  Result<protocol::InvocationOutput> Invoke(const protocol::Invocation& inv,
                                            CheckpointClient& c) override {
    std::string token = inv.checkpoint_token;
    const size_t done = inv.initial_state.operations.size() - 1;  // minus EXECUTION
    for (int i = static_cast<int>(done); i < steps_; ++i) {
      std::string id = "s" + std::to_string(i);
      protocol::CheckpointRequest req;
      req.checkpoint_token = token;
      req.updates = {StepUpdate(id, protocol::OperationAction::kStart),
                     StepUpdate(id, protocol::OperationAction::kSucceed)};
      auto t0 = std::chrono::steady_clock::now();
      auto r = c.Checkpoint(inv.durable_execution_arn, req);
      if (record_latency_) latencies_.push_back(Since(t0));
      if (!r.ok()) return r.error();
      token = *r->checkpoint_token;
      steps_done_.fetch_add(1, std::memory_order_relaxed);
    }
    protocol::InvocationOutput out;
    out.status = protocol::InvocationStatus::kSucceeded;
    out.result = "1";
    return out;
  }
  void RecordLatency() { record_latency_ = true; }
  std::vector<double>& latencies() { return latencies_; }
  int64_t steps_done() const { return steps_done_.load(); }

 private:
  int steps_;
  bool record_latency_ = false;
  std::vector<double> latencies_;  // only with one execution at a time
  std::atomic<int64_t> steps_done_{0};
};

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

// One write + fdatasync of a small record, `n` times: per-call seconds.
std::vector<double> FsyncFloor(const std::string& dir, int n) {
  std::string path = dir + "/durable_bench.floor";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<double> out;
  if (fd < 0) {
    std::fprintf(stderr, "cannot create %s: %s\n", path.c_str(), std::strerror(errno));
    return out;
  }
  char record[200];
  // Into a file written (zeros) and synced beforehand: no size change or
  // block allocation to sync with each record, the cheapest durable write
  // the disk offers (the store grows its WAL ahead the same way).
  std::string zeros(sizeof record * static_cast<size_t>(n), '\0');
  if (::pwrite(fd, zeros.data(), zeros.size(), 0) != static_cast<ssize_t>(zeros.size()) ||
      ::fdatasync(fd) != 0) {
    std::fprintf(stderr, "cannot prepare %s: %s\n", path.c_str(), std::strerror(errno));
    ::close(fd);
    return out;
  }
  std::memset(record, 'r', sizeof record);
  off_t offset = 0;
  for (int i = 0; i < n; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    if (::pwrite(fd, record, sizeof record, offset) != static_cast<ssize_t>(sizeof record)) break;
    if (::fdatasync(fd) != 0) break;
    out.push_back(Since(t0));
    offset += static_cast<off_t>(sizeof record);
  }
  ::close(fd);
  ::unlink(path.c_str());
  return out;
}

void RemoveStore(const std::string& path) {
  for (const char* suffix : {"", "-wal", "-shm"}) ::unlink((path + suffix).c_str());
}

int Main(int argc, char** argv) {
  std::string dir = ".";
  int seq_steps = 300;
  int executions = 1000;
  int threads = 64;
  int only = 0;  // --part N runs only part N (profiling)
  backend::local::SqliteStoreOptions store_options;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--dir") dir = argv[i + 1];
    if (a == "--steps") seq_steps = std::atoi(argv[i + 1]);
    if (a == "--executions") executions = std::atoi(argv[i + 1]);
    if (a == "--threads") threads = std::atoi(argv[i + 1]);
    if (a == "--part") only = std::atoi(argv[i + 1]);
    if (a == "--page-size") store_options.page_size = std::atoi(argv[i + 1]);
  }
  std::filesystem::create_directories(dir);
  std::printf("durable_bench (dir %s, page size of new stores %d)\n\n", dir.c_str(),
              store_options.page_size);

  // 1. Service CPU per step, in memory: executions of 100 steps (a long
  // execution would mostly measure its own memory growth).
  if (only == 0 || only == 1) {
    constexpr int kExecutions = 200;
    constexpr int kStepsEach = 100;
    MemoryStore memory;
    StepLoopInvoker invoker(kStepsEach);
    auto service = LocalDurableService::Create(memory, SystemClock::Instance(), &invoker);
    if (!service.ok()) return 1;
    for (int e = 0; e < kExecutions; ++e) {
      if (!(*service)->StartExecution({"wf", std::nullopt, "{}", std::nullopt}).ok()) return 1;
    }
    const double c0 = CpuSeconds();
    auto t0 = std::chrono::steady_clock::now();
    if (!(*service)->RunUntilIdle().ok()) return 1;
    double wall = Since(t0);
    double cpu = CpuSeconds() - c0;
    const double steps = kExecutions * kStepsEach;
    std::printf("1. service alone, MemoryStore, %d executions x %d sequential steps:\n",
                kExecutions, kStepsEach);
    std::printf("   %.2f us CPU per step (%.2f us wall), invocation ends included\n\n",
                cpu / steps * 1e6, wall / steps * 1e6);
  }

  // 2. Sequential durable step latency vs the fdatasync floor. The floor is
  // measured before and after, interleaved, to see the disk's drift.
  if (only == 0 || only == 2) {
    auto floor1 = FsyncFloor(dir, 200);
    const std::string path = dir + "/durable_bench_seq.db";
    RemoveStore(path);
    auto store = SqliteStore::Open(path, store_options);
    if (!store.ok()) {
      std::fprintf(stderr, "%s\n", store.error().ToString().c_str());
      return 1;
    }
    StepLoopInvoker invoker(seq_steps);
    invoker.RecordLatency();
    auto service = LocalDurableService::Create(**store, SystemClock::Instance(), &invoker);
    if (!service.ok()) return 1;
    if (!(*service)->StartExecution({"wf", std::nullopt, "{}", std::nullopt}).ok()) return 1;
    const auto before = (*store)->stats();
    auto t0 = std::chrono::steady_clock::now();
    if (!(*service)->RunUntilIdle().ok()) return 1;
    double wall = Since(t0);
    const auto after = (*store)->stats();
    auto floor2 = FsyncFloor(dir, 200);
    std::vector<double> floor = floor1;
    floor.insert(floor.end(), floor2.begin(), floor2.end());
    double step_med = Median(invoker.latencies());
    double floor_med = Median(floor);
    double ratio = step_med / floor_med;
    std::printf("2. sequential durable steps, SqliteStore (WAL, synchronous=FULL), %d steps:\n",
                seq_steps);
    std::printf("   step (checkpoint START+SUCCEED, durable) median %.0f us, p90 %.0f us, "
                "p99 %.0f us, mean %.0f us; %.2f transactions and %.0f WAL bytes per step, "
                "%lld checkpoints\n",
                step_med * 1e6, Percentile(invoker.latencies(), 0.9) * 1e6,
                Percentile(invoker.latencies(), 0.99) * 1e6, wall / seq_steps * 1e6,
                static_cast<double>(after.transactions - before.transactions) / seq_steps,
                static_cast<double>(after.wal_bytes - before.wal_bytes) / seq_steps,
                static_cast<long long>(after.checkpoints - before.checkpoints));
    std::printf("   floor (write 200 B into a preallocated file + fdatasync, same dir) median %.0f us, p90 %.0f us\n",
                floor_med * 1e6, Percentile(floor, 0.9) * 1e6);
    std::printf("   ratio %.2fx the floor (target <= 1.30x): %s\n\n", ratio,
                ratio <= 1.3 ? "MET" : "NOT MET");
    store->reset();
    RemoveStore(path);
  }

  // 3. Throughput: many concurrent 3-step executions, group commit.
  if (only == 0 || only == 3) {
    const std::string path = dir + "/durable_bench_tput.db";
    RemoveStore(path);
    auto store = SqliteStore::Open(path, store_options);
    if (!store.ok()) return 1;
    constexpr int kStepsPerExecution = 3;
    StepLoopInvoker invoker(kStepsPerExecution);
    auto service = LocalDurableService::Create(**store, SystemClock::Instance(), &invoker);
    if (!service.ok()) return 1;
    auto t_start = std::chrono::steady_clock::now();
    for (int e = 0; e < executions; ++e) {
      if (!(*service)->StartExecution({"wf", std::nullopt, "{}", std::nullopt}).ok()) return 1;
    }
    double start_s = Since(t_start);
    const auto before = (*store)->stats();
    const double c0 = CpuSeconds();
    auto t0 = std::chrono::steady_clock::now();
    std::thread server([&] {
      backend::local::ServeOptions o;
      o.invoke_threads = threads;
      (void)(*service)->Serve(o);
    });
    const int64_t want = static_cast<int64_t>(executions) * kStepsPerExecution;
    while (invoker.steps_done() < want) std::this_thread::sleep_for(std::chrono::microseconds(200));
    // Steps are done; wait for the invocations' ends to be recorded too.
    backend::local::ListExecutionsRequest r;
    r.function_name = "wf";
    r.statuses = {protocol::ExecutionStatus::kRunning};
    r.max_items = 1;
    while (!(*service)->ListExecutions(r)->executions.empty()) {
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
    double wall = Since(t0);
    double cpu = CpuSeconds() - c0;
    (*service)->Stop();
    server.join();
    const auto after = (*store)->stats();
    auto floor = FsyncFloor(dir, 200);
    double floor_rate = 1.0 / Median(floor);
    double rate = static_cast<double>(want) / wall;
    int64_t txns = after.transactions - before.transactions;
    int64_t batches = after.batches - before.batches;
    std::printf("3. %d concurrent executions x %d steps, SqliteStore, %d invoke threads:\n",
                executions, kStepsPerExecution, threads);
    std::printf("   %.0f steps/s (%.0f executions/s; %.2f s wall, %.2f s CPU, %.1f us CPU per "
                "step incl. ends); starting them took %.2f s\n",
                rate, executions / wall, wall, cpu, cpu / static_cast<double>(want) * 1e6, start_s);
    const int64_t syncs = after.wal_syncs - before.wal_syncs;
    std::printf("   %lld batches in %lld transactions (%.1f per transaction) made durable by "
                "%lld WAL syncs (%.1f batches per fsync), %.0f WAL bytes per batch, %lld "
                "checkpoints\n",
                static_cast<long long>(batches), static_cast<long long>(txns),
                txns ? static_cast<double>(batches) / static_cast<double>(txns) : 0.0,
                static_cast<long long>(syncs),
                syncs ? static_cast<double>(batches) / static_cast<double>(syncs) : 0.0,
                batches ? static_cast<double>(after.wal_bytes - before.wal_bytes) /
                              static_cast<double>(batches)
                        : 0.0,
                static_cast<long long>(after.checkpoints - before.checkpoints));
    std::printf("   floor: one fdatasync per step would allow %.0f steps/s\n", floor_rate);
    std::printf("   target >= 5000 steps/s on 2 cores: %s\n", rate >= 5000 ? "MET" : "NOT MET");
    store->reset();
    RemoveStore(path);
  }
  return 0;
}

}  // namespace
}  // namespace cairn::bench

int main(int argc, char** argv) { return cairn::bench::Main(argc, argv); }
