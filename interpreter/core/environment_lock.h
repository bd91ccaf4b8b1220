// The process environment is shared, mutable state: while libjq compiles,
// expr/ briefly points HOME elsewhere (expression_set.cc explains why). Code
// that reads or copies the environment while other threads may compile
// expressions (the CLI's GetEnv, the process runner building a child's
// environment) holds this lock, so it never sees the stand-in value.
#pragma once

#include <mutex>

namespace cairn {

inline std::mutex& EnvironmentMutex() {
  static std::mutex mutex;
  return mutex;
}

}  // namespace cairn
