#include "backend/local/sqlite_store.h"

#include <fcntl.h>
#include <semaphore.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "backend/local/kill_points.h"
#include "backend/local/sqlite_wal_vfs.h"
#include "core/clock.h"

namespace cairn::backend::local {
namespace {

using protocol::ErrorObject;
using protocol::Operation;

// Executions whose seq is cached; past this the cache is dropped (it only
// saves a lookup).
constexpr size_t kMaxSeqCacheSize = 100'000;

constexpr const char* kSchemaSql = R"sql(
CREATE TABLE IF NOT EXISTS executions(
  seq INTEGER PRIMARY KEY,
  arn TEXT NOT NULL,
  execution_id TEXT NOT NULL,
  name TEXT NOT NULL,
  function_name TEXT NOT NULL,
  input TEXT NOT NULL,
  start_ts INTEGER NOT NULL,
  timeout_s INTEGER NOT NULL,
  parent_arn TEXT,
  parent_operation_id TEXT,
  status TEXT NOT NULL,
  result TEXT,
  error TEXT,
  end_ts INTEGER,
  next_event_id INTEGER NOT NULL,
  invoke_requested INTEGER NOT NULL,
  failed_invocations INTEGER NOT NULL,
  UNIQUE(function_name, name));
CREATE TABLE IF NOT EXISTS operations(
  key INTEGER PRIMARY KEY,
  id TEXT NOT NULL,
  parent_id TEXT,
  name TEXT,
  type TEXT NOT NULL,
  sub_type TEXT,
  status TEXT NOT NULL,
  start_ts INTEGER,
  end_ts INTEGER,
  input_payload TEXT,
  result TEXT,
  error TEXT,
  replay_children INTEGER,
  attempt INTEGER,
  next_attempt_ts INTEGER,
  scheduled_end_ts INTEGER,
  callback_id TEXT);
CREATE TABLE IF NOT EXISTS events(
  key INTEGER PRIMARY KEY,
  body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS callbacks(
  callback_id TEXT PRIMARY KEY,
  exec_seq INTEGER NOT NULL,
  operation_id TEXT NOT NULL,
  heartbeat_s INTEGER NOT NULL,
  open INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS timers(
  exec_seq INTEGER NOT NULL,
  operation_id TEXT NOT NULL,
  kind INTEGER NOT NULL,
  due_ms INTEGER NOT NULL,
  PRIMARY KEY(exec_seq, operation_id, kind)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS timers_by_due ON timers(due_ms);
)sql";

// The events table has one of two layouts. Stores created by schema
// version 1: events(exec_seq, event_id, body, PRIMARY KEY(exec_seq,
// event_id)) WITHOUT ROWID. Stores created since: events(key INTEGER PRIMARY
// KEY, body) with key = exec_seq << 32 | event_id — a rowid table, whose
// rows stay on their leaf up to ~1 KiB with 1 KiB pages (an index b-tree
// spills rows over ~230 bytes into overflow pages) and whose appends at the
// end split no siblings. kEventKeyLow: the key of event ?2 of execution ?1,
// clamped to the execution's range.
constexpr const char* kEventKeyLow = "((?1 << 32) + min(max(?2, 0), 4294967295))";

// The operations table has one of two layouts too. Stores created by schema
// versions 1 and 2: operations(exec_seq, id, seq, ..., PRIMARY KEY(exec_seq,
// id)) WITHOUT ROWID. Stores created since (version 3): operations(key
// INTEGER PRIMARY KEY, id, ...) with key = exec_seq << 32 | seq, for the
// same reasons as the events: a step's operation is appended at the end of
// its execution's range (an index b-tree splits into its siblings, and the
// old key put each operation at a place set by its id's hash), and a row of
// up to ~1 KiB stays on its leaf. The same statements serve both layouts
// but for the key expressions below.
// Schema version 3 also indexes fewer columns of the executions table: no
// index of the ARN (an execution is found by the function and execution
// names its ARN is made of (protocol::ParseExecutionArn), through UNIQUE(function_name,
// name)), and only the running executions by status (the partial index
// executions_running, created with a new store; a listing by another status
// reads the table in seq order). The ARN index took ≈ 2.7 pages of 1 KiB per
// execution (an ARN is ≈ 130 bytes: 7 to a leaf, and an index b-tree's
// append rebalances the last leaf with its siblings), the status index
// ≈ 3.3 (an entry removed from RUNNING and added to SUCCEEDED).
constexpr const char* kNewStoreSql =
    "CREATE INDEX IF NOT EXISTS executions_running ON executions(seq) WHERE status='RUNNING'";
constexpr const char* kVersion2ExecutionsSql =
    "CREATE TABLE IF NOT EXISTS executions(seq INTEGER PRIMARY KEY, arn TEXT NOT NULL UNIQUE, "
    "execution_id TEXT NOT NULL, name TEXT NOT NULL, function_name TEXT NOT NULL, "
    "input TEXT NOT NULL, start_ts INTEGER NOT NULL, timeout_s INTEGER NOT NULL, "
    "parent_arn TEXT, parent_operation_id TEXT, status TEXT NOT NULL, result TEXT, error TEXT, "
    "end_ts INTEGER, next_event_id INTEGER NOT NULL, invoke_requested INTEGER NOT NULL, "
    "failed_invocations INTEGER NOT NULL, UNIQUE(function_name, name));"
    "CREATE INDEX IF NOT EXISTS executions_by_status ON executions(status)";
constexpr const char* kVersion1EventsSql =
    "CREATE TABLE IF NOT EXISTS events(exec_seq INTEGER NOT NULL, event_id INTEGER NOT NULL, "
    "body TEXT NOT NULL, PRIMARY KEY(exec_seq, event_id)) WITHOUT ROWID";
constexpr const char* kLegacyOperationsSql =
    "CREATE TABLE IF NOT EXISTS operations(exec_seq INTEGER NOT NULL, id TEXT NOT NULL, "
    "seq INTEGER NOT NULL, parent_id TEXT, name TEXT, type TEXT NOT NULL, sub_type TEXT, "
    "status TEXT NOT NULL, start_ts INTEGER, end_ts INTEGER, input_payload TEXT, result TEXT, "
    "error TEXT, replay_children INTEGER, attempt INTEGER, next_attempt_ts INTEGER, "
    "scheduled_end_ts INTEGER, callback_id TEXT, PRIMARY KEY(exec_seq, id)) WITHOUT ROWID";

// Schema version 2 lets next_event_id lag behind the events (a batch that
// only appends events does not rewrite the executions row): the next event
// id is the larger of the column and the last event's id + 1.
std::string ExecutionColumns(bool keyed_events, bool payloads) {
  std::string last_event =
      keyed_events
          ? "(ifnull((SELECT max(key) FROM events WHERE key BETWEEN (executions.seq << 32) AND "
            "(executions.seq << 32) + 4294967295), 0) & 4294967295)"
          : "ifnull((SELECT max(event_id) FROM events WHERE exec_seq=executions.seq), 0)";
  return std::string("seq, arn, execution_id, name, function_name, ") +
         (payloads ? "input" : "''") +
         ", start_ts, timeout_s, parent_arn, parent_operation_id, status, " +
         (payloads ? "result, error" : "NULL, NULL") + ", end_ts, max(next_event_id, (" +
         last_event + ") + 1), invoke_requested, failed_invocations";
}

// The progress fields kept in the executions row apart from next_event_id.
bool SameProgressButEventId(const ExecutionProgress& a, const ExecutionProgress& b) {
  return a.status == b.status && a.result == b.result && a.error == b.error &&
         a.end_timestamp == b.end_timestamp && a.invoke_requested == b.invoke_requested &&
         a.failed_invocations == b.failed_invocations;
}

// Progress rows remembered (to skip rewriting an unchanged row); past this
// the memory is dropped (it only saves writes).
constexpr size_t kMaxProgressCacheSize = 100'000;

std::string_view CodeFor(int rc) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return kStoreLockedError;
    case SQLITE_READONLY:
      return kStoreReadOnlyError;
    case SQLITE_CONSTRAINT:
      return kStoreConstraintError;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return kStoreCorruptError;
    default:
      return kStoreIoError;
  }
}

// A prepared statement, reset after each use.
class Statement {
 public:
  Statement() = default;
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  int Prepare(sqlite3* db, const std::string& sql) {
    sqlite3_finalize(stmt_);
    stmt_ = nullptr;
    return sqlite3_prepare_v3(db, sql.c_str(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
  }
  void Text(int i, std::string_view v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
  }
  void Int(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  void Null(int i) { sqlite3_bind_null(stmt_, i); }
  void OptText(int i, const std::optional<std::string>& v) {
    if (v)
      Text(i, *v);
    else
      Null(i);
  }
  template <typename T>
  void OptInt(int i, const std::optional<T>& v) {
    if (v)
      Int(i, static_cast<int64_t>(*v));
    else
      Null(i);
  }
  int Step() { return sqlite3_step(stmt_); }
  void Reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

  bool IsNull(int c) const { return sqlite3_column_type(stmt_, c) == SQLITE_NULL; }
  int64_t ColInt(int c) const { return sqlite3_column_int64(stmt_, c); }
  std::string ColText(int c) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, c));
    int n = sqlite3_column_bytes(stmt_, c);
    return p ? std::string(p, static_cast<size_t>(n)) : std::string();
  }
  std::optional<std::string> ColOptText(int c) const {
    if (IsNull(c)) return std::nullopt;
    return ColText(c);
  }
  std::optional<int64_t> ColOptInt(int c) const {
    if (IsNull(c)) return std::nullopt;
    return ColInt(c);
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

// Resets a statement when leaving a scope.
class ResetOnExit {
 public:
  explicit ResetOnExit(Statement& s) : s_(s) {}
  ~ResetOnExit() { s_.Reset(); }
  ResetOnExit(const ResetOnExit&) = delete;
  ResetOnExit& operator=(const ResetOnExit&) = delete;

 private:
  Statement& s_;
};

std::optional<std::string> ErrorToText(const std::optional<ErrorObject>& e) {
  if (!e) return std::nullopt;
  return protocol::ToJson(*e).dump();
}

Result<std::optional<ErrorObject>> ErrorFromText(const std::optional<std::string>& text) {
  if (!text) return std::optional<ErrorObject>();
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded())
    return MakeError(std::string(kStoreCorruptError), "stored error is not JSON");
  auto e = protocol::ErrorObjectFromJson(j);
  if (!e.ok()) return MakeError(std::string(kStoreCorruptError), e.error().message);
  return std::optional<ErrorObject>(std::move(*e));
}

// Owns a connection.
struct Connection {
  sqlite3* db = nullptr;
  Connection() = default;
  ~Connection() {
    if (db) sqlite3_close_v2(db);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
};

// Writers waiting in the group-commit queue. A waiting writer sleeps on its
// own semaphore, which the leader releases once it has left queue_mu: woken
// under the lock (a condition variable's way), all the writers of a group
// would wake only to sleep again on queue_mu, one after the other.
//
// A POSIX semaphore, not std::binary_semaphore: libstdc++'s spins and then
// calls sched_yield before it sleeps, which doubled the context switches of
// `cairn serve` under 16 clients.
class Wakeup {
 public:
  Wakeup() { sem_init(&sem_, 0, 0); }
  ~Wakeup() { sem_destroy(&sem_); }
  Wakeup(const Wakeup&) = delete;
  Wakeup& operator=(const Wakeup&) = delete;
  // glibc's sem_post touches nothing but the futex word once the waiter
  // can see the post, so the waiter may return and destroy this at once.
  void Release() { sem_post(&sem_); }
  void Acquire() {
    while (sem_wait(&sem_) != 0) {  // EINTR
    }
  }

 private:
  sem_t sem_;
};

struct Writer {
  const WriteBatch* batch = nullptr;
  Status status;
  bool done = false;  // written before `wake` is released
  Wakeup wake;
};

// A committed group's writer whose batch is not yet durable: released when
// a sync of the WAL that began after commit `txn` has ended.
struct Unsynced {
  int64_t txn;
  Writer* writer;
};

}  // namespace

struct SqliteStore::Impl {
  std::string path;
  SqliteStoreOptions options;

  // The connection and its statements; guarded by db_mu. The connection is
  // declared first so that it is closed after the statements are finalized.
  std::mutex db_mu;
  Connection connection;
  sqlite3*& db = connection.db;
  Statement insert_execution, update_progress, update_progress_same_status, upsert_operation,
      insert_event, upsert_callback, upsert_timer, delete_timer, select_seq, select_execution,
      select_operations, select_events, select_events_reverse, select_callback, select_timers;
  // The transaction control of CommitGroup, prepared once: sqlite3_exec
  // compiled BEGIN and COMMIT again for every commit (a tenth of `cairn
  // serve`'s CPU for sequential 3-step executions).
  Statement begin_immediate, commit, rollback, savepoint, rollback_to_savepoint, release_savepoint;
  // The events and operations tables' layouts (see kEventKeyLow and
  // kLegacyOperationsSql).
  bool keyed_events = true;
  bool keyed_operations = true;
  int schema_version = 0;
  std::string execution_columns, execution_columns_no_payload;
  std::unordered_map<std::string, int64_t> seq_cache;  // committed executions
  std::unordered_map<std::string, int64_t> txn_seqs;   // looked up in the open transaction
  // The progress in the executions row of running executions (by seq), as
  // committed and as written in the open transaction: a batch whose
  // progress differs only by next_event_id, implied by its own events, does
  // not rewrite the row (schema version 2).
  std::unordered_map<int64_t, ExecutionProgress> progress_cache;
  std::unordered_map<int64_t, ExecutionProgress> txn_progress;
  // Apply's scratch: a batch's events as (execution seq, event id, index).
  std::vector<std::tuple<int64_t, int64_t, size_t>> event_order;

  // WAL bookkeeping, from the WAL hook (called with db_mu held): frames in
  // the WAL after the last commit, and frames appended in total.
  int page_size = 0;
  int checkpoint_frames = 0;  // 0 = never
  int wal_frames = 0;
  std::atomic<int64_t> wal_frames_appended{0};
  // The checkpointer thread (writable stores): checkpoints the WAL when it
  // holds checkpoint_frames or more, off the commit path. Guarded by
  // queue_mu (with `writers`).
  std::thread checkpointer;
  std::condition_variable checkpoint_cv;
  bool checkpoint_due = false;
  bool stopping = false;
  int64_t commits = 0;
  std::atomic<int64_t> checkpoints{0};

  // The group-commit queue; guarded by queue_mu.
  std::mutex queue_mu;
  std::deque<Writer*> writers;

  // The sync stage (options.pipelined_sync): commits are numbered; a
  // commit whose WAL sync was deferred (ScopedWalSyncDeferral) is durable
  // once a sync of the WAL that began after it has ended. One sync runs at
  // a time, by the leader that finds none running or, when commits are
  // left to sync after it, by the syncer thread, which syncs until none
  // are. `committed` is written with db_mu held; the rest is guarded by
  // sync_mu.
  std::atomic<int64_t> committed{0};
  std::mutex sync_mu;
  int64_t durable = 0;
  bool syncing = false;
  std::vector<Unsynced> unsynced;
  Status sync_failure;  // sticky: once a sync has failed, nothing is durable
  std::atomic<bool> sync_failed{false};  // sync_failure is set: read by Write without sync_mu
  std::condition_variable durable_cv;  // readers waiting for durability
  std::string wal_path;
  int wal_fd = -1;  // wal_path, opened for fdatasync by the first sync
  std::thread syncer;
  std::condition_variable syncer_cv;
  bool syncer_wanted = false;
  bool syncer_stopping = false;
  std::atomic<int64_t> syncs{0};

  std::atomic<int64_t> batches{0};
  std::atomic<int64_t> transactions{0};

  Error Fail(int rc, std::string_view what) const {
    std::string message = std::string(what) + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    return MakeError(std::string(CodeFor(rc)), std::move(message), "store " + path);
  }

  Status Exec(const char* sql, std::string_view what) {
    char* err = nullptr;
    int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
    if (err) sqlite3_free(err);
    if (rc != SQLITE_OK) return Fail(rc, what);
    return {};
  }

  // Runs a prepared statement that returns no rows.
  Status Run(Statement& s, std::string_view what) {
    ResetOnExit reset(s);
    int rc = s.Step();
    if (rc != SQLITE_DONE) return Fail(rc, what);
    return {};
  }

  Status PrepareAll() {
    struct Item {
      Statement* stmt;
      std::string sql;
    };
    std::vector<Item> items = {
        {&insert_execution,
         "INSERT INTO executions(arn, execution_id, name, function_name, input, start_ts, "
         "timeout_s, parent_arn, parent_operation_id, status, result, error, end_ts, "
         "next_event_id, invoke_requested, failed_invocations) "
         "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16)"},
        {&update_progress,
         "UPDATE executions SET status=?2, result=?3, error=?4, end_ts=?5, next_event_id=?6, "
         "invoke_requested=?7, failed_invocations=?8 WHERE seq=?1"},
        // Leaves the status index alone.
        {&update_progress_same_status,
         "UPDATE executions SET result=?3, error=?4, end_ts=?5, next_event_id=?6, "
         "invoke_requested=?7, failed_invocations=?8 WHERE seq=?1 AND status=?2"},
        {&upsert_operation,
         std::string("INSERT OR REPLACE INTO operations(") +
             (keyed_operations ? "key, id, " : "exec_seq, id, seq, ") +
             "parent_id, name, type, sub_type, status, start_ts, end_ts, input_payload, result, "
             "error, replay_children, attempt, next_attempt_ts, scheduled_end_ts, callback_id) "
             "VALUES(" +
             (keyed_operations ? "(?1 << 32) + ?3, ?2," : "?1,?2,?3,") +
             "?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18)"},
        {&insert_event, keyed_events
                            ? "INSERT INTO events(key, body) VALUES((?1 << 32) + ?2, ?3)"
                            : "INSERT INTO events(exec_seq, event_id, body) VALUES(?1,?2,?3)"},
        {&upsert_callback,
         "INSERT OR REPLACE INTO callbacks(callback_id, exec_seq, operation_id, heartbeat_s, "
         "open) VALUES(?1,?2,?3,?4,?5)"},
        {&upsert_timer,
         "INSERT OR REPLACE INTO timers(exec_seq, operation_id, kind, due_ms) "
         "VALUES(?1,?2,?3,?4)"},
        {&delete_timer, "DELETE FROM timers WHERE exec_seq=?1 AND operation_id=?2 AND kind=?3"},
        {&select_seq,
         "SELECT seq FROM executions WHERE function_name=?2 AND name=?3 AND arn=?1"},
        {&select_execution, "SELECT " + execution_columns +
                                " FROM executions WHERE function_name=?2 AND name=?3 AND arn=?1"},
        {&select_operations,
         std::string("SELECT ") + (keyed_operations ? "key & 4294967295" : "seq") +
             ", id, parent_id, name, type, sub_type, status, start_ts, end_ts, "
             "input_payload, result, error, replay_children, attempt, next_attempt_ts, "
             "scheduled_end_ts, callback_id FROM operations WHERE " +
             (keyed_operations ? "key BETWEEN (?1 << 32) AND (?1 << 32) + 4294967295"
                               : "exec_seq=?1")},
        {&select_events,
         keyed_events
             ? std::string("SELECT key & 4294967295, body FROM events WHERE key >= ") +
                   kEventKeyLow + " AND key <= (?1 << 32) + 4294967295 ORDER BY key LIMIT ?3"
             : "SELECT event_id, body FROM events WHERE exec_seq=?1 AND event_id>=?2 "
               "ORDER BY event_id LIMIT ?3"},
        {&select_events_reverse,
         keyed_events ? std::string("SELECT key & 4294967295, body FROM events WHERE key <= ") +
                            kEventKeyLow + " AND key >= (?1 << 32) ORDER BY key DESC LIMIT ?3"
                      : "SELECT event_id, body FROM events WHERE exec_seq=?1 AND event_id<=?2 "
                        "ORDER BY event_id DESC LIMIT ?3"},
        {&select_callback,
         "SELECT c.callback_id, e.arn, c.operation_id, c.heartbeat_s, c.open FROM callbacks c "
         "JOIN executions e ON e.seq=c.exec_seq WHERE c.callback_id=?1"},
        {&select_timers,
         "SELECT e.arn, t.operation_id, t.kind, t.due_ms FROM timers t "
         "JOIN executions e ON e.seq=t.exec_seq ORDER BY t.due_ms"},
        {&begin_immediate, "BEGIN IMMEDIATE"},
        {&commit, "COMMIT"},
        {&rollback, "ROLLBACK"},
        {&savepoint, "SAVEPOINT batch"},
        {&rollback_to_savepoint, "ROLLBACK TO batch"},
        {&release_savepoint, "RELEASE batch"},
    };
    for (auto& item : items) {
      int rc = item.stmt->Prepare(db, item.sql);
      if (rc != SQLITE_OK) return Fail(rc, "preparing a statement");
    }
    return {};
  }

  // REQUIRES: db_mu held.
  Result<std::optional<int64_t>> LookupSeq(const std::string& arn) {
    if (auto it = seq_cache.find(arn); it != seq_cache.end())
      return std::optional<int64_t>(it->second);
    if (auto it = txn_seqs.find(arn); it != txn_seqs.end())
      return std::optional<int64_t>(it->second);
    auto parts = protocol::ParseExecutionArn(arn);
    if (!parts) return std::optional<int64_t>();
    ResetOnExit reset(select_seq);
    select_seq.Text(1, arn);
    select_seq.Text(2, parts->function);
    select_seq.Text(3, parts->name);
    int rc = select_seq.Step();
    if (rc == SQLITE_DONE) return std::optional<int64_t>();
    if (rc != SQLITE_ROW) return Fail(rc, "looking up an execution");
    int64_t seq = select_seq.ColInt(0);
    txn_seqs[arn] = seq;
    return std::optional<int64_t>(seq);
  }

  // REQUIRES: db_mu held.
  Result<int64_t> RequireSeq(const std::string& arn) {
    auto seq = LookupSeq(arn);
    if (!seq.ok()) return seq.error();
    if (!*seq) {
      return MakeError(std::string(kStoreConstraintError), "no execution " + arn, "store " + path);
    }
    return **seq;
  }

  Status Step(Statement& s, std::string_view what) {
    ResetOnExit reset(s);
    int rc = s.Step();
    if (rc != SQLITE_DONE) return Fail(rc, what);
    return {};
  }

  // Applies one batch inside the open transaction. REQUIRES: db_mu held.
  Status Apply(const WriteBatch& b) {
    for (const auto& e : b.new_executions) {
      Statement& s = insert_execution;
      s.Text(1, e.arn);
      s.Text(2, e.execution_id);
      s.Text(3, e.name);
      s.Text(4, e.function_name);
      s.Text(5, e.input);
      s.Int(6, e.start_timestamp);
      s.Int(7, e.execution_timeout_seconds);
      s.OptText(8, e.parent_arn);
      s.OptText(9, e.parent_operation_id);
      std::string status(protocol::ToString(e.progress.status));
      s.Text(10, status);
      s.OptText(11, e.progress.result);
      auto error = ErrorToText(e.progress.error);
      s.OptText(12, error);
      s.OptInt(13, e.progress.end_timestamp);
      s.Int(14, e.progress.next_event_id);
      s.Int(15, e.progress.invoke_requested ? 1 : 0);
      s.Int(16, e.progress.failed_invocations);
      if (auto st = Step(s, "inserting execution " + e.arn); !st.ok()) return st;
      txn_seqs[e.arn] = sqlite3_last_insert_rowid(db);
      txn_progress[txn_seqs[e.arn]] = e.progress;
    }
    for (const auto& [arn, p] : b.progress) {
      auto seq = RequireSeq(arn);
      if (!seq.ok()) return seq.error();
      const ExecutionProgress* before = nullptr;
      if (auto it = txn_progress.find(*seq); it != txn_progress.end()) {
        before = &it->second;
      } else if (auto c = progress_cache.find(*seq); c != progress_cache.end()) {
        before = &c->second;
      }
      if (before && SameProgressButEventId(*before, p)) {
        // Skipped when the batch's own events imply next_event_id (reads
        // take the larger of the column and the last event id + 1).
        int64_t last_event = 0;
        for (const auto& ev : b.events) {
          if (ev.arn == arn) last_event = std::max(last_event, ev.event_id);
        }
        if (last_event + 1 == p.next_event_id) continue;
      }
      const bool same_status = before && before->status == p.status;
      Statement& s = same_status ? update_progress_same_status : update_progress;
      s.Int(1, *seq);
      std::string status(protocol::ToString(p.status));
      s.Text(2, status);
      s.OptText(3, p.result);
      auto error = ErrorToText(p.error);
      s.OptText(4, error);
      s.OptInt(5, p.end_timestamp);
      s.Int(6, p.next_event_id);
      s.Int(7, p.invoke_requested ? 1 : 0);
      s.Int(8, p.failed_invocations);
      if (auto st = Step(s, "updating execution " + arn); !st.ok()) return st;
      if (same_status && sqlite3_changes(db) != 1) {
        return MakeError(std::string(kStoreCorruptError),
                         "execution " + arn + " changed outside the store", "store " + path);
      }
      txn_progress[*seq] = p;
    }
    for (const auto& r : b.operations) {
      auto seq = RequireSeq(r.arn);
      if (!seq.ok()) return seq.error();
      const Operation& op = r.operation;
      Statement& s = upsert_operation;
      s.Int(1, *seq);
      s.Text(2, op.id);
      s.Int(3, r.seq);
      s.OptText(4, op.parent_id);
      s.OptText(5, op.name);
      std::string type(protocol::ToString(op.type));
      s.Text(6, type);
      s.OptText(7, op.sub_type);
      std::string status(protocol::ToString(op.status));
      s.Text(8, status);
      s.OptInt(9, op.start_timestamp);
      s.OptInt(10, op.end_timestamp);
      s.OptText(11, op.input_payload);
      s.OptText(12, op.result);
      auto error = ErrorToText(op.error);
      s.OptText(13, error);
      std::optional<int64_t> replay;
      if (op.replay_children) replay = *op.replay_children ? 1 : 0;
      s.OptInt(14, replay);
      s.OptInt(15, op.attempt);
      s.OptInt(16, op.next_attempt_timestamp);
      s.OptInt(17, op.scheduled_end_timestamp);
      s.OptText(18, op.callback_id);
      if (auto st = Step(s, "writing operation " + op.id); !st.ok()) return st;
    }
    // Events go in key order, so that each is an append to its execution's
    // range (a batch can hold a new execution's ExecutionStarted after the
    // events of its first steps: inserted last, it went before them, and the
    // full leaf was rebalanced with its siblings instead of a new leaf being
    // added).
    event_order.clear();
    for (size_t i = 0; i < b.events.size(); ++i) {
      auto seq = RequireSeq(b.events[i].arn);
      if (!seq.ok()) return seq.error();
      event_order.push_back({*seq, b.events[i].event_id, i});
    }
    if (!std::is_sorted(event_order.begin(), event_order.end())) {
      std::sort(event_order.begin(), event_order.end());
    }
    for (const auto& [seq, event_id, i] : event_order) {
      Statement& s = insert_event;
      s.Int(1, seq);
      s.Int(2, event_id);
      s.Text(3, b.events[i].body);
      if (auto st = Step(s, "writing event " + std::to_string(event_id)); !st.ok()) return st;
    }
    for (const auto& cb : b.callbacks) {
      auto seq = RequireSeq(cb.arn);
      if (!seq.ok()) return seq.error();
      Statement& s = upsert_callback;
      s.Text(1, cb.callback_id);
      s.Int(2, *seq);
      s.Text(3, cb.operation_id);
      s.Int(4, cb.heartbeat_timeout_seconds);
      s.Int(5, cb.open ? 1 : 0);
      if (auto st = Step(s, "writing a callback"); !st.ok()) return st;
    }
    for (const auto& t : b.timers_set) {
      auto seq = RequireSeq(t.key.arn);
      if (!seq.ok()) return seq.error();
      Statement& s = upsert_timer;
      s.Int(1, *seq);
      s.Text(2, t.key.operation_id);
      s.Int(3, static_cast<int>(t.key.kind));
      s.Int(4, t.due);
      if (auto st = Step(s, "writing a timer"); !st.ok()) return st;
    }
    for (const auto& k : b.timers_cleared) {
      auto seq = LookupSeq(k.arn);
      if (!seq.ok()) return seq.error();
      if (!*seq) continue;
      Statement& s = delete_timer;
      s.Int(1, **seq);
      s.Text(2, k.operation_id);
      s.Int(3, static_cast<int>(k.kind));
      if (auto st = Step(s, "clearing a timer"); !st.ok()) return st;
    }
    return {};
  }

  // Forgets what the open transaction wrote (it is being rolled back, or a
  // batch of it is): those rows are read from the database again.
  void ForgetTxn() {
    txn_seqs.clear();
    for (const auto& [seq, p] : txn_progress) progress_cache.erase(seq);
    txn_progress.clear();
  }

  // Commits `group` in one transaction. REQUIRES: db_mu held.
  // Whether the last CommitGroup's COMMIT deferred its WAL sync (then
  // `committed` counts it and the sync stage makes it durable).
  bool last_commit_deferred = false;

  void CommitGroup(const std::vector<Writer*>& group) {
    last_commit_deferred = false;
    txn_seqs.clear();
    txn_progress.clear();
    if (auto st = Run(begin_immediate, "beginning a transaction"); !st.ok()) {
      for (Writer* w : group) w->status = st;
      return;
    }
    const bool savepoints = group.size() > 1;
    size_t applied = 0;
    for (Writer* w : group) {
      if (savepoints) {
        if (auto st = Run(savepoint, "opening a savepoint"); !st.ok()) {
          w->status = st;
          continue;
        }
      }
      w->status = Apply(*w->batch);
      if (savepoints) {
        if (!w->status.ok()) {
          // Cannot fail in a healthy database; if it does, COMMIT below fails too.
          (void)Run(rollback_to_savepoint, "rolling back a batch");
          ForgetTxn();
        }
        (void)Run(release_savepoint, "releasing a savepoint");
      }
      if (w->status.ok()) ++applied;
    }
    if (!savepoints && !group[0]->status.ok()) {
      (void)Run(rollback, "rolling back");
      ForgetTxn();
      return;
    }
    CAIRN_KILL_POINT("store.applied");
    Status committed_status;
    {
      std::optional<ScopedWalSyncDeferral> deferral;
      if (options.pipelined_sync) deferral.emplace();
      committed_status = Run(commit, "committing");
      last_commit_deferred = deferral && deferral->deferred();
    }
    if (auto st = committed_status; !st.ok()) {
      (void)Run(rollback, "rolling back");
      ForgetTxn();
      for (Writer* w : group) {
        if (w->status.ok()) w->status = st;
      }
      return;
    }
    if (last_commit_deferred) committed.fetch_add(1, std::memory_order_release);
    CAIRN_KILL_POINT("store.committed");
    transactions.fetch_add(1, std::memory_order_relaxed);
    batches.fetch_add(static_cast<int64_t>(applied), std::memory_order_relaxed);
    if (seq_cache.size() + txn_seqs.size() > kMaxSeqCacheSize) seq_cache.clear();
    seq_cache.merge(txn_seqs);
    txn_seqs.clear();
    if (progress_cache.size() + txn_progress.size() > kMaxProgressCacheSize) progress_cache.clear();
    for (auto& [seq, p] : txn_progress) {
      // Ended executions are rarely written again: not kept.
      if (p.status == protocol::ExecutionStatus::kRunning) {
        progress_cache[seq] = std::move(p);
      } else {
        progress_cache.erase(seq);
      }
    }
    txn_progress.clear();
  }

  // Called by SQLite after each commit, with db_mu held (it replaces the
  // automatic checkpoint, which would run here, on the commit path).
  static int OnWalCommit(void* arg, sqlite3* /*db*/, const char* /*name*/, int frames) {
    auto* d = static_cast<Impl*>(arg);
    // Fewer frames than before: the WAL was restarted from its beginning.
    const int appended = frames >= d->wal_frames ? frames - d->wal_frames : frames;
    d->wal_frames = frames;
    d->wal_frames_appended.fetch_add(appended, std::memory_order_relaxed);
    if (d->checkpoint_frames > 0 && frames >= d->checkpoint_frames) {
      std::lock_guard lock(d->queue_mu);
      if (!d->checkpoint_due) {
        d->checkpoint_due = true;
        d->checkpoint_cv.notify_one();
      }
    }
    return SQLITE_OK;
  }

  // The checkpointer thread: when the WAL is due, waits for a moment
  // without writers (up to checkpoint_wait_ms), then copies the WAL into
  // the database (PASSIVE: the store's own connection is the only reader,
  // so everything is copied and the next commit restarts the WAL from its
  // beginning, overwriting it in place rather than growing it).
  void CheckpointLoop() {
    std::unique_lock lock(queue_mu);
    for (;;) {
      checkpoint_cv.wait(lock, [&] { return stopping || checkpoint_due; });
      if (stopping) return;
      const Clock& clock = SystemClock::Instance();
      const int64_t deadline = clock.MonotonicNanos() + options.checkpoint_wait_ms * 1'000'000LL;
      // Idle: no writer queued, and none committed for a short while.
      for (;;) {
        const int64_t seen = commits;
        if (writers.empty()) {
          checkpoint_cv.wait_for(lock, std::chrono::microseconds(500));
          if (stopping) return;
          if (writers.empty() && commits == seen) break;
        } else {
          checkpoint_cv.wait_for(lock, std::chrono::microseconds(500));
          if (stopping) return;
        }
        if (clock.MonotonicNanos() >= deadline) break;
      }
      checkpoint_due = false;
      lock.unlock();
      {
        std::lock_guard db_lock(db_mu);
        int rc = sqlite3_wal_checkpoint_v2(db, "main", SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
        if (rc == SQLITE_OK) {
          checkpoints.fetch_add(1, std::memory_order_relaxed);
        }
        // On failure the WAL keeps growing and the next commit asks again;
        // nothing is lost (the WAL holds every commit).
      }
      lock.lock();
    }
  }

  // One fdatasync of the WAL, covering every commit counted before it
  // began. Called with `lock` (sync_mu) held and `syncing` set; releases
  // the writers it made durable (after unlocking) and wakes the readers.
  void SyncOnce(std::unique_lock<std::mutex>& lock) {
    const int64_t target = committed.load(std::memory_order_acquire);
    lock.unlock();
    Status st;
    if (wal_fd < 0) {
      wal_fd = ::open(wal_path.c_str(), O_RDONLY | O_CLOEXEC);
      if (wal_fd < 0) {
        st = MakeError(std::string(kStoreIoError),
                       "opening the WAL to sync it: " + std::string(std::strerror(errno)),
                       "store " + path);
      }
    }
    if (st.ok()) {
      int rc = 0;
      if (options.before_wal_sync_for_testing) {
        if (int e = options.before_wal_sync_for_testing(); e != 0) {
          errno = e;
          rc = -1;
        }
      }
      while (rc == 0 && ::fdatasync(wal_fd) != 0) {
        if (errno != EINTR) rc = -1;
      }
      if (rc != 0) {
        // As PostgreSQL does: after a failed fsync the kernel may have
        // dropped the dirty pages, so no later sync can vouch for them.
        st = MakeError(std::string(kStoreIoError),
                       "syncing the WAL failed (" + std::string(std::strerror(errno)) +
                           "); the store accepts no more writes until it is opened again",
                       "store " + path);
      }
    }
    syncs.fetch_add(1, std::memory_order_relaxed);
    lock.lock();
    if (st.ok()) {
      durable = std::max(durable, target);
    } else if (sync_failure.ok()) {
      sync_failure = st;
      sync_failed.store(true, std::memory_order_release);
    }
    durable_cv.notify_all();
    ReleaseDurable(lock);
  }

  // Wakes the writers of `unsynced` whose commit is durable (all of them,
  // with the error, once a sync has failed). Called with `lock` (sync_mu)
  // held; releases it while waking them.
  void ReleaseDurable(std::unique_lock<std::mutex>& lock) {
    std::vector<Writer*> released;
    for (size_t i = 0; i < unsynced.size();) {
      Unsynced& u = unsynced[i];
      if (u.txn <= durable || !sync_failure.ok()) {
        if (!sync_failure.ok() && u.writer->status.ok()) u.writer->status = sync_failure;
        released.push_back(u.writer);
        u = unsynced.back();
        unsynced.pop_back();
      } else {
        ++i;
      }
    }
    lock.unlock();
    for (Writer* w : released) {
      w->done = true;
      w->wake.Release();  // w may return, and end, from here on
    }
    lock.lock();
  }

  // The leader of a committed group whose sync was deferred (commit
  // number `txn`): returns once the group is durable (or a sync failed),
  // having released its other writers.
  void AwaitDurable(int64_t txn, const std::vector<Writer*>& group, Writer* self) {
    std::unique_lock lock(sync_mu);
    for (Writer* x : group) {
      if (x != self) unsynced.push_back({txn, x});
    }
    const bool pending = durable < txn && sync_failure.ok();
    if (pending && syncing) {
      // A sync is under way: the one after it covers this commit.
      unsynced.push_back({txn, self});
      lock.unlock();
      self->wake.Acquire();
      return;
    }
    if (pending) {
      // No sync under way: this leader syncs (one thread fewer on the path
      // of a lone writer).
      syncing = true;
      SyncOnce(lock);
      if (committed.load(std::memory_order_acquire) > durable && sync_failure.ok()) {
        // Commits written meanwhile: the syncer thread takes over.
        syncer_wanted = true;
        syncer_cv.notify_one();
      } else {
        syncing = false;
      }
    } else {
      // Already durable (a sync that began after the commit has ended),
      // or failed.
      ReleaseDurable(lock);
    }
    if (!sync_failure.ok() && self->status.ok()) self->status = sync_failure;
  }

  // The syncer thread: syncs while commits are left to sync, then hands
  // the next sync back to the next leader.
  void SyncLoop() {
    std::unique_lock lock(sync_mu);
    for (;;) {
      syncer_cv.wait(lock, [&] { return syncer_wanted || syncer_stopping; });
      if (!syncer_wanted) return;
      syncer_wanted = false;
      while (committed.load(std::memory_order_acquire) > durable && sync_failure.ok()) {
        SyncOnce(lock);
      }
      syncing = false;
    }
  }

  // Waits until commit `txn` is durable, or a sync has failed.
  void AwaitDurableRead(int64_t txn) {
    std::unique_lock lock(sync_mu);
    durable_cv.wait(lock, [&] { return durable >= txn || !sync_failure.ok(); });
  }

  // Holds db_mu for a read; when it ends, having released db_mu, waits
  // until every commit the read could see is durable: a client is never
  // shown what a crash could take back. (After a failed sync it waits no
  // longer; writes fail from then on.)
  class DurableRead {
   public:
    explicit DurableRead(Impl& d) : d_(d) { d_.db_mu.lock(); }
    ~DurableRead() {
      const int64_t seen = d_.committed.load(std::memory_order_relaxed);
      d_.db_mu.unlock();
      if (seen > 0) d_.AwaitDurableRead(seen);
    }
    DurableRead(const DurableRead&) = delete;
    DurableRead& operator=(const DurableRead&) = delete;

   private:
    Impl& d_;
  };

  void StopSyncer() {
    {
      std::lock_guard lock(sync_mu);
      syncer_stopping = true;
      syncer_cv.notify_all();
    }
    if (syncer.joinable()) syncer.join();
    if (wal_fd >= 0) ::close(wal_fd);
    wal_fd = -1;
  }

  void StopCheckpointer() {
    {
      std::lock_guard lock(queue_mu);
      stopping = true;
      checkpoint_cv.notify_all();
    }
    if (checkpointer.joinable()) checkpointer.join();
  }

  // Reads one execution row (column order of kExecutionColumns).
  Result<ExecutionRecord> ReadExecution(const Statement& s) const {
    ExecutionRecord r;
    r.seq = s.ColInt(0);
    r.arn = s.ColText(1);
    r.execution_id = s.ColText(2);
    r.name = s.ColText(3);
    r.function_name = s.ColText(4);
    r.input = s.ColText(5);
    r.start_timestamp = s.ColInt(6);
    r.execution_timeout_seconds = s.ColInt(7);
    r.parent_arn = s.ColOptText(8);
    r.parent_operation_id = s.ColOptText(9);
    auto status = protocol::ParseExecutionStatus(s.ColText(10));
    if (!status.ok()) return MakeError(std::string(kStoreCorruptError), status.error().message);
    r.progress.status = *status;
    r.progress.result = s.ColOptText(11);
    auto error = ErrorFromText(s.ColOptText(12));
    if (!error.ok()) return error.error();
    r.progress.error = std::move(*error);
    r.progress.end_timestamp = s.ColOptInt(13);
    r.progress.next_event_id = s.ColInt(14);
    r.progress.invoke_requested = s.ColInt(15) != 0;
    r.progress.failed_invocations = s.ColInt(16);
    return r;
  }
};

SqliteStore::SqliteStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SqliteStore::~SqliteStore() {
  impl_->StopCheckpointer();
  impl_->StopSyncer();
}

const std::string& SqliteStore::path() const { return impl_->path; }

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path,
                                                       const SqliteStoreOptions& options) {
  // SQLite's busy handler waits for another holder of the database, but not
  // everywhere: where waiting could deadlock it answers busy at once. When
  // this connection (in EXCLUSIVE locking mode) enables the WAL of a store
  // that another process has just opened too, both hold the shared lock and
  // want the exclusive one; this connection keeps its shared lock and fails
  // again however often it retries. So a busy open is closed and tried
  // again from the start, until busy_timeout_ms have passed, after a pause
  // of random length (a holder that comes back at a steady pace must not
  // meet every attempt).
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::milliseconds(options.busy_timeout_ms);
  std::minstd_rand jitter(static_cast<uint32_t>(Clock::now().time_since_epoch().count()) ^
                          static_cast<uint32_t>(getpid()));
  for (int most_ms = 2;; most_ms = std::min(most_ms * 2, 20)) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    // SQLite's busy handler polls ever more slowly (up to every 100 ms) and
    // can miss the short gaps of a holder that comes back; each attempt
    // leaves it 50 ms at most.
    auto store = OpenOnce(path, options, static_cast<int>(std::clamp<int64_t>(left, 1, 50)));
    const int pause_ms = 1 + static_cast<int>(jitter() % static_cast<uint32_t>(most_ms));
    if (store.ok() || store.error().code != kStoreLockedError || left <= pause_ms) return store;
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
  }
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::OpenOnce(const std::string& path,
                                                           const SqliteStoreOptions& options,
                                                           int busy_wait_ms) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->options = options;
  const std::string context = "store " + path;
  int flags =
      SQLITE_OPEN_NOMUTEX |
      (options.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  // The WAL's writes of a commit go out as one write (sqlite_wal_vfs.h).
  int rc = sqlite3_open_v2(path.c_str(), &impl->db, flags, WalWriteGatheringVfsName());
  if (rc != SQLITE_OK) {
    std::string message = impl->db ? sqlite3_errmsg(impl->db) : sqlite3_errstr(rc);
    if ((rc & 0xff) == SQLITE_CANTOPEN) {
      return MakeError(std::string(kStoreIoError), "cannot open the store file: " + message,
                       context);
    }
    return MakeError(std::string(CodeFor(rc)), message, context);
  }
  sqlite3_extended_result_codes(impl->db, 1);
  sqlite3_busy_timeout(impl->db, busy_wait_ms);
  if (!options.read_only && sqlite3_db_readonly(impl->db, "main") == 1) {
    return MakeError(std::string(kStoreReadOnlyError),
                     "the store is read-only (the file is not writable); open it read-only or "
                     "fix its permissions",
                     context);
  }

  // Locking, journal and durability. A busy database here means another
  // process holds it.
  auto setup = [&](const char* sql, const char* what) -> Status {
    Status st = impl->Exec(sql, what);
    if (st.ok()) return st;
    Error e = st.error();
    if (e.code == kStoreLockedError) {
      e.message = "the store is locked by another process (still busy after " +
                  std::to_string(options.busy_timeout_ms) + " ms): " + e.message;
    } else if (e.code == kStoreReadOnlyError || e.code == kStoreIoError) {
      if (e.code == kStoreReadOnlyError) {
        e.message =
            "the store is read-only (the file or its directory is not writable): " + e.message;
      }
    } else if (e.code == kStoreCorruptError) {
      e.message = "the file is not a cairn store: " + e.message;
    }
    return e;
  };
  if (!options.read_only) {
    if (auto st = setup("PRAGMA locking_mode=EXCLUSIVE", "setting the locking mode"); !st.ok()) {
      return st.error();
    }
    // A new (empty) file gets the configured page size; it must be set
    // before the WAL is enabled. An existing store keeps its own.
    bool empty = false;
    {
      Statement s;
      rc = s.Prepare(impl->db, "PRAGMA page_count");
      empty = rc == SQLITE_OK && s.Step() == SQLITE_ROW && s.ColInt(0) == 0;
    }
    if (empty) {
      std::string sql = "PRAGMA page_size=" + std::to_string(options.page_size);
      if (auto st = setup(sql.c_str(), "setting the page size"); !st.ok()) return st.error();
    }
    if (auto st = setup("PRAGMA journal_mode=WAL", "enabling the WAL journal"); !st.ok()) {
      return st.error();
    }
    if (auto st = setup("PRAGMA synchronous=FULL", "setting synchronous=FULL"); !st.ok()) {
      return st.error();
    }
    // The page cache stays at SQLite's default (2 MiB). SQLite's B-tree
    // balance renumbers pages through the lock-byte page's number (page
    // 1,048,577 with 1 KiB pages), so the cache's largest key stays above
    // the database's size and every commit that balanced a page ends by
    // visiting every cached page (pcache1TruncateUnsafe). With a 32 MiB
    // cache that walk took a fifth of the serve's CPU under 16 concurrent
    // clients (backend/README.md, "Store schema"); a larger cache did not make
    // the cold reload of a 10,000-operation execution measurably faster.
    // Takes the write lock now (held until close in EXCLUSIVE mode), creates
    // the schema if needed and checks its version.
    if (auto st = setup("BEGIN IMMEDIATE", "locking the store"); !st.ok()) return st.error();
    // The tables a store was created with are kept (IF NOT EXISTS): the
    // layouts of older versions first, when a test asks for them.
    std::vector<const char*> schema;
    if (options.version2_layout_for_testing) {
      schema.insert(schema.end(), {kVersion2ExecutionsSql, kLegacyOperationsSql});
    }
    if (options.legacy_events_layout_for_testing) schema.push_back(kVersion1EventsSql);
    schema.push_back(kSchemaSql);
    if (empty && !options.version2_layout_for_testing) schema.push_back(kNewStoreSql);
    schema.push_back("CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)");
    for (const char* sql : schema) {
      if (auto st = setup(sql, "creating the schema"); !st.ok()) {
        (void)impl->Exec("ROLLBACK", "rolling back");
        return st.error();
      }
    }
  }
  // Read the schema version.
  int version = 0;
  bool has_version_table = true;
  {
    Statement s;
    rc = s.Prepare(impl->db, "SELECT max(version) FROM schema_version");
    if (rc != SQLITE_OK) {
      if (options.read_only && (rc & 0xff) == SQLITE_ERROR &&
          std::string_view(sqlite3_errmsg(impl->db)).find("no such table") !=
              std::string_view::npos) {
        has_version_table = false;
      } else {
        return impl->Fail(rc, "reading the schema version");
      }
    } else {
      rc = s.Step();
      if (rc == SQLITE_ROW && !s.IsNull(0)) {
        version = static_cast<int>(s.ColInt(0));
      } else if (rc != SQLITE_ROW) {
        return impl->Fail(rc, "reading the schema version");
      }
    }
  }
  if (!has_version_table) {
    return MakeError(std::string(kStoreCorruptError), "the file is not a cairn store", context);
  }
  if (version > kSchemaVersion) {
    if (!options.read_only) (void)impl->Exec("ROLLBACK", "rolling back");
    return MakeError(std::string(kStoreNewerSchemaError),
                     "the store was written by a newer cairn (schema version " +
                         std::to_string(version) + "; this build understands up to " +
                         std::to_string(kSchemaVersion) + "); use a newer cairn",
                     context);
  }
  // The tables' layouts (a store keeps the ones it was created with).
  auto has_column = [&](const char* table, const char* column) -> Result<bool> {
    Statement s;
    std::string sql = std::string("SELECT count(*) FROM pragma_table_info('") + table +
                      "') WHERE name='" + column + "'";
    rc = s.Prepare(impl->db, sql);
    if (rc != SQLITE_OK || s.Step() != SQLITE_ROW) {
      return impl->Fail(rc, std::string("reading the ") + table + " table's layout");
    }
    return s.ColInt(0) == 1;
  };
  for (auto [table, flag] : {std::pair{"events", &impl->keyed_events},
                             std::pair{"operations", &impl->keyed_operations}}) {
    auto keyed = has_column(table, "key");
    if (!keyed.ok()) {
      if (!options.read_only) (void)impl->Exec("ROLLBACK", "rolling back");
      return keyed.error();
    }
    *flag = *keyed;
  }
  impl->schema_version = version;
  if (!options.read_only) {
    // The version a store is marked with is the oldest that reads it:
    // version 1 stores are read the same way, but from now on their
    // next_event_id may lag (see the header), which version 1 builds would
    // misread: they become version 2. Only a store created with the keyed
    // operations table needs version 3.
    const int target = impl->keyed_operations ? kSchemaVersion : 2;
    if (version < target) {
      std::string sql =
          version == 0 ? "INSERT INTO schema_version(version) VALUES(" + std::to_string(target) + ")"
                       : "UPDATE schema_version SET version=" + std::to_string(target);
      impl->schema_version = target;
      if (auto st = impl->Exec(sql.c_str(), "recording the schema version"); !st.ok()) {
        (void)impl->Exec("ROLLBACK", "rolling back");
        return st.error();
      }
    }
    if (auto st = setup("COMMIT", "creating the schema"); !st.ok()) return st.error();
  } else if (version == 0) {
    return MakeError(std::string(kStoreCorruptError), "the file is not a cairn store", context);
  }
  impl->execution_columns = ExecutionColumns(impl->keyed_events, true);
  impl->execution_columns_no_payload = ExecutionColumns(impl->keyed_events, false);
  if (auto st = impl->PrepareAll(); !st.ok()) return st.error();
  {
    Statement s;
    rc = s.Prepare(impl->db, "PRAGMA page_size");
    if (rc != SQLITE_OK || s.Step() != SQLITE_ROW) return impl->Fail(rc, "reading the page size");
    impl->page_size = static_cast<int>(s.ColInt(0));
  }
  if (!options.read_only) {
    // Replaces SQLite's automatic checkpoint (see the header).
    if (options.wal_checkpoint_bytes > 0) {
      impl->checkpoint_frames = static_cast<int>(
          std::max<int64_t>(1, options.wal_checkpoint_bytes / std::max(1, impl->page_size)));
    }
    sqlite3_wal_hook(impl->db, &Impl::OnWalCommit, impl.get());
    impl->checkpointer = std::thread([d = impl.get()] { d->CheckpointLoop(); });
    if (options.pipelined_sync) {
      impl->wal_path = sqlite3_filename_wal(sqlite3_db_filename(impl->db, "main"));
      impl->syncer = std::thread([d = impl.get()] { d->SyncLoop(); });
    }
  }
  return std::unique_ptr<SqliteStore>(new SqliteStore(std::move(impl)));
}

Status SqliteStore::Write(const WriteBatch& batch) {
  Impl& d = *impl_;
  if (d.options.read_only) {
    return MakeError(std::string(kStoreReadOnlyError), "the store was opened read-only",
                     "store " + d.path);
  }
  if (batch.empty()) return {};
  if (d.sync_failed.load(std::memory_order_acquire)) {
    std::lock_guard lock(d.sync_mu);
    return d.sync_failure;
  }
  Writer w;
  w.batch = &batch;
  std::unique_lock lock(d.queue_mu);
  d.writers.push_back(&w);
  if (&w != d.writers.front()) {
    // Released when a leader has committed this batch, or when this writer
    // has come to the front of the queue and leads the next group.
    lock.unlock();
    w.wake.Acquire();
    if (w.done) return w.status;
    lock.lock();
  }

  // This writer leads: commit it and everything queued behind it.
  std::vector<Writer*> group;
  for (Writer* x : d.writers) {
    if (group.size() >= d.options.max_group_size) break;
    group.push_back(x);
  }
  lock.unlock();
  bool deferred = false;
  int64_t txn = 0;
  {
    std::lock_guard db_lock(d.db_mu);
    d.CommitGroup(group);
    deferred = d.last_commit_deferred;
    txn = d.committed.load(std::memory_order_relaxed);
  }
  lock.lock();
  ++d.commits;
  for (size_t i = 0; i < group.size(); ++i) d.writers.pop_front();
  Writer* next = d.writers.empty() ? nullptr : d.writers.front();
  lock.unlock();
  // The next leader first: its group's commit can start while this one's
  // writers wake, or while this one's sync runs. (A writer queued from now
  // on finds `next` before it.)
  if (next) next->wake.Release();
  if (deferred) {
    d.AwaitDurable(txn, group, &w);
    return w.status;
  }
  for (Writer* x : group) {
    if (x == &w) continue;
    x->done = true;
    x->wake.Release();  // x may return, and end, from here on
  }
  return w.status;
}

Result<std::optional<ExecutionRecord>> SqliteStore::GetExecution(const std::string& arn) {
  Impl& d = *impl_;
  auto parts = protocol::ParseExecutionArn(arn);
  if (!parts) return std::optional<ExecutionRecord>();
  Impl::DurableRead lock(d);
  Statement& s = d.select_execution;
  ResetOnExit reset(s);
  s.Text(1, arn);
  s.Text(2, parts->function);
  s.Text(3, parts->name);
  int rc = s.Step();
  if (rc == SQLITE_DONE) return std::optional<ExecutionRecord>();
  if (rc != SQLITE_ROW) return d.Fail(rc, "reading execution " + arn);
  auto r = d.ReadExecution(s);
  if (!r.ok()) return r.error();
  return std::optional<ExecutionRecord>(std::move(*r));
}

Result<std::vector<ExecutionRecord>> SqliteStore::FindExecutions(const ExecutionQuery& q) {
  Impl& d = *impl_;
  std::string sql = std::string("SELECT ") +
                    (q.include_payloads ? d.execution_columns : d.execution_columns_no_payload) +
                    " FROM executions WHERE 1";
  int n = 0;
  if (q.function_name) sql += " AND function_name=?" + std::to_string(++n);
  if (q.name) sql += " AND name=?" + std::to_string(++n);
  // RUNNING alone is written out, so that SQLite can use the partial index
  // of the running executions (executions_running); other statuses are bound.
  std::vector<std::string> statuses;
  if (q.statuses.size() == 1 && q.statuses[0] == protocol::ExecutionStatus::kRunning) {
    sql += " AND status='RUNNING'";
  } else if (!q.statuses.empty()) {
    sql += " AND status IN (";
    for (auto st : q.statuses) {
      sql += (statuses.empty() ? "?" : ",?") + std::to_string(++n);
      statuses.emplace_back(protocol::ToString(st));
    }
    sql += ")";
  }
  if (q.started_after) sql += " AND start_ts>?" + std::to_string(++n);
  if (q.started_before) sql += " AND start_ts<?" + std::to_string(++n);
  if (q.cursor > 0)
    sql += std::string(q.reverse ? " AND seq<?" : " AND seq>?") + std::to_string(++n);
  sql += q.reverse ? " ORDER BY seq DESC" : " ORDER BY seq";
  sql += " LIMIT ?" + std::to_string(++n);

  Impl::DurableRead lock(d);
  Statement s;
  int rc = s.Prepare(d.db, sql);
  if (rc != SQLITE_OK) return d.Fail(rc, "listing executions");
  int i = 0;
  if (q.function_name) s.Text(++i, *q.function_name);
  if (q.name) s.Text(++i, *q.name);
  for (const auto& st : statuses) s.Text(++i, st);
  if (q.started_after) s.Int(++i, *q.started_after);
  if (q.started_before) s.Int(++i, *q.started_before);
  if (q.cursor > 0) s.Int(++i, q.cursor);
  s.Int(++i, static_cast<int64_t>(q.limit));
  std::vector<ExecutionRecord> out;
  while ((rc = s.Step()) == SQLITE_ROW) {
    auto r = d.ReadExecution(s);
    if (!r.ok()) return r.error();
    out.push_back(std::move(*r));
  }
  if (rc != SQLITE_DONE) return d.Fail(rc, "listing executions");
  return out;
}

Result<std::vector<OperationRecord>> SqliteStore::GetOperations(const std::string& arn) {
  Impl& d = *impl_;
  Impl::DurableRead lock(d);
  std::vector<OperationRecord> out;
  auto seq = d.LookupSeq(arn);
  d.txn_seqs.clear();
  if (!seq.ok()) return seq.error();
  if (!*seq) return out;
  Statement& s = d.select_operations;
  ResetOnExit reset(s);
  s.Int(1, **seq);
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) {
    OperationRecord& r = out.emplace_back();
    r.seq = s.ColInt(0);
    Operation& op = r.operation;
    op.id = s.ColText(1);
    op.parent_id = s.ColOptText(2);
    op.name = s.ColOptText(3);
    auto type = protocol::ParseOperationType(s.ColText(4));
    auto status = protocol::ParseOperationStatus(s.ColText(6));
    if (!type.ok() || !status.ok()) {
      return MakeError(std::string(kStoreCorruptError),
                       "operation " + op.id + " has a bad type or status", "store " + d.path);
    }
    op.type = *type;
    op.sub_type = s.ColOptText(5);
    op.status = *status;
    op.start_timestamp = s.ColOptInt(7);
    op.end_timestamp = s.ColOptInt(8);
    op.input_payload = s.ColOptText(9);
    op.result = s.ColOptText(10);
    auto error = ErrorFromText(s.ColOptText(11));
    if (!error.ok()) return error.error();
    op.error = std::move(*error);
    if (auto v = s.ColOptInt(12)) op.replay_children = *v != 0;
    if (auto v = s.ColOptInt(13)) op.attempt = static_cast<int>(*v);
    op.next_attempt_timestamp = s.ColOptInt(14);
    op.scheduled_end_timestamp = s.ColOptInt(15);
    op.callback_id = s.ColOptText(16);
  }
  if (rc != SQLITE_DONE) return d.Fail(rc, "reading operations of " + arn);
  // Ordered here rather than with ORDER BY seq, for which SQLite copied
  // every row, payloads and all, through a sorter (the table's key is
  // (exec_seq, id)): the (seq, row) pairs are sorted, then each record is
  // moved once.
  std::vector<std::pair<int64_t, size_t>> order;
  order.reserve(out.size());
  for (size_t i = 0; i < out.size(); ++i) order.emplace_back(out[i].seq, i);
  std::sort(order.begin(), order.end());
  std::vector<OperationRecord> sorted;
  sorted.reserve(out.size());
  for (const auto& [seq, i] : order) {
    sorted.push_back(std::move(out[i]));
    sorted.back().arn = arn;
  }
  return sorted;
}

Result<std::vector<EventRecord>> SqliteStore::GetEvents(const std::string& arn,
                                                        int64_t first_event_id, size_t limit,
                                                        bool reverse) {
  Impl& d = *impl_;
  Impl::DurableRead lock(d);
  std::vector<EventRecord> out;
  auto seq = d.LookupSeq(arn);
  d.txn_seqs.clear();
  if (!seq.ok()) return seq.error();
  if (!*seq) return out;
  Statement& s = reverse ? d.select_events_reverse : d.select_events;
  ResetOnExit reset(s);
  s.Int(1, **seq);
  s.Int(2, first_event_id);
  s.Int(3, static_cast<int64_t>(limit));
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) out.push_back({arn, s.ColInt(0), s.ColText(1)});
  if (rc != SQLITE_DONE) return d.Fail(rc, "reading events of " + arn);
  return out;
}

Result<std::optional<CallbackRecord>> SqliteStore::GetCallback(const std::string& callback_id) {
  Impl& d = *impl_;
  Impl::DurableRead lock(d);
  Statement& s = d.select_callback;
  ResetOnExit reset(s);
  s.Text(1, callback_id);
  int rc = s.Step();
  if (rc == SQLITE_DONE) return std::optional<CallbackRecord>();
  if (rc != SQLITE_ROW) return d.Fail(rc, "reading a callback");
  CallbackRecord r;
  r.callback_id = s.ColText(0);
  r.arn = s.ColText(1);
  r.operation_id = s.ColText(2);
  r.heartbeat_timeout_seconds = s.ColInt(3);
  r.open = s.ColInt(4) != 0;
  return std::optional<CallbackRecord>(std::move(r));
}

Result<std::vector<TimerRecord>> SqliteStore::GetTimers() {
  Impl& d = *impl_;
  Impl::DurableRead lock(d);
  Statement& s = d.select_timers;
  ResetOnExit reset(s);
  std::vector<TimerRecord> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) {
    TimerRecord t;
    t.key.arn = s.ColText(0);
    t.key.operation_id = s.ColText(1);
    t.key.kind = static_cast<TimerKind>(s.ColInt(2));
    t.due = s.ColInt(3);
    out.push_back(std::move(t));
  }
  if (rc != SQLITE_DONE) return d.Fail(rc, "reading timers");
  return out;
}

Status SqliteStore::CheckConsistency() {
  Impl& d = *impl_;
  std::lock_guard lock(d.db_mu);
  {
    Statement s;
    int rc = s.Prepare(d.db, "PRAGMA integrity_check");
    if (rc != SQLITE_OK) return d.Fail(rc, "checking integrity");
    rc = s.Step();
    if (rc != SQLITE_ROW) return d.Fail(rc, "checking integrity");
    std::string verdict = s.ColText(0);
    if (verdict != "ok") {
      return MakeError(std::string(kStoreCorruptError), "integrity_check: " + verdict,
                       "store " + d.path);
    }
  }
  const char* const kOrphans[][2] = {
      {"operations", d.keyed_operations ? "SELECT count(*) FROM operations WHERE (key >> 32) NOT "
                                          "IN (SELECT seq FROM executions)"
                                        : "SELECT count(*) FROM operations WHERE exec_seq NOT IN "
                                          "(SELECT seq FROM executions)"},
      {"events", d.keyed_events ? "SELECT count(*) FROM events WHERE (key >> 32) NOT IN "
                                  "(SELECT seq FROM executions)"
                                : "SELECT count(*) FROM events WHERE exec_seq NOT IN "
                                  "(SELECT seq FROM executions)"},
      {"callbacks",
       "SELECT count(*) FROM callbacks WHERE exec_seq NOT IN (SELECT seq FROM executions)"},
      {"timers", "SELECT count(*) FROM timers WHERE exec_seq NOT IN (SELECT seq FROM executions)"},
  };
  for (const auto& [table, sql] : kOrphans) {
    Statement s;
    int rc = s.Prepare(d.db, sql);
    if (rc != SQLITE_OK) return d.Fail(rc, "checking consistency");
    rc = s.Step();
    if (rc != SQLITE_ROW) return d.Fail(rc, "checking consistency");
    if (s.ColInt(0) != 0) {
      return MakeError(std::string(kStoreCorruptError),
                       std::to_string(s.ColInt(0)) + " inconsistent rows in " + table,
                       "store " + d.path);
    }
  }
  return {};
}

StoreStats SqliteStore::stats() const {
  StoreStats st;
  st.batches = impl_->batches.load();
  st.transactions = impl_->transactions.load();
  st.wal_bytes = impl_->wal_frames_appended.load() * (impl_->page_size + 24);
  st.checkpoints = impl_->checkpoints.load();
  st.wal_syncs = impl_->syncs.load();
  return st;
}

int SqliteStore::schema_version() const { return impl_->schema_version; }

Status SqliteStore::SetSchemaVersionForTesting(int version) {
  Impl& d = *impl_;
  std::lock_guard lock(d.db_mu);
  std::string sql = "UPDATE schema_version SET version=" + std::to_string(version);
  return d.Exec(sql.c_str(), "setting the schema version");
}

}  // namespace cairn::backend::local
