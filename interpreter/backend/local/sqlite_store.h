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
// them in one transaction with a savepoint per batch (a failing batch is
// rolled back alone), wakes the next leader, and once the commit is durable
// wakes the followers (each on its own semaphore, after leaving the queue's
// lock), whose Write returns with their own batch's status. The commit's
// fsync runs after SQLite's lock is released (pipelined_sync), so the next
// group commits while it runs, and one fsync covers every commit written
// before it began: the leader that finds no fsync running runs it itself,
// and a syncer thread runs the ones queued behind it. A lone writer commits
// and syncs at once, on its own thread.
//
// Write cost: a commit appends the pages it changed to the WAL, so few and
// small pages per batch matter as much as the one fsync. New stores use
// pages of SqliteStoreOptions::page_size (existing ones keep theirs); a
// batch that only appends events and upserts operations leaves the
// executions row alone. The WAL is copied into the database (checkpointed)
// by a background thread when it holds wal_checkpoint_bytes, at a moment
// without writers if one comes within checkpoint_wait_ms — not by the
// commit that filled it, as SQLite's automatic checkpoint would.
//
// Schema: see README.md ("Store schema"). The schema version is kept in
// table schema_version; a store written by a newer version is refused with
// kStoreNewerSchemaError. Version 2 (same tables as 1) lets the stored
// next_event_id lag behind the events; opening a version-1 store for
// writing marks it version 2. Version 3 stores (created since) key the
// operations table by execution and position, so that a step's operation
// is appended, and index neither the ARN nor every status (see
// sqlite_store.cc, kNewStoreSql); older stores keep their tables and
// version 2.
//
// Thread-safety: thread-safe. Reads share the one connection with the
// committer, so a read waits for a transaction in progress, and then for
// what it read to be durable.
#pragma once

#include <functional>
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
  // Page size of a new store (a power of two, 512..65536); ignored for an
  // existing one. Smaller pages mean fewer bytes per commit: a step's
  // checkpoint changes about two pages.
  int page_size = 1024;
  // The WAL is checkpointed when it holds this many bytes (0: never, but
  // SQLite still does when the store is closed).
  int64_t wal_checkpoint_bytes = 4 << 20;
  // How long a due checkpoint waits for a moment without writers before it
  // runs anyway (blocking the writers that come meanwhile).
  int checkpoint_wait_ms = 50;
  // A commit's `fdatasync` of the WAL runs after SQLite's lock is released:
  // the next group commits (writes its frames) while this one's sync is
  // under way, and one sync makes every commit written before it durable.
  // A batch's Write still returns only once it is durable, and a read waits
  // until what it read is (see "Group commit" in backend/README.md).
  bool pipelined_sync = true;
  // Tests only: called before each sync of the sync stage, on the thread
  // that syncs; a non-zero return is taken as the sync's errno.
  std::function<int()> before_wal_sync_for_testing;
  // Tests only: a new store gets the events table of schema version 1
  // (stores created before version 2 keep it), to test that layout.
  bool legacy_events_layout_for_testing = false;
  // Tests only: a new store gets the executions and operations tables (and
  // indexes) of schema versions 1 and 2 (stores created before version 3
  // keep them).
  bool version2_layout_for_testing = false;
};

class SqliteStore final : public Store {
 public:
  static constexpr int kSchemaVersion = 3;

  // Opens (creating it if needed, unless read_only) the store at `path`.
  // Errors: kStoreLockedError (another process holds it), kStoreReadOnlyError
  // (the file or its directory is not writable), kStoreNewerSchemaError,
  // kStoreCorruptError (not a SQLite database / not a cairn store),
  // kStoreIoError.
  // Another process holding the store for a moment (a command that reads
  // it directly) is waited for, up to options.busy_timeout_ms.
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

  // The schema version recorded in the store (see Open): the oldest that
  // reads it.
  int schema_version() const;
  // Overwrites the recorded schema version (tests of version checks only).
  Status SetSchemaVersionForTesting(int version);

 private:
  // One attempt of Open; SQLite's busy handler waits up to busy_wait_ms.
  static Result<std::unique_ptr<SqliteStore>> OpenOnce(const std::string& path,
                                                       const SqliteStoreOptions& options,
                                                       int busy_wait_ms);
  struct Impl;
  explicit SqliteStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cairn::backend::local
