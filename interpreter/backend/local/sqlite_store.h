// SqliteStore: the durable Store, on SQLite. The only file of cairn that
// calls sqlite3_*.
//
// Durability: WAL journal, synchronous=FULL — Write returns only after the
// WAL is fsynced, so an acknowledged batch survives a process crash and a
// power loss. Ownership: the store holds an exclusive lock on the database
// for as long as it is open (locking_mode=EXCLUSIVE), so a second process
// opening it gets kStoreLockedError after the busy timeout.
//
// Group commit (leader/follower, as leveldb's DBImpl::Write): each Write
// enqueues its batch; the writer at the head of the queue becomes the
// leader, takes every batch queued behind it (up to max_group_size), commits
// them in one transaction (one fsync) with a savepoint per batch (a failing
// batch is rolled back alone), then wakes the followers, whose Write returns
// with their own batch's status. A lone writer commits at once: there is no
// committer thread and no added latency.
//
// Schema: see README.md ("Store schema"). The schema version is kept in
// table schema_version; a store written by a newer version is refused with
// kStoreNewerSchemaError.
//
// Thread-safety: thread-safe. Reads share the one connection with the
// committer, so a read waits for a transaction in progress.
#pragma once

#include <memory>
#include <string>

#include "backend/local/store.h"

namespace cairn::backend::local {

struct SqliteStoreOptions {
  // How long opening waits for another holder of the database before
  // failing with kStoreLockedError.
  int busy_timeout_ms = 2000;
  // Opens the store for reading only: reads work, Write fails with
  // kStoreReadOnlyError. The database must exist.
  bool read_only = false;
  // The most batches committed in one transaction.
  size_t max_group_size = 1024;
};

class SqliteStore final : public Store {
 public:
  static constexpr int kSchemaVersion = 1;

  // Opens (creating it if needed, unless read_only) the store at `path`.
  // Errors: kStoreLockedError (another process holds it), kStoreReadOnlyError
  // (the file or its directory is not writable), kStoreNewerSchemaError,
  // kStoreCorruptError (not a SQLite database / not a cairn store),
  // kStoreIoError.
  static Result<std::unique_ptr<SqliteStore>> Open(const std::string& path,
                                                   const SqliteStoreOptions& options = {});
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  Status Write(const WriteBatch& batch) override;
  Result<std::optional<ExecutionRecord>> GetExecution(const std::string& arn) override;
  Result<std::vector<ExecutionRecord>> FindExecutions(const ExecutionQuery& query) override;
  Result<std::vector<OperationRecord>> GetOperations(const std::string& arn) override;
  Result<std::vector<EventRecord>> GetEvents(const std::string& arn, int64_t first_event_id,
                                             size_t limit, bool reverse) override;
  Result<std::optional<CallbackRecord>> GetCallback(const std::string& callback_id) override;
  Result<std::vector<TimerRecord>> GetTimers() override;
  Status CheckConsistency() override;
  StoreStats stats() const override;

  const std::string& path() const;

  // Overwrites the recorded schema version (tests of version checks only).
  Status SetSchemaVersionForTesting(int version);

 private:
  struct Impl;
  explicit SqliteStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cairn::backend::local
