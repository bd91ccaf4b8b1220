// Kill points: named places of the local service where a test build of cairn
// can SIGKILL itself, so that crash tests can stop the process at every
// checkpoint boundary instead of only at random moments.
//
// A kill point is compiled in only when CAIRN_KILL_POINTS is defined (the
// CMake option of the same name; ON with tests, OFF in the release preset).
// Without it CAIRN_KILL_POINT(name) is empty and ArmKillPoint fails, so a
// production binary can never be told to kill itself and a crash test
// against such a binary fails loudly instead of passing vacuously.
//
// When compiled in but not armed, a passing costs one relaxed atomic load.
//
// The points (each one a moment after which a crash must lose nothing that
// was acknowledged, and must not make anything acknowledged run again):
//   start.before_commit   start.after_commit     (StartExecution)
//   invoke.begin                                 (before the engine runs)
//   checkpoint.received                          (the engine decided; its
//                                                 actions ran; nothing stored)
//   commit.before  commit.after                  (every durable change)
//   store.applied                                (SqliteStore: the batch is in
//                                                 the open transaction)
//   store.committed                              (COMMIT returned; writers not
//                                                 yet told)
//   checkpoint.before_reply                      (stored; the engine not told)
//   invocation.returned                          (the engine returned)
//   invocation.after_commit                      (its end is stored)
//   timer.fire  timer.after_commit               (a timer fires)
//   callback.received  callback.after_commit     (a callback API call; after
//                                                 the commit, before the reply)
//
// Thread-safety: every function is thread-safe; ArmKillPoint and
// TraceKillPoints are meant to be called once at start-up.
#pragma once

#include <atomic>
#include <string>
#include <string_view>

#include "core/result.h"

namespace cairn::backend::local {

// True when this build has kill points.
bool KillPointsCompiledIn();

// Arms one kill point from `spec` = "NAME:N": the process SIGKILLs itself
// at the N-th (from 1) passing of point NAME, or of any point when NAME is
// "*". Errors: "kill_points" (not compiled in; malformed spec).
Status ArmKillPoint(std::string_view spec);

// Appends the name of every passing point, one per line, to the file at
// `path` (created if needed). Errors as above, and "io".
Status TraceKillPoints(const std::string& path);

namespace internal {
extern std::atomic<bool> kill_points_active;
void PassKillPoint(const char* name);
}  // namespace internal

}  // namespace cairn::backend::local

#ifdef CAIRN_KILL_POINTS
#define CAIRN_KILL_POINT(name)                                                         \
  do {                                                                                 \
    if (::cairn::backend::local::internal::kill_points_active.load(                    \
            std::memory_order_relaxed)) {                                              \
      ::cairn::backend::local::internal::PassKillPoint(name);                          \
    }                                                                                  \
  } while (0)
#else
#define CAIRN_KILL_POINT(name) \
  do {                         \
  } while (0)
#endif
