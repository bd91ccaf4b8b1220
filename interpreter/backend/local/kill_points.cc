#include "backend/local/kill_points.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <mutex>

namespace cairn::backend::local {
namespace internal {
std::atomic<bool> kill_points_active{false};
}  // namespace internal

namespace {

// Set once at start-up (before any point can pass), read afterwards.
std::mutex config_mu;
std::string armed_name;  // "" = none; "*" = any point
int64_t armed_at = 0;
std::atomic<int64_t> passings{0};
int trace_fd = -1;

Error Unsupported() {
  return MakeError("kill_points",
                   "this cairn was built without kill points (configure with "
                   "-DCAIRN_KILL_POINTS=ON, a test build)");
}

}  // namespace

bool KillPointsCompiledIn() {
#ifdef CAIRN_KILL_POINTS
  return true;
#else
  return false;
#endif
}

Status ArmKillPoint(std::string_view spec) {
  if (!KillPointsCompiledIn()) return Unsupported();
  auto colon = spec.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == spec.size()) {
    return MakeError("kill_points", "kill point spec must be NAME:N, got '" + std::string(spec) + "'");
  }
  int64_t n = 0;
  for (char c : spec.substr(colon + 1)) {
    if (c < '0' || c > '9' || n > 1'000'000'000) {
      return MakeError("kill_points", "kill point count must be a positive integer in '" +
                                          std::string(spec) + "'");
    }
    n = n * 10 + (c - '0');
  }
  if (n < 1) return MakeError("kill_points", "kill point count must be at least 1");
  std::lock_guard lock(config_mu);
  armed_name = std::string(spec.substr(0, colon));
  armed_at = n;
  passings.store(0);
  internal::kill_points_active.store(true);
  return {};
}

Status TraceKillPoints(const std::string& path) {
  if (!KillPointsCompiledIn()) return Unsupported();
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return MakeError("io", "cannot open the kill point trace " + path + ": " + std::strerror(errno));
  std::lock_guard lock(config_mu);
  if (trace_fd >= 0) ::close(trace_fd);
  trace_fd = fd;
  internal::kill_points_active.store(true);
  return {};
}

void internal::PassKillPoint(const char* name) {
  if (trace_fd >= 0) {
    // One write per line with O_APPEND: lines of concurrent passings never mix.
    std::string line = std::string(name) + "\n";
    (void)!::write(trace_fd, line.data(), line.size());
  }
  if (armed_at == 0) return;
  if (armed_name != "*" && armed_name != name) return;
  if (passings.fetch_add(1) + 1 == armed_at) {
    ::kill(::getpid(), SIGKILL);
    // SIGKILL cannot be caught; nothing runs after it. Pause in case the
    // signal is delivered a moment later.
    for (;;) ::pause();
  }
}

}  // namespace cairn::backend::local
