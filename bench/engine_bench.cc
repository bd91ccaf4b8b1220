// engine_bench: what the engine costs per step and per replayed operation,
// on the embedded service with the in-memory store, each figure beside its
// reference measured in the same run (bench/README.md).
//
//   1. CPU per step of a workflow of N action steps (the action does
//      nothing), engine + service, against the service alone driven by a
//      scripted invoker with the same checkpoints, and the engine alone
//      (a checkpoint client that keeps nothing); target: 5 us per step.
//   2. Replay of an execution with 10,000 completed operations: the
//      invocation after its final wait, which replays all of them (target
//      20 ms), warm (service cache) and after a restart on SqliteStore,
//      against reading the 10,000 operations from the store alone and the
//      engine alone replaying them from one page in memory.
//
// Usage: engine_bench [--steps N] [--replay-ops N] [--dir DIR] [--part 1|2|3]
//                     [--repetitions N] [--engine-only N] [--service-only N]
// --part 3 is part 2 without SqliteStore (the in-memory figures only).
// --repetitions N repeats the figures of parts 1 and 3 N times (each still
// a best of 3) and prints the median and the range of the N.
// --engine-only N runs only the engine-alone figures, N times over (for a
// profiler: everything sampled is then the engine's); --service-only N only
// the service driven by the scripted invoker (part 1); --combined-only N
// only engine + service (part 1, and the warm replay of part 2).
// --malloc default leaves glibc malloc's thresholds dynamic; by default the
// bench fixes them as cairn-engine does (core/allocator_tuning.h).
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "backend/local/local_durable_service.h"
#include "backend/local/memory_store.h"
#include "backend/local/sqlite_store.h"
#include "compile/compile.h"
#include "compile/operation_id.h"
#include "core/allocator_tuning.h"
#include "engine/engine.h"
#include "validate/validate.h"

namespace cairn::bench {
namespace {

using backend::local::LocalDurableService;
using backend::local::MemoryStore;
using backend::local::SqliteStore;

double CpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double Since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Wall and CPU time of a piece of work; Best keeps the least of each over
// repeats. CPU time (the process's) shows the cost when other work on the
// machine stretches the wall time.
struct Span {
  double wall_ms = 1e9;
  double cpu_ms = 1e9;
  void Best(const Span& s) {
    wall_ms = std::min(wall_ms, s.wall_ms);
    cpu_ms = std::min(cpu_ms, s.cpu_ms);
  }
  bool ok() const { return wall_ms >= 0; }
};

class Stopwatch {
 public:
  Stopwatch() : wall_(std::chrono::steady_clock::now()), cpu_(CpuSeconds()) {}
  Span Stop() const { return {Since(wall_) * 1e3, (CpuSeconds() - cpu_) * 1e3}; }

 private:
  std::chrono::steady_clock::time_point wall_;
  double cpu_;
};

// "median [min-max]" of `v` (not empty), with `digits` decimals.
std::string MedianRange(std::vector<double> v, int digits) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  const double median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  char buf[96];
  std::snprintf(buf, sizeof buf, "%.*f [%.*f-%.*f]", digits, median, digits, v.front(), digits,
                v.back());
  return buf;
}

class NoopActions final : public actions::ActionRunner {
 public:
  actions::ActionOutcome Run(const actions::ActionRequest&) override {
    return actions::ActionOutcome::Success({{"ok", true}});
  }
};

// A workflow of `steps` action steps, optionally ending with a wait.
std::string StepsWorkflow(int steps, bool final_wait) {
  std::string y = "cairn: 1\nname: bench\nsteps:\n";
  for (int i = 0; i < steps; ++i) {
    y += "  - name: s" + std::to_string(i) + "\n    process.run: {command: [noop]}\n";
  }
  if (final_wait) y += "  - name: pause\n    wait: 1h\n";
  return y;
}

Result<std::shared_ptr<engine::Engine>> MakeEngine(const std::string& yaml,
                                                   actions::ActionRunner* actions,
                                                   const Clock& clock) {
  ValidationResult r = ValidateText(yaml, "bench.yaml");
  if (!r.ok()) return MakeError("validate", "the benchmark workflow does not validate");
  auto def = std::make_shared<const WorkflowDefinition>(std::move(r.definition));
  auto table = std::make_shared<const expr::ExpressionTable>(std::move(r.expressions));
  auto graph = CompileWorkflow(def, table);
  if (!graph.ok()) return graph.error();
  engine::EngineOptions options;
  options.clock = &clock;
  return std::make_shared<engine::Engine>(*graph, actions, options);
}

// The same checkpoints as the engine's, without the engine. The steps'
// names and ids are made once, up front: what it measures is the service.
class StepLoopInvoker final : public backend::Invoker {
 public:
  explicit StepLoopInvoker(int steps) : steps_(steps) {
    for (int i = 0; i < steps; ++i) {
      names_.push_back("s" + std::to_string(i));
      ids_.push_back(OperationId("", names_.back(), 0));  // the id the engine gives step s<i>
    }
  }
  Result<protocol::InvocationOutput> Invoke(const protocol::Invocation& inv,
                                            backend::CheckpointClient& c) override {
    std::string token = inv.checkpoint_token;
    for (int i = 0; i < steps_; ++i) {
      protocol::CheckpointRequest req;
      req.checkpoint_token = token;
      for (auto action : {protocol::OperationAction::kStart, protocol::OperationAction::kSucceed}) {
        protocol::OperationUpdate u;
        u.name = names_[static_cast<size_t>(i)];
        u.id = ids_[static_cast<size_t>(i)];
        u.type = protocol::OperationType::kStep;
        u.sub_type = "Step";
        u.action = action;
        if (action == protocol::OperationAction::kSucceed) u.payload = R"({"ok":true})";
        req.updates.push_back(std::move(u));
      }
      auto r = c.Checkpoint(inv.durable_execution_arn, req);
      if (!r.ok()) return r.error();
      token = *r->checkpoint_token;
    }
    protocol::InvocationOutput out;
    out.status = protocol::InvocationStatus::kSucceeded;
    out.result = "null";
    return out;
  }

 private:
  int steps_;
  std::vector<std::string> names_;
  std::vector<std::string> ids_;
};

// A checkpoint client without a service: accepts every checkpoint and answers
// with each update turned into its operation (as the service reports the
// operations a checkpoint changed), so that an engine runs with nothing
// else under it. Keeps the operations of the last invocation for replay.
class EchoCheckpointClient final : public backend::CheckpointClient {
 public:
  Result<protocol::CheckpointResponse> Checkpoint(const std::string&,
                                                  const protocol::CheckpointRequest& req) override {
    protocol::CheckpointResponse r;
    r.checkpoint_token = "t";
    r.new_state.operations.reserve(req.updates.size());
    for (const auto& u : req.updates) {
      protocol::Operation op;
      op.id = u.id;
      op.parent_id = u.parent_id;
      op.name = u.name;
      op.type = u.type;
      op.sub_type = u.sub_type;
      op.status = u.action == protocol::OperationAction::kSucceed ? protocol::OperationStatus::kSucceeded
                  : u.action == protocol::OperationAction::kStart ? protocol::OperationStatus::kStarted
                                                                   : protocol::OperationStatus::kFailed;
      op.result = u.payload;
      if (keep_) kept_.push_back(op);
      r.new_state.operations.push_back(std::move(op));
    }
    return r;
  }
  Result<protocol::ExecutionState> GetState(const std::string&, const std::string&,
                                            const std::string&) override {
    return protocol::ExecutionState{};
  }
  void Keep(bool keep) { keep_ = keep; }
  std::vector<protocol::Operation>& kept() { return kept_; }

 private:
  bool keep_ = false;
  std::vector<protocol::Operation> kept_;
};

// The first invocation of an execution with input {}: only its EXECUTION
// operation.
protocol::Invocation FirstInvocation() {
  protocol::Operation exec;
  exec.id = "execution";
  exec.type = protocol::OperationType::kExecution;
  exec.status = protocol::OperationStatus::kStarted;
  exec.input_payload = "{}";
  exec.start_timestamp = 1'700'000'000'000;
  protocol::Invocation inv;
  inv.durable_execution_arn =
      "arn:aws:lambda:local:000000000000:function:bench:$LATEST/durable-execution/bench/1";
  inv.checkpoint_token = "t";
  inv.initial_state.operations.push_back(std::move(exec));
  return inv;
}

// CPU seconds of one engine invocation that runs a whole workflow against
// EchoCheckpointClient, best of `repeat`.
double EngineAloneCpu(engine::Engine& engine, int repeat) {
  double best = 1e9;
  const protocol::Invocation inv = FirstInvocation();
  for (int i = 0; i < repeat; ++i) {
    EchoCheckpointClient client;
    double c0 = CpuSeconds();
    auto out = engine.Invoke(inv, client);
    double c = CpuSeconds() - c0;
    if (!out.ok() || out->status != protocol::InvocationStatus::kSucceeded) return -1;
    best = std::min(best, c);
  }
  return best;
}

// Milliseconds of the engine alone replaying `ops` completed operations from
// one page in memory (the invocation after the final wait), best of `repeat`.
Span EngineAloneReplay(engine::Engine& engine, int repeat) {
  EchoCheckpointClient client;
  client.Keep(true);
  protocol::Invocation inv = FirstInvocation();
  auto first = engine.Invoke(inv, client);  // runs every step, then waits
  if (!first.ok() || first->status != protocol::InvocationStatus::kPending) return {-1, -1};
  for (auto& op : client.kept()) {
    if (op.status == protocol::OperationStatus::kStarted && op.type == protocol::OperationType::kStep) {
      continue;  // superseded by the SUCCEEDED operation of the same id
    }
    if (op.type == protocol::OperationType::kWait) op.status = protocol::OperationStatus::kSucceeded;
    inv.initial_state.operations.push_back(std::move(op));
  }
  Span best;
  for (int i = 0; i < repeat; ++i) {
    EchoCheckpointClient replay_client;
    Stopwatch watch;
    auto out = engine.Invoke(inv, replay_client);
    Span span = watch.Stop();
    if (!out.ok() || out->status != protocol::InvocationStatus::kSucceeded) return {-1, -1};
    best.Best(span);
  }
  return best;
}

// Milliseconds of the invocation that replays `ops` completed steps after the
// final wait, through a service (MemoryStore) that has the execution cached;
// best of `repeat` executions.
Span WarmReplay(int ops, actions::ActionRunner& actions, int repeat) {
  Span best;
  const Span failed{-1, -1};
  for (int i = 0; i < repeat; ++i) {
    MemoryStore memory;
    FakeClock fake(1'700'000'000'000);
    auto engine = MakeEngine(StepsWorkflow(ops, true), &actions, fake);
    if (!engine.ok()) return failed;
    auto service = LocalDurableService::Create(memory, fake, engine->get());
    if (!service.ok()) return failed;
    if (!(*service)->StartExecution({"bench", "replay", "{}", std::nullopt}).ok()) return failed;
    if (!(*service)->RunUntilIdle().ok()) return failed;  // runs every step, then waits
    fake.Advance(3'600'000);
    Stopwatch watch;
    auto report = (*service)->RunOnce();  // fires the wait, invokes: replay + end
    Span span = watch.Stop();
    if (!report.ok() || report->invocations != 1) return failed;
    best.Best(span);
  }
  return best;
}

// CPU seconds of running one execution of `invoker` to its end, `repeat` times.
double RunCpu(backend::Invoker& invoker, const Clock& clock, int repeat) {
  double best = 1e9;
  for (int i = 0; i < repeat; ++i) {
    MemoryStore store;
    auto service = LocalDurableService::Create(store, clock, &invoker);
    if (!service.ok()) return -1;
    if (!(*service)->StartExecution({"bench", std::nullopt, "{}", std::nullopt}).ok()) return -1;
    double c0 = CpuSeconds();
    if (!(*service)->RunUntilIdle().ok()) return -1;
    best = std::min(best, CpuSeconds() - c0);
  }
  return best;
}

// The machine's memory speed as this process sees it: 1M dependent reads at
// random over 16 MiB (a pointer chase through one random cycle), best of 3,
// in ms. On the development VM it differs up to 2.5x between processes of
// the same binary (the host's placement of the process's memory), and the
// engine's memory-bound figures, replay above all, move with it; printed
// beside them so that a slow process is seen as one.
double MemoryProbeMs() {
  constexpr size_t kSlots = size_t{1} << 22;  // 4M x 4 bytes
  std::vector<uint32_t> next(kSlots);
  std::vector<uint32_t> order(kSlots);
  for (size_t i = 0; i < kSlots; ++i) order[i] = static_cast<uint32_t>(i);
  std::mt19937 rng(42);
  std::shuffle(order.begin(), order.end(), rng);
  for (size_t i = 0; i < kSlots; ++i) next[order[i]] = order[(i + 1) % kSlots];
  double best = 1e9;
  uint32_t at = 0;
  for (int r = 0; r < 3; ++r) {
    Stopwatch watch;
    for (int k = 0; k < 1'000'000; ++k) at = next[at];
    best = std::min(best, watch.Stop().wall_ms);
  }
  if (at == kSlots) std::printf(" ");  // keeps the chase
  return best;
}

int Main(int argc, char** argv) {
  int steps = 2000;
  int replay_ops = 10'000;
  std::string dir = ".";
  int part = 0;         // 0: both
  int engine_only = 0;   // > 0: only the engine-alone figures, this many times
  int service_only = 0;   // > 0: only the scripted service figure, this many times
  int combined_only = 0;  // > 0: only the engine + service figures, this many times
  int repetitions = 1;
  bool default_malloc = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--steps") steps = std::atoi(argv[i + 1]);
    if (a == "--replay-ops") replay_ops = std::atoi(argv[i + 1]);
    if (a == "--dir") dir = argv[i + 1];
    if (a == "--part") part = std::atoi(argv[i + 1]);
    if (a == "--engine-only") engine_only = std::atoi(argv[i + 1]);
    if (a == "--service-only") service_only = std::atoi(argv[i + 1]);
    if (a == "--combined-only") combined_only = std::atoi(argv[i + 1]);
    if (a == "--repetitions") repetitions = std::max(1, std::atoi(argv[i + 1]));
    if (a == "--malloc") default_malloc = std::string(argv[i + 1]) == "default";
  }
  if (!default_malloc) {
    const char* tunables = std::getenv("GLIBC_TUNABLES");
    TuneAllocatorForLongRuns(tunables ? tunables : "");
  }
  std::filesystem::create_directories(dir);
  const SystemClock& clock = SystemClock::Instance();
  NoopActions actions;

  if (service_only > 0) {
    StepLoopInvoker loop(steps);
    double cpu = RunCpu(loop, clock, service_only);
    std::printf("service alone: %.2f us per step (%d steps, best of %d)\n", cpu / steps * 1e6,
                steps, service_only);
    return 0;
  }
  if (combined_only > 0) {
    if (part != 2 && part != 3) {
      auto engine = MakeEngine(StepsWorkflow(steps, false), &actions, clock);
      if (!engine.ok()) return 1;
      double cpu = RunCpu(**engine, clock, combined_only);
      std::printf("engine + service: %.2f us per step (%d steps, best of %d)\n",
                  cpu / steps * 1e6, steps, combined_only);
    }
    if (part != 1) {
      Span s = WarmReplay(replay_ops, actions, combined_only);
      std::printf("warm replay of %d operations: %.2f ms, CPU %.2f ms (best of %d; memory probe "
                  "%.2f ms)\n", replay_ops, s.wall_ms, s.cpu_ms, combined_only, MemoryProbeMs());
    }
    return 0;
  }

  if (engine_only > 0) {
    FakeClock fake(1'700'000'000'000);
    auto run_all = MakeEngine(StepsWorkflow(steps, false), &actions, clock);
    auto replay = MakeEngine(StepsWorkflow(replay_ops, true), &actions, fake);
    if (!run_all.ok() || !replay.ok()) return 1;
    if (part != 2 && part != 3) {
      double cpu = EngineAloneCpu(**run_all, engine_only);
      std::printf("engine alone: %.2f us per step (%d steps, best of %d)\n", cpu / steps * 1e6,
                  steps, engine_only);
    }
    if (part != 1) {
      Span s = EngineAloneReplay(**replay, engine_only);
      std::printf("engine alone: replay of %d operations %.2f ms, CPU %.2f ms (best of %d)\n",
                  replay_ops, s.wall_ms, s.cpu_ms, engine_only);
    }
    return 0;
  }

  std::printf("engine_bench (malloc: %s)\n",
              default_malloc ? "glibc defaults, --malloc default"
                             : "thresholds fixed as in cairn-engine, core/allocator_tuning.h");
  std::printf("memory probe of this process: %.2f ms (1M dependent random reads over 16 MiB)\n\n",
              MemoryProbeMs());
  // 1. CPU per step.
  if (part == 0 || part == 1) {
    auto engine = MakeEngine(StepsWorkflow(steps, false), &actions, clock);
    if (!engine.ok()) {
      std::fprintf(stderr, "%s\n", engine.error().ToString().c_str());
      return 1;
    }
    StepLoopInvoker loop(steps);
    // The three figures are taken in turn, `repetitions` times, so that a
    // change of the machine's load touches all of them alike.
    std::vector<double> both, service, alone, difference;
    for (int r = 0; r < repetitions; ++r) {
      both.push_back(RunCpu(**engine, clock, 3) / steps * 1e6);
      service.push_back(RunCpu(loop, clock, 3) / steps * 1e6);
      alone.push_back(EngineAloneCpu(**engine, 3) / steps * 1e6);
      difference.push_back(both.back() - service.back());
    }
    std::sort(both.begin(), both.end());
    const double per_step = both[both.size() / 2];
    std::printf("1. CPU per action step (%d steps, no-op action, MemoryStore, best of 3%s):\n",
                steps,
                repetitions > 1
                    ? (", median [range] of " + std::to_string(repetitions) + " runs").c_str()
                    : "");
    std::printf("   engine + service  %s us per step\n", MedianRange(both, 2).c_str());
    std::printf("   service alone     %s us per step (scripted invoker, same checkpoints)\n",
                MedianRange(service, 2).c_str());
    std::printf("   difference        %s us per step\n", MedianRange(difference, 2).c_str());
    std::printf("   engine alone      %s us per step (checkpoint client that keeps nothing)\n",
                MedianRange(alone, 2).c_str());
    std::printf("   target <= 5 us per step (engine + in-memory service): %s\n\n",
                per_step <= 5 ? "MET" : "NOT MET");
  }

  // 2. Replay of an execution with `replay_ops` completed operations.
  if (part == 0 || part == 2 || part == 3) {
    FakeClock fake(1'700'000'000'000);
    auto engine = MakeEngine(StepsWorkflow(replay_ops, true), &actions, fake);
    if (!engine.ok()) {
      std::fprintf(stderr, "%s\n", engine.error().ToString().c_str());
      return 1;
    }
    const std::string path = dir + "/engine_bench_replay.db";
    for (const char* s : {"", "-wal", "-shm"}) ::unlink((path + s).c_str());
    Span cold;
    double load_ms = 0;
    if (part == 3) {
      // Only the in-memory figures (for a profiler).
      std::vector<double> warm_wall, warm_cpu, alone_wall, alone_cpu;
      for (int r = 0; r < repetitions; ++r) {
        Span warm = WarmReplay(replay_ops, actions, 3);
        Span alone = EngineAloneReplay(**engine, 3);
        if (!warm.ok() || !alone.ok()) return 1;
        warm_wall.push_back(warm.wall_ms);
        warm_cpu.push_back(warm.cpu_ms);
        alone_wall.push_back(alone.wall_ms);
        alone_cpu.push_back(alone.cpu_ms);
      }
      std::printf("2. replay of %d completed operations (best of 3%s):\n", replay_ops,
                  repetitions > 1
                      ? (", median [range] of " + std::to_string(repetitions) + " runs").c_str()
                      : "");
      std::printf("   warm          %s ms (CPU %s ms)\n", MedianRange(warm_wall, 2).c_str(),
                  MedianRange(warm_cpu, 2).c_str());
      std::printf("   engine alone  %s ms (CPU %s ms)\n", MedianRange(alone_wall, 2).c_str(),
                  MedianRange(alone_cpu, 2).c_str());
      return 0;
    }
    {
      auto store = SqliteStore::Open(path);
      if (!store.ok()) return 1;
      auto service = LocalDurableService::Create(**store, fake, engine->get());
      if (!service.ok()) return 1;
      auto started = (*service)->StartExecution({"bench", "replay", "{}", std::nullopt});
      if (!started.ok()) return 1;
      auto t_build = std::chrono::steady_clock::now();
      if (!(*service)->RunUntilIdle().ok()) return 1;  // runs every step, then waits
      std::printf("2. replay of an execution with %d completed operations (built in %.1f s):\n",
                  replay_ops, Since(t_build));
    }
    // Cold: a new service on the same store after a "restart": loads the
    // execution, then the wait fires and the invocation replays all of it.
    {
      auto store = SqliteStore::Open(path);
      if (!store.ok()) return 1;
      auto t_load = std::chrono::steady_clock::now();
      auto ops = (*store)->GetOperations((*store)->FindExecutions({})->front().arn);
      load_ms = Since(t_load) * 1e3;
      if (!ops.ok()) return 1;
      auto service = LocalDurableService::Create(**store, fake, engine->get());
      if (!service.ok()) return 1;
      fake.Advance(3'600'000);
      Stopwatch watch;
      auto report = (*service)->RunOnce();  // fires the wait, invokes: replay + end
      cold = watch.Stop();
      if (!report.ok() || report->invocations != 1) return 1;
      auto rec = (*service)->GetExecution((*store)->FindExecutions({})->front().arn);
      if (!rec.ok() || rec->progress.status != protocol::ExecutionStatus::kSucceeded) {
        std::fprintf(stderr, "the replayed execution did not succeed\n");
        return 1;
      }
    }
    // Warm: the same replay through a service that has the execution cached
    // (best of 3 executions).
    Span warm = WarmReplay(replay_ops, actions, 3);
    if (!warm.ok()) return 1;
    Span alone = EngineAloneReplay(**engine, 3);
    std::printf("   warm (MemoryStore, execution cached, best of 3)  %7.2f ms  (CPU %.2f ms)\n",
                warm.wall_ms, warm.cpu_ms);
    std::printf("   cold (SqliteStore, after a restart)              %7.2f ms  (CPU %.2f ms)\n",
                cold.wall_ms, cold.cpu_ms);
    std::printf("   reference: reading the %d operations from SqliteStore alone %.2f ms\n",
                replay_ops, load_ms);
    std::printf("   reference: the engine alone replaying them from one page in memory "
                "%.2f ms (CPU %.2f ms)\n", alone.wall_ms, alone.cpu_ms);
    std::printf("   target <= 20 ms: warm %s, cold %s\n", warm.wall_ms <= 20 ? "MET" : "NOT MET",
                cold.wall_ms <= 20 ? "MET" : "NOT MET");
    for (const char* s : {"", "-wal", "-shm"}) ::unlink((path + s).c_str());
  }
  return 0;
}

}  // namespace
}  // namespace cairn::bench

int main(int argc, char** argv) { return cairn::bench::Main(argc, argv); }
