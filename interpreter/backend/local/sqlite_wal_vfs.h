// A SQLite VFS that gathers the writes of a commit to the WAL file into one
// write. Used by SqliteStore only.
//
// SQLite writes each WAL frame with two write calls (its 24-byte header, then
// the page), so a commit of seven 1 KiB pages costs fourteen `pwrite`s before
// its `fdatasync`. This VFS wraps the default one: writes to a WAL file that
// continue the previous one are held in memory and issued as one `pwrite`
// when SQLite syncs the WAL (every commit, under synchronous=FULL), reads it,
// asks its size, truncates or closes it, or writes elsewhere in it. Every
// other call is passed through unchanged. The WAL also grows by zero-filled
// 1 MiB steps instead of commit by commit, so that a commit's `fdatasync`
// seldom has a file size change to record (sqlite_wal_vfs.cc, Grow).
//
// A checkpoint (between SQLite's CKPT_START and CKPT_DONE file controls)
// reads the WAL once, whole, instead of once per frame, and its writes of
// adjacent database pages go out as one write: SQLite copies frame by
// frame, a `pread` and a `pwrite` per page, while the store's lock keeps
// every commit waiting.
//
// With a ScopedWalSyncDeferral alive, a commit's sync is left to the caller
// (SqliteStore's sync stage); without one, what a commit makes durable is
// unchanged: the held bytes reach the file
// before the sync that ends the commit, and a process that dies before that
// sync had not committed (SQLite's WAL recovery drops the frames of an
// unfinished commit whether they were written or not). Readers in the same
// connection see their own writes (a read flushes first). Another connection
// could read frames that are still held only if the WAL index announced them
// before a sync, which happens with synchronous=NORMAL or OFF, never with
// FULL in EXCLUSIVE locking mode — how SqliteStore opens a writable store.
#pragma once

#include <cstdint>

namespace cairn::backend::local {

// Registers the VFS with SQLite (once; thread-safe) and returns its name for
// sqlite3_open_v2, or nullptr when SQLite has no default VFS to wrap (then
// the caller opens with the default).
const char* WalWriteGatheringVfsName();

// Process-wide counts, for tests and benchmarks.
struct WalWriteStats {
  int64_t writes_received = 0;  // WAL writes SQLite made
  int64_t writes_issued = 0;    // writes of those bytes to the file (zero fill not counted)
  int64_t syncs_issued = 0;     // syncs of a WAL passed to the file
  int64_t syncs_deferred = 0;   // syncs of a WAL left to the caller (ScopedWalSyncDeferral)
  int64_t checkpoint_pages_received = 0;    // database pages checkpoints wrote
  int64_t checkpoint_writes_issued = 0;     // writes of those pages to the file
  int64_t checkpoint_wal_reads_issued = 0;  // reads of the WAL by checkpoints
};
WalWriteStats CurrentWalWriteStats();

// While one is alive on a thread, a sync of a WAL file that SQLite asks for
// on that thread at the end of a commit writes the commit's held bytes but
// does not `fdatasync` them: the caller makes them durable itself (with one
// `fdatasync` of the WAL covering every commit written before it, off
// SQLite's lock: SqliteStore's sync stage) and must not report the commit
// as durable before. A sync that follows a write of the WAL's header (the
// WAL restarted after a checkpoint, with new salts) is never deferred:
// frames written under the new header must not reach the disk before it.
class ScopedWalSyncDeferral {
 public:
  ScopedWalSyncDeferral();
  ~ScopedWalSyncDeferral();
  ScopedWalSyncDeferral(const ScopedWalSyncDeferral&) = delete;
  ScopedWalSyncDeferral& operator=(const ScopedWalSyncDeferral&) = delete;
  // Whether a sync was deferred while this was alive.
  bool deferred() const;
};

}  // namespace cairn::backend::local
