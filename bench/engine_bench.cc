// engine_bench: what the engine costs per step and per replayed operation,
// on the embedded service with the in-memory store, each figure beside its
// reference measured in the same run (bench/README.md).
//
//   1. CPU per step of a workflow of N action steps (the action does
//      nothing), engine + service, against the service alone driven by a
//      scripted invoker with the same checkpoints; target: 5 us per step.
//   2. Replay of an execution with 10,000 completed operations: the
//      invocation after its final wait, which replays all of them (target
//      20 ms), warm (service cache) and after a restart on SqliteStore,
//      against reading the 10,000 operations from the store alone.
//
// Usage: engine_bench [--steps N] [--replay-ops N] [--dir DIR]
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include "backend/local/local_durable_service.h"
#include "backend/local/memory_store.h"
#include "backend/local/sqlite_store.h"
#include "compile/compile.h"
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

// The same checkpoints as the engine's, without the engine.
class StepLoopInvoker final : public backend::Invoker {
 public:
  explicit StepLoopInvoker(int steps) : steps_(steps) {}
  Result<protocol::InvocationOutput> Invoke(const protocol::Invocation& inv,
                                            backend::CheckpointClient& c) override {
    std::string token = inv.checkpoint_token;
    for (int i = 0; i < steps_; ++i) {
      protocol::CheckpointRequest req;
      req.checkpoint_token = token;
      for (auto action : {protocol::OperationAction::kStart, protocol::OperationAction::kSucceed}) {
        protocol::OperationUpdate u;
        u.id = "s" + std::to_string(i);
        u.name = "s" + std::to_string(i);
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
};

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

int Main(int argc, char** argv) {
  int steps = 2000;
  int replay_ops = 10'000;
  std::string dir = ".";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--steps") steps = std::atoi(argv[i + 1]);
    if (a == "--replay-ops") replay_ops = std::atoi(argv[i + 1]);
    if (a == "--dir") dir = argv[i + 1];
  }
  std::filesystem::create_directories(dir);
  const SystemClock& clock = SystemClock::Instance();
  NoopActions actions;

  // 1. CPU per step.
  {
    auto engine = MakeEngine(StepsWorkflow(steps, false), &actions, clock);
    if (!engine.ok()) {
      std::fprintf(stderr, "%s\n", engine.error().ToString().c_str());
      return 1;
    }
    StepLoopInvoker loop(steps);
    double engine_cpu = RunCpu(**engine, clock, 3);
    double service_cpu = RunCpu(loop, clock, 3);
    double per_step = engine_cpu / steps * 1e6;
    double service_per_step = service_cpu / steps * 1e6;
    std::printf("engine_bench\n\n1. CPU per action step (%d steps, no-op action, MemoryStore, best of 3):\n",
                steps);
    std::printf("   engine + service  %6.2f us per step\n", per_step);
    std::printf("   service alone     %6.2f us per step (scripted invoker, same checkpoints)\n",
                service_per_step);
    std::printf("   engine's share    %6.2f us per step\n", per_step - service_per_step);
    std::printf("   target <= 5 us per step (engine + in-memory service): %s\n\n",
                per_step <= 5 ? "MET" : "NOT MET");
  }

  // 2. Replay of an execution with `replay_ops` completed operations.
  {
    FakeClock fake(1'700'000'000'000);
    auto engine = MakeEngine(StepsWorkflow(replay_ops, true), &actions, fake);
    if (!engine.ok()) {
      std::fprintf(stderr, "%s\n", engine.error().ToString().c_str());
      return 1;
    }
    const std::string path = dir + "/engine_bench_replay.db";
    for (const char* s : {"", "-wal", "-shm"}) ::unlink((path + s).c_str());
    double warm_ms = 0, cold_ms = 0, load_ms = 0;
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
      auto t0 = std::chrono::steady_clock::now();
      auto report = (*service)->RunOnce();  // fires the wait, invokes: replay + end
      cold_ms = Since(t0) * 1e3;
      if (!report.ok() || report->invocations != 1) return 1;
      auto rec = (*service)->GetExecution((*store)->FindExecutions({})->front().arn);
      if (!rec.ok() || rec->progress.status != protocol::ExecutionStatus::kSucceeded) {
        std::fprintf(stderr, "the replayed execution did not succeed\n");
        return 1;
      }
    }
    // Warm: the same replay through a service that has the execution cached.
    {
      MemoryStore memory;
      FakeClock fake2(1'700'000'000'000);
      auto engine2 = MakeEngine(StepsWorkflow(replay_ops, true), &actions, fake2);
      auto service = LocalDurableService::Create(memory, fake2, engine2->get());
      if (!service.ok()) return 1;
      if (!(*service)->StartExecution({"bench", "replay", "{}", std::nullopt}).ok()) return 1;
      if (!(*service)->RunUntilIdle().ok()) return 1;
      fake2.Advance(3'600'000);
      auto t0 = std::chrono::steady_clock::now();
      auto report = (*service)->RunOnce();
      warm_ms = Since(t0) * 1e3;
      if (!report.ok() || report->invocations != 1) return 1;
    }
    std::printf("   warm (MemoryStore, execution cached)      %7.2f ms\n", warm_ms);
    std::printf("   cold (SqliteStore, after a restart)       %7.2f ms\n", cold_ms);
    std::printf("   reference: reading the %d operations from SqliteStore alone %.2f ms\n",
                replay_ops, load_ms);
    std::printf("   target <= 20 ms: warm %s, cold %s\n", warm_ms <= 20 ? "MET" : "NOT MET",
                cold_ms <= 20 ? "MET" : "NOT MET");
    for (const char* s : {"", "-wal", "-shm"}) ::unlink((path + s).c_str());
  }
  return 0;
}

}  // namespace
}  // namespace cairn::bench

int main(int argc, char** argv) { return cairn::bench::Main(argc, argv); }
