// Crash safety of the local service on SqliteStore: a child process drives
// several executions (group commit on) and reports every step whose
// completion was acknowledged by a checkpoint; the parent SIGKILLs it at a
// random moment, reopens the store, checks that every acknowledged step is
// there and the store is consistent, then resumes the executions and checks
// that they finish with the right results and that no acknowledged step ran
// again.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "backend/local/local_durable_service.h"
#include "backend/local/sqlite_store.h"
#include "backend/local/testing/mini_sdk.h"
#include "backend/local/testing/temp_dir.h"

namespace cairn::backend::local {
namespace {

using testing::MiniSdk;
using testing::ScriptedInvoker;

constexpr int kExecutions = 4;
constexpr int kSteps = 40;

std::string ExecutionName(const std::string& arn) {
  size_t end = arn.rfind('/');
  size_t begin = arn.rfind('/', end - 1) + 1;
  return arn.substr(begin, end - begin);
}

// Runs kSteps steps; `on_ran(name, i)` after step i ran and its SUCCEED was
// acknowledged.
ScriptedInvoker::Handler Steps(std::function<void(const std::string&, int)> on_ran) {
  return [on_ran](MiniSdk& sdk) {
    const std::string name = ExecutionName(sdk.arn());
    long long sum = 0;
    for (int i = 0; i < kSteps; ++i) {
      bool ran = false;
      std::string r = sdk.Step("s", [&] {
        ran = true;
        return std::to_string(i);
      });
      if (ran) on_ran(name, i);
      sum += std::stoll(r);
    }
    return std::to_string(sum);
  };
}

[[noreturn]] void RunChild(const std::string& path, int fd, bool fresh) {
  auto store = SqliteStore::Open(path);
  if (!store.ok()) _exit(3);
  std::mutex write_mu;
  ScriptedInvoker invoker(Steps([&](const std::string& name, int i) {
    std::string line = "A " + name + " " + std::to_string(i) + "\n";
    std::lock_guard lock(write_mu);
    if (write(fd, line.data(), line.size()) < 0) _exit(4);
  }));
  auto service = LocalDurableService::Create(**store, SystemClock::Instance(), &invoker);
  if (!service.ok()) _exit(5);
  if (fresh) {
    for (int e = 0; e < kExecutions; ++e) {
      if (!(*service)->StartExecution({"crash", "e" + std::to_string(e), "{}", std::nullopt}).ok())
        _exit(6);
    }
  }
  ServeOptions options;
  options.invoke_threads = kExecutions;
  (void)(*service)->Serve(options);
  _exit(0);
}

TEST(CrashTest, AcknowledgedCheckpointsSurviveSigkill) {
  testing::TempDir dir;
  const std::string path = dir.File("crash.db");
  std::mt19937 rng(12345);
  std::map<std::string, std::set<int>> acknowledged;
  int kills = 0;
  for (int round = 0; round < 3; ++round) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      RunChild(path, fds[1], round == 0);
    }
    close(fds[1]);
    const int kill_after = std::uniform_int_distribution<int>(3, 30)(rng);
    int seen = 0;
    std::string buffer;
    char chunk[4096];
    bool killed = false;
    ssize_t n;
    while ((n = read(fds[0], chunk, sizeof chunk)) > 0) {
      buffer.append(chunk, static_cast<size_t>(n));
      size_t nl;
      while ((nl = buffer.find('\n')) != std::string::npos) {
        std::istringstream line(buffer.substr(0, nl));
        buffer.erase(0, nl + 1);
        std::string tag, name;
        int i = 0;
        line >> tag >> name >> i;
        acknowledged[name].insert(i);
        ++seen;
      }
      if (!killed && seen >= kill_after) {
        kill(pid, SIGKILL);
        killed = true;
        ++kills;
      }
    }
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(killed || (WIFEXITED(status) && WEXITSTATUS(status) == 0))
        << "child status " << status;

    // Every acknowledged step is durable, and the store is consistent.
    auto store = SqliteStore::Open(path);
    ASSERT_TRUE(store.ok()) << store.error().ToString();
    ASSERT_TRUE((*store)->CheckConsistency().ok());
    ExecutionQuery q;
    q.function_name = "crash";
    auto executions = (*store)->FindExecutions(q);
    ASSERT_TRUE(executions.ok());
    ASSERT_EQ(executions->size(), static_cast<size_t>(kExecutions));
    for (const auto& e : *executions) {
      auto ops = (*store)->GetOperations(e.arn);
      ASSERT_TRUE(ops.ok());
      std::map<std::string, protocol::OperationStatus> status_by_id;
      for (const auto& op : *ops) status_by_id[op.operation.id] = op.operation.status;
      for (int i : acknowledged[e.name]) {
        auto it = status_by_id.find(std::to_string(i + 1));
        ASSERT_NE(it, status_by_id.end())
            << e.name << " step " << i << " was acknowledged but is lost";
        EXPECT_EQ(it->second, protocol::OperationStatus::kSucceeded);
      }
      auto events = (*store)->GetEvents(e.arn, 1, 100000, false);
      ASSERT_TRUE(events.ok());
      for (size_t k = 0; k < events->size(); ++k)
        EXPECT_EQ((*events)[k].event_id, static_cast<int64_t>(k + 1));
      EXPECT_EQ(e.progress.next_event_id, static_cast<int64_t>(events->size() + 1));
    }
  }
  std::printf("crash test: %d kills, %zu steps acknowledged before them\n", kills, [&] {
    size_t n = 0;
    for (auto& [k, v] : acknowledged) n += v.size();
    return n;
  }());

  // Resume to the end: results are right and no acknowledged step ran again.
  auto store = SqliteStore::Open(path);
  ASSERT_TRUE(store.ok());
  std::map<std::string, std::set<int>> reran;
  ScriptedInvoker invoker(Steps([&](const std::string& name, int i) { reran[name].insert(i); }));
  auto service = LocalDurableService::Create(**store, SystemClock::Instance(), &invoker);
  ASSERT_TRUE(service.ok());
  ASSERT_TRUE((*service)->RunUntilIdle().ok());
  ExecutionQuery q;
  q.function_name = "crash";
  auto executions = (*store)->FindExecutions(q);
  ASSERT_TRUE(executions.ok());
  for (const auto& e : *executions) {
    EXPECT_EQ(e.progress.status, protocol::ExecutionStatus::kSucceeded) << e.name;
    EXPECT_EQ(e.progress.result, std::to_string(kSteps * (kSteps - 1) / 2));
    for (int i : reran[e.name]) {
      EXPECT_FALSE(acknowledged[e.name].count(i)) << e.name << " step " << i << " completed twice";
    }
  }
  EXPECT_TRUE((*store)->CheckConsistency().ok());
}

}  // namespace
}  // namespace cairn::backend::local
