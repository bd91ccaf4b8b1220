#include "backend/local/sqlite_wal_vfs.h"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstring>
#include <mutex>
#include <new>
#include <string>

namespace cairn::backend::local {
namespace {

std::atomic<int64_t> writes_received{0};
std::atomic<int64_t> writes_issued{0};
std::atomic<int64_t> syncs_issued{0};
std::atomic<int64_t> syncs_deferred{0};
std::atomic<int64_t> checkpoint_pages_received{0};
std::atomic<int64_t> checkpoint_writes_issued{0};
std::atomic<int64_t> checkpoint_wal_reads_issued{0};

// ScopedWalSyncDeferral's state on this thread: whether one is alive, and
// whether a sync was deferred since it was made.
thread_local bool defer_wal_sync = false;
thread_local bool wal_sync_deferred = false;

// A checkpoint under way on this thread (between SQLite's CKPT_START and
// CKPT_DONE file controls): it reads the WAL frame by frame in the order of
// the database's pages, and writes each page to the database with a call of
// its own. The WAL is read instead in one go into `wal_snapshot` (SQLite
// does not write the WAL during its own checkpoint; the store holds its
// connection's lock throughout), and runs of adjacent pages are written to
// the database as one write.
thread_local bool in_checkpoint = false;
thread_local bool wal_snapshot_loaded = false;
thread_local std::string wal_snapshot;

// A WAL larger than this is read frame by frame as SQLite does.
constexpr sqlite3_int64 kMaxWalSnapshotBytes = sqlite3_int64{64} << 20;

// Held bytes are written out past this size even before a sync (a large
// transaction spilling its cache).
constexpr size_t kMaxHeldBytes = size_t{1} << 20;

// The WAL grows in zero-filled steps of this size (see Grow).
constexpr sqlite3_int64 kWalGrowthBytes = sqlite3_int64{1} << 20;

// The most one call of the wrapped VFS's xWrite takes: SQLite's unix VFS
// writes at most 128 KiB - 1 bytes per call and reports a shorter write as
// SQLITE_FULL.
constexpr sqlite3_int64 kMaxWriteBytes = sqlite3_int64{64} << 10;

// Writes `n` bytes at `offset` in pieces the wrapped VFS accepts, counting
// the writes in `issued`.
int WriteAll(sqlite3_file* real, const char* data, sqlite3_int64 n, sqlite3_int64 offset,
             std::atomic<int64_t>& issued) {
  for (sqlite3_int64 done = 0; done < n;) {
    const sqlite3_int64 piece = std::min(n - done, kMaxWriteBytes);
    if (int rc = real->pMethods->xWrite(real, data + done, static_cast<int>(piece), offset + done);
        rc != SQLITE_OK) {
      return rc;
    }
    issued.fetch_add(1, std::memory_order_relaxed);
    done += piece;
  }
  return SQLITE_OK;
}

sqlite3_vfs* Root(sqlite3_vfs* vfs) { return static_cast<sqlite3_vfs*>(vfs->pAppData); }

// The file SQLite holds: our header, then the wrapped VFS's file in the same
// allocation (szOsFile covers both).
struct File {
  sqlite3_file base;  // first: SQLite sees this
  sqlite3_file* real;
  bool wal;
  std::string held;  // bytes for [held_offset, held_offset + held.size())
  sqlite3_int64 held_offset;
  sqlite3_int64 size;  // of the WAL file: written bytes and zero fill; -1 = unknown
  bool gather;         // a database file during a checkpoint: writes are held too
};

File* Of(sqlite3_file* f) { return reinterpret_cast<File*>(f); }
sqlite3_file* Real(sqlite3_file* f) { return Of(f)->real; }

constexpr size_t kRealOffset = (sizeof(File) + alignof(std::max_align_t) - 1) /
                               alignof(std::max_align_t) * alignof(std::max_align_t);

// Before a write past the end of the WAL, the file is extended with zeros
// to the next multiple of kWalGrowthBytes. A commit that appends to a file
// changes its size, and then `fdatasync` must also commit the file system's
// metadata (a second device flush on ext4); overwriting bytes already
// written does not. So while the WAL grows (from empty to the checkpoint
// threshold, then SQLite reuses it from the start) only one commit in
// 1 MiB pays for the metadata. Zeros after the last frame are what SQLite's
// recovery already meets in a reused WAL: a frame whose salt does not match
// the header ends the log.
int Grow(File* f, sqlite3_int64 end) {
  if (f->size < 0) {
    if (int rc = f->real->pMethods->xFileSize(f->real, &f->size); rc != SQLITE_OK) {
      f->size = -1;
      return rc;
    }
  }
  if (end <= f->size) return SQLITE_OK;
  const sqlite3_int64 target = (end + kWalGrowthBytes - 1) / kWalGrowthBytes * kWalGrowthBytes;
  static const std::string zeros(static_cast<size_t>(kMaxWriteBytes), '\0');
  for (sqlite3_int64 at = f->size; at < target;) {
    const sqlite3_int64 n = std::min(target - at, kMaxWriteBytes);
    if (int rc = f->real->pMethods->xWrite(f->real, zeros.data(), static_cast<int>(n), at);
        rc != SQLITE_OK) {
      f->size = -1;
      return rc;
    }
    at += n;
  }
  f->size = target;
  return SQLITE_OK;
}

int Flush(File* f) {
  if (f->held.empty()) return SQLITE_OK;
  const sqlite3_int64 end = f->held_offset + static_cast<sqlite3_int64>(f->held.size());
  int rc = f->wal ? Grow(f, end) : SQLITE_OK;
  if (rc == SQLITE_OK) {
    rc = WriteAll(f->real, f->held.data(), static_cast<sqlite3_int64>(f->held.size()),
                  f->held_offset, f->wal ? writes_issued : checkpoint_writes_issued);
  }
  f->held.clear();
  return rc;
}

int Close(sqlite3_file* file) {
  File* f = Of(file);
  int flushed = Flush(f);
  int rc = f->real->pMethods->xClose(f->real);
  f->held.~basic_string();
  return flushed != SQLITE_OK ? flushed : rc;
}

// Loads the whole WAL into wal_snapshot (see in_checkpoint); leaves it
// empty when the WAL is too large or cannot be read (then reads go to the
// file).
void LoadWalSnapshot(File* f) {
  wal_snapshot.clear();
  sqlite3_int64 size = 0;
  if (f->real->pMethods->xFileSize(f->real, &size) != SQLITE_OK || size <= 0 ||
      size > kMaxWalSnapshotBytes) {
    return;
  }
  wal_snapshot.resize(static_cast<size_t>(size));
  for (sqlite3_int64 done = 0; done < size;) {
    const int piece = static_cast<int>(std::min(size - done, kMaxWriteBytes));
    checkpoint_wal_reads_issued.fetch_add(1, std::memory_order_relaxed);
    if (f->real->pMethods->xRead(f->real, wal_snapshot.data() + done, piece, done) != SQLITE_OK) {
      wal_snapshot.clear();
      return;
    }
    done += piece;
  }
}

int Read(sqlite3_file* file, void* out, int amount, sqlite3_int64 offset) {
  File* f = Of(file);
  if (int rc = Flush(f); rc != SQLITE_OK) return rc;
  if (f->wal && in_checkpoint) {
    if (!wal_snapshot_loaded) {
      wal_snapshot_loaded = true;
      LoadWalSnapshot(f);
    }
    if (offset >= 0 && offset + amount <= static_cast<sqlite3_int64>(wal_snapshot.size())) {
      std::memcpy(out, wal_snapshot.data() + offset, static_cast<size_t>(amount));
      return SQLITE_OK;
    }
    checkpoint_wal_reads_issued.fetch_add(1, std::memory_order_relaxed);
  }
  return f->real->pMethods->xRead(f->real, out, amount, offset);
}

int Write(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
  File* f = Of(file);
  if (!f->wal && !f->gather) return f->real->pMethods->xWrite(f->real, data, amount, offset);
  (f->wal ? writes_received : checkpoint_pages_received).fetch_add(1, std::memory_order_relaxed);
  const auto* bytes = static_cast<const char*>(data);
  const auto size = static_cast<size_t>(amount);
  const sqlite3_int64 held_end = f->held_offset + static_cast<sqlite3_int64>(f->held.size());
  if (!f->held.empty() && offset >= f->held_offset &&
      offset + static_cast<sqlite3_int64>(size) <= held_end) {
    // A rewrite of held bytes (SQLite rewrites a frame of the same
    // transaction in place).
    std::memcpy(f->held.data() + (offset - f->held_offset), bytes, size);
    return SQLITE_OK;
  }
  if (f->held.empty() || offset != held_end) {
    if (int rc = Flush(f); rc != SQLITE_OK) return rc;
    f->held_offset = offset;
  }
  f->held.append(bytes, size);
  if (f->held.size() >= kMaxHeldBytes) return Flush(f);
  return SQLITE_OK;
}

int Truncate(sqlite3_file* file, sqlite3_int64 size) {
  File* f = Of(file);
  if (int rc = Flush(f); rc != SQLITE_OK) return rc;
  f->size = -1;
  return f->real->pMethods->xTruncate(f->real, size);
}

int Sync(sqlite3_file* file, int flags) {
  File* f = Of(file);
  // The header sits at offset 0: a sync after it is never deferred.
  const bool header = !f->held.empty() && f->held_offset == 0;
  if (int rc = Flush(f); rc != SQLITE_OK) return rc;
  if (f->wal && defer_wal_sync && !header) {
    wal_sync_deferred = true;
    syncs_deferred.fetch_add(1, std::memory_order_relaxed);
    return SQLITE_OK;
  }
  if (f->wal) syncs_issued.fetch_add(1, std::memory_order_relaxed);
  return f->real->pMethods->xSync(f->real, flags);
}

int FileSize(sqlite3_file* file, sqlite3_int64* size) {
  File* f = Of(file);
  if (int rc = Flush(f); rc != SQLITE_OK) return rc;
  return f->real->pMethods->xFileSize(f->real, size);
}

int Lock(sqlite3_file* f, int level) { return Real(f)->pMethods->xLock(Real(f), level); }
int Unlock(sqlite3_file* f, int level) { return Real(f)->pMethods->xUnlock(Real(f), level); }
int CheckReservedLock(sqlite3_file* f, int* out) {
  return Real(f)->pMethods->xCheckReservedLock(Real(f), out);
}
int FileControl(sqlite3_file* file, int op, void* arg) {
  File* f = Of(file);
  if (int rc = Flush(f); rc != SQLITE_OK) return rc;
  if (!f->wal && op == SQLITE_FCNTL_CKPT_START) {
    f->gather = true;
    in_checkpoint = true;
    wal_snapshot_loaded = false;
  } else if (!f->wal && op == SQLITE_FCNTL_CKPT_DONE) {
    f->gather = false;
    in_checkpoint = false;
    wal_snapshot_loaded = false;
    // The buffer is kept for the next checkpoint, up to a few MiB.
    if (wal_snapshot.capacity() > (size_t{8} << 20)) {
      std::string().swap(wal_snapshot);
    } else {
      wal_snapshot.clear();
    }
  }
  return f->real->pMethods->xFileControl(f->real, op, arg);
}
int SectorSize(sqlite3_file* f) { return Real(f)->pMethods->xSectorSize(Real(f)); }
int DeviceCharacteristics(sqlite3_file* f) {
  return Real(f)->pMethods->xDeviceCharacteristics(Real(f));
}
int ShmMap(sqlite3_file* f, int region, int size, int extend, void volatile** out) {
  if (Real(f)->pMethods->iVersion < 2) return SQLITE_IOERR_SHMMAP;
  return Real(f)->pMethods->xShmMap(Real(f), region, size, extend, out);
}
int ShmLock(sqlite3_file* f, int offset, int n, int flags) {
  if (Real(f)->pMethods->iVersion < 2) return SQLITE_IOERR_SHMLOCK;
  return Real(f)->pMethods->xShmLock(Real(f), offset, n, flags);
}
void ShmBarrier(sqlite3_file* f) {
  if (Real(f)->pMethods->iVersion >= 2) Real(f)->pMethods->xShmBarrier(Real(f));
}
int ShmUnmap(sqlite3_file* f, int delete_flag) {
  if (Real(f)->pMethods->iVersion < 2) return SQLITE_OK;
  return Real(f)->pMethods->xShmUnmap(Real(f), delete_flag);
}
int Fetch(sqlite3_file* f, sqlite3_int64 offset, int amount, void** out) {
  if (Real(f)->pMethods->iVersion < 3) {
    *out = nullptr;
    return SQLITE_OK;
  }
  return Real(f)->pMethods->xFetch(Real(f), offset, amount, out);
}
int Unfetch(sqlite3_file* f, sqlite3_int64 offset, void* page) {
  if (Real(f)->pMethods->iVersion < 3) return SQLITE_OK;
  return Real(f)->pMethods->xUnfetch(Real(f), offset, page);
}

const sqlite3_io_methods kMethods = {
    3,         Close,   Read,     Write,  Truncate, Sync,     FileSize,
    Lock,      Unlock,  CheckReservedLock,          FileControl,        SectorSize,
    DeviceCharacteristics,        ShmMap, ShmLock,  ShmBarrier,         ShmUnmap,
    Fetch,     Unfetch,
};

int Open(sqlite3_vfs* vfs, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
  File* f = Of(file);
  f->base.pMethods = nullptr;
  f->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + kRealOffset);
  f->wal = (flags & SQLITE_OPEN_WAL) != 0;
  f->held_offset = 0;
  f->size = -1;
  f->gather = false;
  int rc = Root(vfs)->xOpen(Root(vfs), name, f->real, flags, out_flags);
  // SQLite calls xClose only when pMethods is set, even after a failed open.
  if (f->real->pMethods == nullptr) return rc;
  new (&f->held) std::string();
  f->base.pMethods = &kMethods;
  return rc;
}

int Delete(sqlite3_vfs* v, const char* name, int sync_dir) {
  return Root(v)->xDelete(Root(v), name, sync_dir);
}
int Access(sqlite3_vfs* v, const char* name, int flags, int* out) {
  return Root(v)->xAccess(Root(v), name, flags, out);
}
int FullPathname(sqlite3_vfs* v, const char* name, int n, char* out) {
  return Root(v)->xFullPathname(Root(v), name, n, out);
}
void* DlOpen(sqlite3_vfs* v, const char* name) { return Root(v)->xDlOpen(Root(v), name); }
void DlError(sqlite3_vfs* v, int n, char* out) { Root(v)->xDlError(Root(v), n, out); }
void (*DlSym(sqlite3_vfs* v, void* handle, const char* symbol))(void) {
  return Root(v)->xDlSym(Root(v), handle, symbol);
}
void DlClose(sqlite3_vfs* v, void* handle) { Root(v)->xDlClose(Root(v), handle); }
int Randomness(sqlite3_vfs* v, int n, char* out) { return Root(v)->xRandomness(Root(v), n, out); }
int Sleep(sqlite3_vfs* v, int micros) { return Root(v)->xSleep(Root(v), micros); }
int CurrentTime(sqlite3_vfs* v, double* out) { return Root(v)->xCurrentTime(Root(v), out); }
int GetLastError(sqlite3_vfs* v, int n, char* out) {
  return Root(v)->xGetLastError ? Root(v)->xGetLastError(Root(v), n, out) : 0;
}
int CurrentTimeInt64(sqlite3_vfs* v, sqlite3_int64* out) {
  if (Root(v)->iVersion >= 2 && Root(v)->xCurrentTimeInt64) {
    return Root(v)->xCurrentTimeInt64(Root(v), out);
  }
  double days = 0;
  int rc = Root(v)->xCurrentTime(Root(v), &days);
  *out = static_cast<sqlite3_int64>(days * 86400000.0);
  return rc;
}

sqlite3_vfs vfs_storage;

}  // namespace

const char* WalWriteGatheringVfsName() {
  static const char* const name = [] () -> const char* {
    sqlite3_vfs* root = sqlite3_vfs_find(nullptr);
    if (root == nullptr) return nullptr;
    sqlite3_vfs& v = vfs_storage;
    v.iVersion = 2;
    v.szOsFile = static_cast<int>(kRealOffset) + root->szOsFile;
    v.mxPathname = root->mxPathname;
    v.pNext = nullptr;
    v.zName = "cairn-wal-gather";
    v.pAppData = root;
    v.xOpen = Open;
    v.xDelete = Delete;
    v.xAccess = Access;
    v.xFullPathname = FullPathname;
    v.xDlOpen = DlOpen;
    v.xDlError = DlError;
    v.xDlSym = DlSym;
    v.xDlClose = DlClose;
    v.xRandomness = Randomness;
    v.xSleep = Sleep;
    v.xCurrentTime = CurrentTime;
    v.xGetLastError = GetLastError;
    v.xCurrentTimeInt64 = CurrentTimeInt64;
    if (sqlite3_vfs_register(&v, /*makeDflt=*/0) != SQLITE_OK) return nullptr;
    return v.zName;
  }();
  return name;
}

ScopedWalSyncDeferral::ScopedWalSyncDeferral() {
  defer_wal_sync = true;
  wal_sync_deferred = false;
}
ScopedWalSyncDeferral::~ScopedWalSyncDeferral() { defer_wal_sync = false; }
bool ScopedWalSyncDeferral::deferred() const { return wal_sync_deferred; }

WalWriteStats CurrentWalWriteStats() {
  return {writes_received.load(std::memory_order_relaxed),
          writes_issued.load(std::memory_order_relaxed),
          syncs_issued.load(std::memory_order_relaxed),
          syncs_deferred.load(std::memory_order_relaxed),
          checkpoint_pages_received.load(std::memory_order_relaxed),
          checkpoint_writes_issued.load(std::memory_order_relaxed),
          checkpoint_wal_reads_issued.load(std::memory_order_relaxed)};
}

}  // namespace cairn::backend::local
