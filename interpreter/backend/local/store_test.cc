// One suite run against every Store (rocksdb's env_basic_test pattern), then
// what only SqliteStore promises: persistence, group commit, exclusive
// ownership, schema versions, read-only files.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/fs.h>
#include <sqlite3.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "backend/local/memory_store.h"
#include "backend/local/sqlite_store.h"
#include "backend/local/sqlite_wal_vfs.h"
#include "backend/local/testing/temp_dir.h"

namespace cairn::backend::local {
namespace {

using protocol::ErrorObject;
using protocol::ExecutionStatus;
using protocol::Operation;
using protocol::OperationStatus;
using protocol::OperationType;
using testing::TempDir;

ExecutionRecord MakeExecution(const std::string& name, const std::string& function = "wf",
                              int64_t start = 1000) {
  ExecutionRecord r;
  r.arn = "arn:aws:lambda:local:000000000000:function:" + function + ":$LATEST/durable-execution/" +
          name + "/id-" + name;
  r.execution_id = "id-" + name;
  r.name = name;
  r.function_name = function;
  r.input = R"({"n":1})";
  r.start_timestamp = start;
  r.execution_timeout_seconds = 3600;
  r.progress.invoke_requested = true;
  return r;
}

OperationRecord MakeOperation(const std::string& arn, int64_t seq, const std::string& id) {
  OperationRecord r;
  r.arn = arn;
  r.seq = seq;
  r.operation.id = id;
  r.operation.type = OperationType::kStep;
  r.operation.sub_type = "Step";
  r.operation.name = "step " + id;
  r.operation.status = OperationStatus::kStarted;
  r.operation.start_timestamp = 1234;
  r.operation.attempt = 0;
  return r;
}

class StoreFactory {
 public:
  virtual ~StoreFactory() = default;
  virtual std::unique_ptr<Store> Make() = 0;
};

class MemoryFactory : public StoreFactory {
 public:
  std::unique_ptr<Store> Make() override { return std::make_unique<MemoryStore>(); }
};

class SqliteFactory : public StoreFactory {
 public:
  std::unique_ptr<Store> Make() override {
    auto s = SqliteStore::Open(dir_.File("store" + std::to_string(n_++) + ".db"));
    EXPECT_TRUE(s.ok()) << s.error().ToString();
    return std::move(*s);
  }

 private:
  TempDir dir_;
  int n_ = 0;
};

class StoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "memory") {
      factory_ = std::make_unique<MemoryFactory>();
    } else {
      factory_ = std::make_unique<SqliteFactory>();
    }
    store_ = factory_->Make();
    ASSERT_NE(store_, nullptr);
  }

  void MustWrite(const WriteBatch& b) {
    Status st = store_->Write(b);
    ASSERT_TRUE(st.ok()) << st.error().ToString();
  }

  std::unique_ptr<StoreFactory> factory_;
  std::unique_ptr<Store> store_;
};

TEST_P(StoreTest, EmptyStoreHasNothing) {
  auto e = store_->GetExecution("arn:nothing");
  ASSERT_TRUE(e.ok());
  EXPECT_FALSE(e->has_value());
  auto list = store_->FindExecutions({});
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->empty());
  auto timers = store_->GetTimers();
  ASSERT_TRUE(timers.ok());
  EXPECT_TRUE(timers->empty());
  auto ops = store_->GetOperations("arn:nothing");
  ASSERT_TRUE(ops.ok());
  EXPECT_TRUE(ops->empty());
  auto cb = store_->GetCallback("nope");
  ASSERT_TRUE(cb.ok());
  EXPECT_FALSE(cb->has_value());
  EXPECT_TRUE(store_->CheckConsistency().ok());
}

TEST_P(StoreTest, ExecutionRoundTrips) {
  ExecutionRecord r = MakeExecution("a");
  r.parent_arn = "arn:parent";
  r.parent_operation_id = "op-1";
  WriteBatch b;
  b.new_executions.push_back(r);
  MustWrite(b);
  auto got = store_->GetExecution(r.arn);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_GT((*got)->seq, 0);
  r.seq = (*got)->seq;
  EXPECT_EQ(**got, r);

  ExecutionProgress p;
  p.status = ExecutionStatus::kFailed;
  p.error = ErrorObject{"Boom", "it broke", "data", {"a", "b"}};
  p.end_timestamp = 5000;
  p.next_event_id = 7;
  p.failed_invocations = 2;
  WriteBatch b2;
  b2.progress.emplace_back(r.arn, p);
  MustWrite(b2);
  got = store_->GetExecution(r.arn);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->progress, p);
  EXPECT_EQ((*got)->input, r.input);
}

TEST_P(StoreTest, DuplicateExecutionFailsTheWholeBatch) {
  WriteBatch b;
  b.new_executions.push_back(MakeExecution("a"));
  MustWrite(b);

  ExecutionRecord same_name = MakeExecution("a");
  same_name.arn += "-other";
  WriteBatch dup;
  dup.new_executions.push_back(MakeExecution("b"));
  dup.new_executions.push_back(same_name);
  Status st = store_->Write(dup);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, kStoreConstraintError);
  auto b_exec = store_->GetExecution(MakeExecution("b").arn);
  ASSERT_TRUE(b_exec.ok());
  EXPECT_FALSE(b_exec->has_value()) << "a failed batch must change nothing";

  WriteBatch same_arn;
  same_arn.new_executions.push_back(MakeExecution("a"));
  EXPECT_FALSE(store_->Write(same_arn).ok());
}

TEST_P(StoreTest, BatchForUnknownExecutionFails) {
  WriteBatch b;
  b.operations.push_back(MakeOperation("arn:unknown", 0, "op"));
  Status st = store_->Write(b);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, kStoreConstraintError);
}

TEST_P(StoreTest, OperationsUpsertAndKeepCreationOrder) {
  ExecutionRecord e = MakeExecution("a");
  WriteBatch b;
  b.new_executions.push_back(e);
  b.operations.push_back(MakeOperation(e.arn, 1, "zzz"));
  b.operations.push_back(MakeOperation(e.arn, 0, "aaa"));
  OperationRecord full = MakeOperation(e.arn, 2, "full");
  full.operation.parent_id = "aaa";
  full.operation.end_timestamp = 99;
  full.operation.status = OperationStatus::kPending;
  full.operation.result = R"("r")";
  full.operation.error = ErrorObject{"T", "M", std::nullopt, {}};
  full.operation.replay_children = false;
  full.operation.attempt = 3;
  full.operation.next_attempt_timestamp = 777;
  full.operation.scheduled_end_timestamp = 888;
  full.operation.callback_id = "cb";
  full.operation.input_payload = "in";
  b.operations.push_back(full);
  MustWrite(b);

  auto ops = store_->GetOperations(e.arn);
  ASSERT_TRUE(ops.ok());
  ASSERT_EQ(ops->size(), 3u);
  EXPECT_EQ((*ops)[0].operation.id, "aaa");
  EXPECT_EQ((*ops)[1].operation.id, "zzz");
  EXPECT_EQ((*ops)[2], full);

  OperationRecord done = MakeOperation(e.arn, 0, "aaa");
  done.operation.status = OperationStatus::kSucceeded;
  done.operation.result = "42";
  WriteBatch b2;
  b2.operations.push_back(done);
  MustWrite(b2);
  ops = store_->GetOperations(e.arn);
  ASSERT_TRUE(ops.ok());
  ASSERT_EQ(ops->size(), 3u);
  EXPECT_EQ((*ops)[0], done);
}

TEST_P(StoreTest, EventsAppendAndPage) {
  ExecutionRecord e = MakeExecution("a");
  WriteBatch b;
  b.new_executions.push_back(e);
  for (int i = 1; i <= 5; ++i) b.events.push_back({e.arn, i, "{\"n\":" + std::to_string(i) + "}"});
  MustWrite(b);

  auto all = store_->GetEvents(e.arn, 1, 100, false);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 5u);
  EXPECT_EQ((*all)[4].body, "{\"n\":5}");
  auto page = store_->GetEvents(e.arn, 2, 2, false);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].event_id, 2);
  EXPECT_EQ((*page)[1].event_id, 3);
  auto back = store_->GetEvents(e.arn, 4, 10, true);
  ASSERT_TRUE(back.ok());
  ASSERT_EQ(back->size(), 4u);
  EXPECT_EQ((*back)[0].event_id, 4);
  EXPECT_EQ((*back)[3].event_id, 1);

  // A duplicate event id fails its whole batch.
  WriteBatch dup;
  dup.operations.push_back(MakeOperation(e.arn, 0, "x"));
  dup.events.push_back({e.arn, 3, "{}"});
  EXPECT_FALSE(store_->Write(dup).ok());
  auto ops = store_->GetOperations(e.arn);
  ASSERT_TRUE(ops.ok());
  EXPECT_TRUE(ops->empty());
}

TEST_P(StoreTest, CallbacksAndTimers) {
  ExecutionRecord e = MakeExecution("a");
  WriteBatch b;
  b.new_executions.push_back(e);
  b.callbacks.push_back({"cb1", e.arn, "op1", 30, true});
  b.timers_set.push_back({{e.arn, "w", TimerKind::kWaitEnd}, 500});
  b.timers_set.push_back({{e.arn, "s", TimerKind::kStepRetry}, 100});
  b.timers_set.push_back({{e.arn, "", TimerKind::kExecutionTimeout}, 900});
  MustWrite(b);

  auto cb = store_->GetCallback("cb1");
  ASSERT_TRUE(cb.ok() && cb->has_value());
  EXPECT_EQ(**cb, (CallbackRecord{"cb1", e.arn, "op1", 30, true}));
  auto timers = store_->GetTimers();
  ASSERT_TRUE(timers.ok());
  ASSERT_EQ(timers->size(), 3u);
  EXPECT_EQ((*timers)[0].key.operation_id, "s");
  EXPECT_EQ((*timers)[1].due, 500);
  EXPECT_EQ((*timers)[2].key.kind, TimerKind::kExecutionTimeout);

  WriteBatch b2;
  b2.callbacks.push_back({"cb1", e.arn, "op1", 30, false});
  b2.timers_set.push_back({{e.arn, "w", TimerKind::kWaitEnd}, 50});  // replaces
  b2.timers_cleared.push_back({e.arn, "s", TimerKind::kStepRetry});
  b2.timers_cleared.push_back({e.arn, "absent", TimerKind::kStepRetry});
  MustWrite(b2);
  cb = store_->GetCallback("cb1");
  ASSERT_TRUE(cb.ok() && cb->has_value());
  EXPECT_FALSE((*cb)->open);
  timers = store_->GetTimers();
  ASSERT_TRUE(timers.ok());
  ASSERT_EQ(timers->size(), 2u);
  EXPECT_EQ((*timers)[0], (TimerRecord{{e.arn, "w", TimerKind::kWaitEnd}, 50}));
  EXPECT_TRUE(store_->CheckConsistency().ok());
}

TEST_P(StoreTest, FindExecutionsFiltersAndPages) {
  WriteBatch b;
  for (int i = 0; i < 6; ++i) {
    ExecutionRecord r = MakeExecution("e" + std::to_string(i), i % 2 ? "odd" : "even", 1000 + i);
    if (i >= 4) r.progress.status = ExecutionStatus::kSucceeded;
    b.new_executions.push_back(r);
  }
  MustWrite(b);

  ExecutionQuery q;
  q.function_name = "even";
  auto even = store_->FindExecutions(q);
  ASSERT_TRUE(even.ok());
  ASSERT_EQ(even->size(), 3u);
  EXPECT_EQ((*even)[0].name, "e0");
  EXPECT_EQ((*even)[2].name, "e4");

  q.statuses = {ExecutionStatus::kSucceeded};
  auto done = store_->FindExecutions(q);
  ASSERT_TRUE(done.ok());
  ASSERT_EQ(done->size(), 1u);
  EXPECT_EQ((*done)[0].name, "e4");

  ExecutionQuery page;
  page.limit = 4;
  auto first = store_->FindExecutions(page);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 4u);
  page.cursor = first->back().seq;
  auto second = store_->FindExecutions(page);
  ASSERT_TRUE(second.ok());
  ASSERT_EQ(second->size(), 2u);
  EXPECT_EQ((*second)[1].name, "e5");

  ExecutionQuery rev;
  rev.reverse = true;
  rev.limit = 2;
  rev.include_payloads = false;
  auto newest = store_->FindExecutions(rev);
  ASSERT_TRUE(newest.ok());
  ASSERT_EQ(newest->size(), 2u);
  EXPECT_EQ((*newest)[0].name, "e5");
  EXPECT_TRUE((*newest)[0].input.empty());
  rev.cursor = newest->back().seq;
  auto older = store_->FindExecutions(rev);
  ASSERT_TRUE(older.ok());
  ASSERT_EQ(older->size(), 2u);
  EXPECT_EQ((*older)[0].name, "e3");

  ExecutionQuery window;
  window.started_after = 1001;
  window.started_before = 1004;
  auto mid = store_->FindExecutions(window);
  ASSERT_TRUE(mid.ok());
  ASSERT_EQ(mid->size(), 2u);
  EXPECT_EQ((*mid)[0].name, "e2");

  ExecutionQuery by_name;
  by_name.function_name = "odd";
  by_name.name = "e3";
  auto named = store_->FindExecutions(by_name);
  ASSERT_TRUE(named.ok());
  ASSERT_EQ(named->size(), 1u);
}

TEST_P(StoreTest, ConcurrentWritersAllLand) {
  constexpr int kThreads = 8;
  constexpr int kBatches = 12;
  WriteBatch b;
  for (int t = 0; t < kThreads; ++t)
    b.new_executions.push_back(MakeExecution("t" + std::to_string(t)));
  MustWrite(b);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::string arn = MakeExecution("t" + std::to_string(t)).arn;
      for (int i = 0; i < kBatches; ++i) {
        WriteBatch w;
        w.operations.push_back(MakeOperation(arn, i, "op" + std::to_string(i)));
        w.events.push_back({arn, i + 1, "{}"});
        if (!store_->Write(w).ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  for (int t = 0; t < kThreads; ++t) {
    auto ops = store_->GetOperations(MakeExecution("t" + std::to_string(t)).arn);
    ASSERT_TRUE(ops.ok());
    EXPECT_EQ(ops->size(), static_cast<size_t>(kBatches));
  }
  EXPECT_EQ(store_->stats().batches, 1 + kThreads * kBatches);
  EXPECT_LE(store_->stats().transactions, store_->stats().batches);
  EXPECT_TRUE(store_->CheckConsistency().ok());
}

INSTANTIATE_TEST_SUITE_P(AllStores, StoreTest, ::testing::Values("memory", "sqlite"),
                         [](const auto& info) { return info.param; });

// ---- SqliteStore only ----

TEST(SqliteStoreTest, DataSurvivesReopen) {
  TempDir dir;
  std::string path = dir.File("s.db");
  ExecutionRecord e = MakeExecution("a");
  {
    auto s = SqliteStore::Open(path);
    ASSERT_TRUE(s.ok()) << s.error().ToString();
    WriteBatch b;
    b.new_executions.push_back(e);
    b.operations.push_back(MakeOperation(e.arn, 0, "op"));
    b.timers_set.push_back({{e.arn, "op", TimerKind::kWaitEnd}, 42});
    ASSERT_TRUE((*s)->Write(b).ok());
  }
  auto s = SqliteStore::Open(path);
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  auto got = (*s)->GetExecution(e.arn);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->name, "a");
  auto timers = (*s)->GetTimers();
  ASSERT_TRUE(timers.ok());
  EXPECT_EQ(timers->size(), 1u);
  // The seq cache was empty after reopening: writes still resolve the ARN.
  WriteBatch b;
  b.operations.push_back(MakeOperation(e.arn, 1, "op2"));
  ASSERT_TRUE((*s)->Write(b).ok());
  EXPECT_TRUE((*s)->CheckConsistency().ok());
}

// Operations read back in position order, with their fields, after
// upserts and a reopen, in both layouts of the operations table, with two
// executions' operations written interleaved and ids whose order is not
// their positions'. A new store is version 3; one with the operations table
// of versions 1 and 2 stays version 2, so older builds still open it.
TEST(SqliteStoreTest, OperationsRoundTripInBothLayouts) {
  for (bool legacy : {false, true}) {
    SCOPED_TRACE(legacy ? "version 2 tables" : "version 3 tables");
    TempDir dir;
    std::string path = dir.File("o.db");
    SqliteStoreOptions options;
    options.version2_layout_for_testing = legacy;
    std::vector<ExecutionRecord> execs = {MakeExecution("a"), MakeExecution("b")};
    const std::vector<std::string> ids = {"z-9", "a-1", "m-5", "b-2", "y-0"};
    // b ends; a runs on.
    auto check = [&](SqliteStore& s) {
      for (const auto& e : execs) {
        auto ops = s.GetOperations(e.arn);
        ASSERT_TRUE(ops.ok()) << ops.error().ToString();
        ASSERT_EQ(ops->size(), ids.size());
        for (size_t i = 0; i < ids.size(); ++i) {
          const OperationRecord& r = (*ops)[i];
          EXPECT_EQ(r.arn, e.arn);
          EXPECT_EQ(r.seq, static_cast<int64_t>(i));
          EXPECT_EQ(r.operation.id, ids[i]);
          EXPECT_EQ(r.operation.name, "step " + ids[i]);
          EXPECT_EQ(r.operation.status,
                    i == 2 ? OperationStatus::kSucceeded : OperationStatus::kStarted);
          EXPECT_EQ(r.operation.result, i == 2 ? std::optional<std::string>(e.name + "!")
                                               : std::nullopt);
        }
      }
      auto none = s.GetOperations(MakeExecution("nobody").arn);
      ASSERT_TRUE(none.ok());
      EXPECT_TRUE(none->empty());
      // Executions are found by ARN (version 3: through the names in it),
      // and listed by status (version 3: the running ones through a partial
      // index, the others by reading the table).
      for (const auto& e : execs) {
        auto got = s.GetExecution(e.arn);
        ASSERT_TRUE(got.ok() && got->has_value()) << e.arn;
        EXPECT_EQ((*got)->name, e.name);
        auto other_id = s.GetExecution(e.arn + "x");
        ASSERT_TRUE(other_id.ok());
        EXPECT_FALSE(other_id->has_value());
      }
      for (std::string odd : {"", "arn:nothing", "x/durable-execution/a/id-a"}) {
        auto got = s.GetExecution(odd);
        ASSERT_TRUE(got.ok());
        EXPECT_FALSE(got->has_value()) << odd;
      }
      for (auto status : {ExecutionStatus::kRunning, ExecutionStatus::kSucceeded}) {
        ExecutionQuery q;
        q.statuses = {status};
        auto listed = s.FindExecutions(q);
        ASSERT_TRUE(listed.ok());
        ASSERT_EQ(listed->size(), 1u);
        EXPECT_EQ((*listed)[0].arn, execs[status == ExecutionStatus::kRunning ? 0 : 1].arn);
      }
      EXPECT_TRUE(s.CheckConsistency().ok());
      EXPECT_EQ(s.schema_version(), legacy ? 2 : SqliteStore::kSchemaVersion);
    };
    {
      auto s = SqliteStore::Open(path, options);
      ASSERT_TRUE(s.ok()) << s.error().ToString();
      WriteBatch start;
      for (const auto& e : execs) start.new_executions.push_back(e);
      ASSERT_TRUE((*s)->Write(start).ok());
      for (size_t i = 0; i < ids.size(); ++i) {
        for (const auto& e : execs) {
          WriteBatch b;
          b.operations.push_back(MakeOperation(e.arn, static_cast<int64_t>(i), ids[i]));
          ASSERT_TRUE((*s)->Write(b).ok());
        }
      }
      for (const auto& e : execs) {
        WriteBatch b;
        OperationRecord done = MakeOperation(e.arn, 2, ids[2]);
        done.operation.status = OperationStatus::kSucceeded;
        done.operation.result = e.name + "!";
        b.operations.push_back(done);
        if (e.name == "b") {
          ExecutionProgress ended = e.progress;
          ended.status = ExecutionStatus::kSucceeded;
          ended.end_timestamp = 2000;
          b.progress.emplace_back(e.arn, ended);
        }
        ASSERT_TRUE((*s)->Write(b).ok());
      }
      check(**s);
    }
    auto s = SqliteStore::Open(path);
    ASSERT_TRUE(s.ok()) << s.error().ToString();
    check(**s);
  }
}

// Batches that only append events leave the executions row alone (schema
// version 2); the next event id still follows the events, for every
// execution, after a reopen too, in both layouts of the events table.
TEST(SqliteStoreTest, NextEventIdFollowsTheEventsAcrossReopen) {
  for (bool legacy : {false, true}) {
    SCOPED_TRACE(legacy ? "version 1 events table" : "keyed events table");
    TempDir dir;
    std::string path = dir.File("n.db");
    SqliteStoreOptions options;
    options.legacy_events_layout_for_testing = legacy;
    std::vector<ExecutionRecord> execs = {MakeExecution("a"), MakeExecution("b"),
                                          MakeExecution("c")};
    auto check = [&](Store& s) {
      for (size_t i = 0; i < execs.size(); ++i) {
        auto got = s.GetExecution(execs[i].arn);
        ASSERT_TRUE(got.ok() && got->has_value());
        EXPECT_EQ((*got)->progress.next_event_id, static_cast<int64_t>(2 + 3 * (i + 1)));
        EXPECT_TRUE((*got)->progress.invoke_requested);
        auto events = s.GetEvents(execs[i].arn, 1, 100, false);
        ASSERT_TRUE(events.ok());
        ASSERT_EQ(events->size(), 1 + 3 * (i + 1));
        for (size_t k = 0; k < events->size(); ++k) {
          EXPECT_EQ((*events)[k].event_id, static_cast<int64_t>(k + 1));
          EXPECT_EQ((*events)[k].body, "{\"e\":" + std::to_string(k + 1) + "}");
        }
        auto reversed = s.GetEvents(execs[i].arn, INT64_MAX, 2, true);
        ASSERT_TRUE(reversed.ok());
        ASSERT_EQ(reversed->size(), 2u);
        EXPECT_EQ((*reversed)[0].event_id, static_cast<int64_t>(1 + 3 * (i + 1)));
        auto middle = s.GetEvents(execs[i].arn, 2, 2, false);
        ASSERT_TRUE(middle.ok());
        ASSERT_EQ(middle->size(), 2u);
        EXPECT_EQ((*middle)[1].event_id, 3);
      }
      ExecutionQuery q;
      q.include_payloads = false;
      auto listed = s.FindExecutions(q);
      ASSERT_TRUE(listed.ok());
      ASSERT_EQ(listed->size(), 3u);
      EXPECT_EQ((*listed)[2].progress.next_event_id, 11);
      EXPECT_TRUE(s.CheckConsistency().ok());
    };
    {
      auto s = SqliteStore::Open(path, options);
      ASSERT_TRUE(s.ok()) << s.error().ToString();
      for (auto& e : execs) {
        e.progress.next_event_id = 2;
        WriteBatch b;
        b.new_executions.push_back(e);
        b.events.push_back({e.arn, 1, "{\"e\":1}"});
        ASSERT_TRUE((*s)->Write(b).ok());
      }
      // Execution i gets i + 1 batches of three events, progress unchanged
      // but for next_event_id.
      for (size_t i = 0; i < execs.size(); ++i) {
        for (size_t round = 0; round <= i; ++round) {
          WriteBatch b;
          ExecutionProgress p = execs[i].progress;
          for (int k = 0; k < 3; ++k) {
            b.events.push_back(
                {execs[i].arn, p.next_event_id, "{\"e\":" + std::to_string(p.next_event_id) + "}"});
            ++p.next_event_id;
          }
          b.progress.emplace_back(execs[i].arn, p);
          execs[i].progress = p;
          ASSERT_TRUE((*s)->Write(b).ok());
        }
      }
      check(**s);
      // A progress change is written (and kept) although events come with it.
      WriteBatch b;
      ExecutionProgress p = execs[0].progress;
      p.invoke_requested = false;
      b.progress.emplace_back(execs[0].arn, p);
      ASSERT_TRUE((*s)->Write(b).ok());
      auto got = (*s)->GetExecution(execs[0].arn);
      ASSERT_TRUE(got.ok() && got->has_value());
      EXPECT_FALSE((*got)->progress.invoke_requested);
      p.invoke_requested = true;
      WriteBatch back;
      back.progress.emplace_back(execs[0].arn, p);
      ASSERT_TRUE((*s)->Write(back).ok());
    }
    auto s = SqliteStore::Open(path);
    ASSERT_TRUE(s.ok()) << s.error().ToString();
    check(**s);
  }
}

TEST(SqliteStoreTest, GroupCommitSharesTransactions) {
  TempDir dir;
  auto s = SqliteStore::Open(dir.File("g.db"));
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  Store& store = **s;
  constexpr int kThreads = 8;
  constexpr int kBatches = 25;
  WriteBatch b;
  for (int t = 0; t < kThreads; ++t)
    b.new_executions.push_back(MakeExecution("t" + std::to_string(t)));
  ASSERT_TRUE(store.Write(b).ok());
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::string arn = MakeExecution("t" + std::to_string(t)).arn;
      for (int i = 0; i < kBatches; ++i) {
        WriteBatch w;
        w.operations.push_back(MakeOperation(arn, i, "op" + std::to_string(i)));
        EXPECT_TRUE(store.Write(w).ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  StoreStats st = store.stats();
  EXPECT_EQ(st.batches, 1 + kThreads * kBatches);
  // Each batch is durable when its Write returns, but concurrent batches
  // share syncs (and, when they queue behind a commit, transactions).
  EXPECT_LE(st.transactions, st.batches);
  EXPECT_GE(st.wal_syncs, 1);
  EXPECT_LE(st.wal_syncs, st.transactions) << "a sync covers every commit written before it";
  EXPECT_LT(st.wal_syncs, st.batches) << "concurrent batches should share syncs";
  std::printf("group commit: %lld batches in %lld transactions, made durable by %lld syncs\n",
              static_cast<long long>(st.batches), static_cast<long long>(st.transactions),
              static_cast<long long>(st.wal_syncs));
}

// A gate for the sync stage's syncs (before_wal_sync_for_testing): while
// closed, a sync waits at it.
class SyncGate {
 public:
  std::function<int()> Hook() {
    return [this] {
      std::unique_lock lock(mu_);
      ++arrived_;
      cv_.notify_all();
      cv_.wait(lock, [&] { return open_; });
      return fail_with_;
    };
  }
  void Close() {
    std::lock_guard lock(mu_);
    open_ = false;
  }
  void Open(int fail_with = 0) {
    std::lock_guard lock(mu_);
    open_ = true;
    fail_with_ = fail_with;
    cv_.notify_all();
  }
  // Waits until `n` syncs have reached the gate in all.
  bool AwaitArrivals(int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return arrived_ >= n; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = true;
  int fail_with_ = 0;
  int arrived_ = 0;
};

// The sync stage (SqliteStoreOptions::pipelined_sync): a commit's WAL sync
// runs after SQLite's lock is released, so a second writer commits while
// the first one's sync is under way; but neither Write returns, nor does a
// read of what they wrote, before a sync that began after the commit has
// ended.
TEST(SqliteStoreTest, NothingIsReturnedBeforeItsSyncHasEnded) {
  TempDir dir;
  SyncGate gate;
  SqliteStoreOptions options;
  options.before_wal_sync_for_testing = gate.Hook();
  auto s = SqliteStore::Open(dir.File("p.db"), options);
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  Store& store = **s;
  ExecutionRecord e = MakeExecution("p");
  WriteBatch first;
  first.new_executions.push_back(e);
  ASSERT_TRUE(store.Write(first).ok());
  ASSERT_TRUE(gate.AwaitArrivals(1));

  gate.Close();
  std::atomic<bool> wrote1{false}, wrote2{false}, read{false};
  std::thread w1([&] {
    WriteBatch b;
    b.operations.push_back(MakeOperation(e.arn, 0, "op0"));
    EXPECT_TRUE(store.Write(b).ok());
    wrote1 = true;
  });
  ASSERT_TRUE(gate.AwaitArrivals(2));  // w1 committed; its sync waits at the gate
  std::thread w2([&] {
    WriteBatch b;
    b.operations.push_back(MakeOperation(e.arn, 1, "op1"));
    EXPECT_TRUE(store.Write(b).ok());
    wrote2 = true;
  });
  std::thread reader([&] {
    auto ops = store.GetOperations(e.arn);
    ASSERT_TRUE(ops.ok());
    EXPECT_GE(ops->size(), 1u);
    read = true;
  });
  // w2 commits while w1's sync is held (SQLite's lock is free)...
  for (int i = 0; i < 500 && store.stats().transactions < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_EQ(store.stats().transactions, 3) << "the second commit waited for the first one's sync";
  // ...but nothing returns while the sync is held.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(wrote1.load());
  EXPECT_FALSE(wrote2.load());
  EXPECT_FALSE(read.load());

  gate.Open();
  w1.join();
  w2.join();
  reader.join();
  EXPECT_TRUE(wrote1 && wrote2 && read);
  StoreStats st = store.stats();
  EXPECT_EQ(st.transactions, 3);
  // One sync each for the first write and w1; w2 committed during w1's sync,
  // so it needed one more.
  EXPECT_EQ(st.wal_syncs, 3);
  auto ops = store.GetOperations(e.arn);
  ASSERT_TRUE(ops.ok());
  EXPECT_EQ(ops->size(), 2u);
}

// When a sync fails, the writes it was to make durable fail, and so does
// every write after it (the kernel may have dropped the pages it could not
// write; PostgreSQL stops for the same reason). Opening the store again
// recovers it.
TEST(SqliteStoreTest, AFailedSyncFailsItsWritesAndLaterOnes) {
  TempDir dir;
  SyncGate gate;
  SqliteStoreOptions options;
  options.before_wal_sync_for_testing = gate.Hook();
  std::string path = dir.File("f.db");
  ExecutionRecord e = MakeExecution("f");
  {
    auto s = SqliteStore::Open(path, options);
    ASSERT_TRUE(s.ok()) << s.error().ToString();
    WriteBatch first;
    first.new_executions.push_back(e);
    ASSERT_TRUE((*s)->Write(first).ok());
    gate.Open(EIO);
    WriteBatch b;
    b.operations.push_back(MakeOperation(e.arn, 0, "op0"));
    Status st = (*s)->Write(b);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, kStoreIoError);
    EXPECT_NE(st.error().message.find("syncing the WAL failed"), std::string::npos)
        << st.error().message;
    gate.Open(0);
    WriteBatch later;
    later.operations.push_back(MakeOperation(e.arn, 1, "op1"));
    st = (*s)->Write(later);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, kStoreIoError);
  }
  auto s = SqliteStore::Open(path);
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_TRUE((*s)->CheckConsistency().ok());
  auto ex = (*s)->GetExecution(e.arn);
  ASSERT_TRUE(ex.ok() && ex->has_value());
  WriteBatch again;
  again.operations.push_back(MakeOperation(e.arn, 2, "op2"));
  EXPECT_TRUE((*s)->Write(again).ok());
}

// A checkpoint reads the WAL once and writes runs of adjacent database
// pages as one write each; what it wrote is the database: a copy of the
// database file alone, taken after it, holds every row.
TEST(SqliteWalVfsTest, ACheckpointReadsTheWalOnceAndGathersAdjacentPages) {
  TempDir dir;
  const std::string path = dir.File("c.db");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                            WalWriteGatheringVfsName()),
            SQLITE_OK);
  auto exec = [](sqlite3* on, const char* sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(on, sql, nullptr, nullptr, &err);
    EXPECT_EQ(rc, SQLITE_OK) << sql << ": " << (err ? err : "");
    sqlite3_free(err);
  };
  exec(db, "PRAGMA page_size=1024");
  exec(db, "PRAGMA locking_mode=EXCLUSIVE");
  exec(db, "PRAGMA journal_mode=WAL");
  exec(db, "PRAGMA wal_autocheckpoint=0");
  exec(db, "CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB)");
  exec(db,
       "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) "
       "INSERT INTO t SELECT i, randomblob(200) FROM n");
  exec(db, "UPDATE t SET v = zeroblob(100) WHERE k % 7 = 0");  // pages here and there
  const WalWriteStats before = CurrentWalWriteStats();
  int log_frames = 0, checkpointed = 0;
  ASSERT_EQ(sqlite3_wal_checkpoint_v2(db, "main", SQLITE_CHECKPOINT_PASSIVE, &log_frames,
                                      &checkpointed),
            SQLITE_OK);
  const WalWriteStats after = CurrentWalWriteStats();
  EXPECT_EQ(checkpointed, log_frames);
  const int64_t pages = after.checkpoint_pages_received - before.checkpoint_pages_received;
  const int64_t writes = after.checkpoint_writes_issued - before.checkpoint_writes_issued;
  const int64_t reads = after.checkpoint_wal_reads_issued - before.checkpoint_wal_reads_issued;
  std::printf("checkpoint of %d frames: %lld pages written in %lld writes, %lld reads of the WAL\n",
              log_frames, static_cast<long long>(pages), static_cast<long long>(writes),
              static_cast<long long>(reads));
  EXPECT_GE(pages, 400);
  EXPECT_LE(writes * 10, pages);
  std::error_code ec;
  const auto wal_size = std::filesystem::file_size(path + "-wal", ec);
  ASSERT_FALSE(ec);
  EXPECT_LE(reads, static_cast<int64_t>(wal_size / (64 << 10)) + 1);

  const std::string copy = dir.File("copy.db");
  std::filesystem::copy_file(path, copy, ec);
  ASSERT_FALSE(ec) << ec.message();
  sqlite3* check = nullptr;
  ASSERT_EQ(sqlite3_open_v2(copy.c_str(), &check, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(check,
                               "SELECT count(*), sum(length(v)), (SELECT integrity_check FROM "
                               "pragma_integrity_check) FROM t",
                               -1, &stmt, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int64(stmt, 0), 2000);
  EXPECT_EQ(sqlite3_column_int64(stmt, 1), 2000 * 200 - (2000 / 7) * 100);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 2)), "ok");
  sqlite3_finalize(stmt);
  sqlite3_close_v2(check);
  sqlite3_close_v2(db);
}

// ScopedWalSyncDeferral leaves a commit's WAL sync to the caller, but never
// the sync after a new WAL header: the first commit to a WAL, and the first
// after a checkpoint let SQLite restart it from the beginning.
TEST(SqliteWalVfsTest, TheSyncAfterANewWalHeaderIsNeverDeferred) {
  TempDir dir;
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(dir.File("v.db").c_str(), &db,
                            SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, WalWriteGatheringVfsName()),
            SQLITE_OK);
  auto exec = [&](const char* sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
    EXPECT_EQ(rc, SQLITE_OK) << sql << ": " << (err ? err : "");
    sqlite3_free(err);
  };
  exec("PRAGMA locking_mode=EXCLUSIVE");
  exec("PRAGMA journal_mode=WAL");
  exec("PRAGMA synchronous=FULL");
  exec("PRAGMA wal_autocheckpoint=0");
  exec("CREATE TABLE t(x)");
  exec("PRAGMA wal_checkpoint(PASSIVE)");  // the next commit restarts the WAL
  auto commit_deferred = [&](int64_t* issued, int64_t* deferred) {
    WalWriteStats before = CurrentWalWriteStats();
    bool said = false;
    {
      ScopedWalSyncDeferral deferral;
      exec("INSERT INTO t VALUES(1)");
      said = deferral.deferred();
    }
    WalWriteStats after = CurrentWalWriteStats();
    *issued = after.syncs_issued - before.syncs_issued;
    *deferred = after.syncs_deferred - before.syncs_deferred;
    EXPECT_TRUE(said);
  };
  int64_t issued = 0, deferred = 0;
  commit_deferred(&issued, &deferred);  // a new header: synced, then the commit: deferred
  EXPECT_EQ(issued, 1);
  EXPECT_EQ(deferred, 1);
  commit_deferred(&issued, &deferred);  // the WAL continues: only the commit's, deferred
  EXPECT_EQ(issued, 0);
  EXPECT_EQ(deferred, 1);
  WalWriteStats before = CurrentWalWriteStats();
  exec("PRAGMA wal_checkpoint(PASSIVE)");  // outside a deferral: its syncs are the file's
  EXPECT_GE(CurrentWalWriteStats().syncs_issued - before.syncs_issued, 1);
  commit_deferred(&issued, &deferred);  // restarted: a new header again
  EXPECT_EQ(issued, 1);
  EXPECT_EQ(deferred, 1);
  sqlite3_close_v2(db);
}

// The WAL's writes of each commit reach the file as one write
// (sqlite_wal_vfs.h), and what was written reads back, after a reopen too.
TEST(SqliteStoreTest, EachCommitWritesTheWalOnce) {
  TempDir dir;
  std::string path = dir.File("w.db");
  ExecutionRecord e = MakeExecution("w");
  constexpr int kBatches = 50;
  WalWriteStats before;
  WalWriteStats after;
  {
    auto s = SqliteStore::Open(path);
    ASSERT_TRUE(s.ok()) << s.error().ToString();
    WriteBatch first;
    first.new_executions.push_back(e);
    ASSERT_TRUE((*s)->Write(first).ok());
    before = CurrentWalWriteStats();
    for (int i = 0; i < kBatches; ++i) {
      WriteBatch b;
      b.operations.push_back(MakeOperation(e.arn, i, "op" + std::to_string(i)));
      b.events.push_back({e.arn, i + 2, "{\"e\": \"" + std::string(300, 'e') + "\"}"});
      ASSERT_TRUE((*s)->Write(b).ok());
    }
    after = CurrentWalWriteStats();
    StoreStats st = (*s)->stats();
    EXPECT_EQ(st.transactions, st.batches);  // one writer: no group to share
    // The WAL grew by zero-filled 1 MiB steps, not commit by commit.
    std::error_code ec;
    auto wal_size = std::filesystem::file_size(path + "-wal", ec);
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_EQ(wal_size % (1 << 20), 0u) << wal_size;
    // A commit larger than one write of the wrapped VFS (128 KiB).
    WriteBatch big;
    OperationRecord op = MakeOperation(e.arn, kBatches, "big");
    op.operation.result = std::string(250'000, 'x');
    big.operations.push_back(op);
    ASSERT_TRUE((*s)->Write(big).ok());
  }
  int64_t received = after.writes_received - before.writes_received;
  int64_t issued = after.writes_issued - before.writes_issued;
  std::printf("%d commits: SQLite wrote the WAL %lld times, the file got %lld writes\n", kBatches,
              static_cast<long long>(received), static_cast<long long>(issued));
  EXPECT_GE(received, 4 * kBatches);  // two frames (four writes) at least each
  EXPECT_EQ(issued, kBatches);

  auto s = SqliteStore::Open(path);
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_TRUE((*s)->CheckConsistency().ok());
  auto ops = (*s)->GetOperations(e.arn);
  ASSERT_TRUE(ops.ok()) << ops.error().ToString();
  ASSERT_EQ(ops->size(), static_cast<size_t>(kBatches) + 1);
  EXPECT_EQ((*ops)[kBatches - 1].operation.id, "op" + std::to_string(kBatches - 1));
  EXPECT_EQ(ops->back().operation.result, std::string(250'000, 'x'));
}

TEST(SqliteStoreTest, AFailingBatchInAGroupFailsAlone) {
  TempDir dir;
  auto s = SqliteStore::Open(dir.File("f.db"));
  ASSERT_TRUE(s.ok());
  Store& store = **s;
  WriteBatch b;
  b.new_executions.push_back(MakeExecution("a"));
  ASSERT_TRUE(store.Write(b).ok());
  std::string arn = MakeExecution("a").arn;
  // Many writers at once, every third one bad (duplicate event 1).
  WriteBatch first;
  first.events.push_back({arn, 1, "{}"});
  ASSERT_TRUE(store.Write(first).ok());
  std::atomic<int> ok{0}, bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 12; ++t) {
    threads.emplace_back([&, t] {
      WriteBatch w;
      if (t % 3 == 0) {
        w.operations.push_back(MakeOperation(arn, 100 + t, "bad" + std::to_string(t)));
        w.events.push_back({arn, 1, "{}"});
      } else {
        w.operations.push_back(MakeOperation(arn, t, "good" + std::to_string(t)));
      }
      (store.Write(w).ok() ? ok : bad)++;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 8);
  EXPECT_EQ(bad.load(), 4);
  auto ops = store.GetOperations(arn);
  ASSERT_TRUE(ops.ok());
  EXPECT_EQ(ops->size(), 8u);
  for (const auto& op : *ops) EXPECT_EQ(op.operation.id.rfind("good", 0), 0u) << op.operation.id;
}

TEST(SqliteStoreTest, NewerSchemaVersionIsRefused) {
  TempDir dir;
  std::string path = dir.File("v.db");
  {
    auto s = SqliteStore::Open(path);
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE((*s)->SetSchemaVersionForTesting(SqliteStore::kSchemaVersion + 1).ok());
  }
  auto s = SqliteStore::Open(path);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, kStoreNewerSchemaError);
  EXPECT_NE(s.error().message.find("newer"), std::string::npos) << s.error().message;
  EXPECT_NE(s.error().ToString().find(path), std::string::npos);
}

TEST(SqliteStoreTest, NotADatabaseIsRefused) {
  TempDir dir;
  std::string path = dir.File("junk.db");
  std::ofstream(path) << std::string(8192, 'x');
  auto s = SqliteStore::Open(path);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, kStoreCorruptError) << s.error().ToString();
}

TEST(SqliteStoreTest, StoreHeldByAnotherProcessIsLocked) {
  TempDir dir;
  std::string path = dir.File("l.db");
  auto holder = SqliteStore::Open(path);
  ASSERT_TRUE(holder.ok());
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    SqliteStoreOptions options;
    options.busy_timeout_ms = 100;
    auto s = SqliteStore::Open(path, options);
    std::string verdict = s.ok() ? "opened" : s.error().code + "|" + s.error().ToString();
    (void)!write(pipe_fds[1], verdict.data(), verdict.size());
    _exit(0);
  }
  close(pipe_fds[1]);
  std::string verdict;
  char buf[512];
  ssize_t n;
  while ((n = read(pipe_fds[0], buf, sizeof buf)) > 0) verdict.append(buf, static_cast<size_t>(n));
  close(pipe_fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_EQ(verdict.rfind(std::string(kStoreLockedError) + "|", 0), 0u) << verdict;
  EXPECT_NE(verdict.find("locked by another process"), std::string::npos) << verdict;
  // Once the holder closes, the store opens again.
  holder->reset();
  auto again = SqliteStore::Open(path);
  EXPECT_TRUE(again.ok()) << again.error().ToString();
}

// A reader in the middle of a read transaction when a writer opens a store
// that a killed writer left (its WAL not checkpointed): opening waits for
// the read to end, up to busy_timeout_ms, and past that the store is
// locked. (The case where SQLite does not wait at all is the next test's.)
TEST(SqliteStoreTest, OpeningWaitsForAReaderToFinish) {
  TempDir dir;
  // The store as a killed writer leaves it: its WAL still there, not
  // checkpointed (copied while the writer has it open).
  std::string path = dir.File("w.db");
  {
    std::string live = dir.File("live.db");
    auto s = SqliteStore::Open(live);
    ASSERT_TRUE(s.ok());
    WriteBatch b;
    b.new_executions.push_back(MakeExecution("a"));
    ASSERT_TRUE((*s)->Write(b).ok());
    std::filesystem::copy_file(live, path);
    std::filesystem::copy_file(live + "-wal", path + "-wal");
  }
  // A reader in the middle of a read transaction (SQLite's locks between
  // connections of one process behave as between processes).
  auto begin_read = [&](sqlite3** reader) {
    ASSERT_EQ(sqlite3_open_v2(path.c_str(), reader, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(*reader, "BEGIN; SELECT count(*) FROM executions;", nullptr, nullptr,
                           nullptr),
              SQLITE_OK);
  };
  sqlite3* reader = nullptr;
  begin_read(&reader);
  auto t0 = std::chrono::steady_clock::now();
  std::thread ends([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    sqlite3_exec(reader, "COMMIT", nullptr, nullptr, nullptr);
    sqlite3_close(reader);
  });
  auto s = SqliteStore::Open(path);
  auto waited = std::chrono::steady_clock::now() - t0;
  ends.join();
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_GE(waited, std::chrono::milliseconds(250));
  auto got = (*s)->GetExecution(MakeExecution("a").arn);
  ASSERT_TRUE(got.ok() && got->has_value());
  s->reset();

  // A reader that stays past busy_timeout_ms: the store is locked.
  begin_read(&reader);
  SqliteStoreOptions options;
  options.busy_timeout_ms = 200;
  t0 = std::chrono::steady_clock::now();
  auto locked = SqliteStore::Open(path, options);
  waited = std::chrono::steady_clock::now() - t0;
  sqlite3_exec(reader, "COMMIT", nullptr, nullptr, nullptr);
  sqlite3_close(reader);
  ASSERT_FALSE(locked.ok());
  EXPECT_EQ(locked.error().code, kStoreLockedError) << locked.error().ToString();
  EXPECT_GE(waited, std::chrono::milliseconds(150));
}

// A writer (`cairn run`) creating and opening the store while another
// process keeps opening it for a moment (`cairn history` without a server
// opens the store directly, and the crash test polls it so): every open
// succeeds, after waiting when it has to. SQLite answers busy at once, not
// after its busy timeout, when enabling the WAL finds the other process
// holding the new database (about one open in eight failed so, within 5 ms).
TEST(SqliteStoreTest, OpeningWaitsForAnotherProcessThatHoldsTheStoreBriefly) {
  TempDir dir;
  constexpr int kStores = 60;
  std::vector<std::string> failures;
  for (int i = 0; i < kStores; ++i) {
    std::string path = dir.File("s" + std::to_string(i) + ".db");
    pid_t prober = fork();
    ASSERT_GE(prober, 0);
    if (prober == 0) {
      // Opens the store as soon as its file exists, holds it for 5 ms,
      // lets go for 5 ms, and again.
      for (;;) {
        if (std::filesystem::exists(path)) {
          SqliteStoreOptions so;
          so.busy_timeout_ms = 300;
          auto s = SqliteStore::Open(path, so);
          if (s.ok()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
          s = MakeError("closed", "");
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
      }
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200 * (i % 10)));
    SqliteStoreOptions so;
    so.busy_timeout_ms = 2000;
    auto s = SqliteStore::Open(path, so);
    if (!s.ok()) failures.push_back(s.error().ToString());
    kill(prober, SIGKILL);
    int status = 0;
    waitpid(prober, &status, 0);
  }
  EXPECT_TRUE(failures.empty()) << failures.size() << " of " << kStores
                                << " opens failed; the first: " << failures.front();
}

TEST(SqliteStoreTest, ReadOnlyOpenReadsButRefusesWrites) {
  TempDir dir;
  std::string path = dir.File("r.db");
  ExecutionRecord e = MakeExecution("a");
  {
    auto s = SqliteStore::Open(path);
    ASSERT_TRUE(s.ok());
    WriteBatch b;
    b.new_executions.push_back(e);
    ASSERT_TRUE((*s)->Write(b).ok());
  }
  SqliteStoreOptions options;
  options.read_only = true;
  auto s = SqliteStore::Open(path, options);
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  auto got = (*s)->GetExecution(e.arn);
  ASSERT_TRUE(got.ok() && got->has_value());
  WriteBatch b;
  b.new_executions.push_back(MakeExecution("b"));
  Status st = (*s)->Write(b);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, kStoreReadOnlyError);
}

// Sets or clears the immutable attribute (what makes a file read-only even
// for root); false if the file system or the process cannot.
bool SetImmutable(const std::string& path, bool on) {
  int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0) return false;
  int flags = 0;
  bool ok = ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0;
  if (ok) {
    flags = on ? (flags | FS_IMMUTABLE_FL) : (flags & ~FS_IMMUTABLE_FL);
    ok = ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0;
  }
  close(fd);
  return ok;
}

TEST(SqliteStoreTest, ReadOnlyFileIsAClearError) {
  TempDir dir;
  std::string path = dir.File("ro.db");
  {
    auto s = SqliteStore::Open(path);
    ASSERT_TRUE(s.ok());
  }
  if (geteuid() == 0) {
    // Root ignores permission bits; the immutable attribute still binds it.
    if (!SetImmutable(path, true)) {
      GTEST_SKIP() << "running as root without FS_IOC_SETFLAGS: a read-only file cannot be "
                      "simulated (ReadOnlyOpenReadsButRefusesWrites covers the error path)";
    }
  } else {
    ASSERT_EQ(chmod(path.c_str(), 0444), 0);
  }
  auto s = SqliteStore::Open(path);
  if (geteuid() == 0) SetImmutable(path, false);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, kStoreReadOnlyError) << s.error().ToString();
  EXPECT_NE(s.error().message.find("read-only"), std::string::npos);
  EXPECT_NE(s.error().ToString().find(path), std::string::npos);
}

TEST(SqliteStoreTest, MissingDirectoryIsAClearError) {
  auto s = SqliteStore::Open("/nonexistent-cairn-dir/x/store.db");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, kStoreIoError);
  EXPECT_NE(s.error().ToString().find("/nonexistent-cairn-dir/x/store.db"), std::string::npos);
}

}  // namespace
}  // namespace cairn::backend::local
