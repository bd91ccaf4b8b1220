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
// What a commit makes durable is unchanged: the held bytes reach the file
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
};
WalWriteStats CurrentWalWriteStats();

}  // namespace cairn::backend::local
