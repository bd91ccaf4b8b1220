#include "aws/credential_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/clock.h"
#include "core/scheduling.h"

extern char** environ;

namespace cairn::aws {
namespace {

constexpr size_t kMaxOutput = 1u << 20;

// The command's first word, for messages (the rest may hold arguments that
// are none of a log's business).
std::string ProgramOf(const std::string& command) {
  size_t start = command.find_first_not_of(" \t");
  if (start == std::string::npos) return "";
  size_t end = command.find_first_of(" \t", start);
  return command.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

}  // namespace

Result<std::string> RunCredentialProcess(const std::string& command,
                                         std::chrono::milliseconds timeout) {
  const std::string what = "credential_process '" + ProgramOf(command) + "'";
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) {
    return MakeError("credentials", what + ": pipe: " + std::strerror(errno));
  }

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Its own process group, so a timeout kills whatever the shell started.
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | SpawnSchedulingDefaults(&attr));
  posix_spawnattr_setpgroup(&attr, 0);

  const char* argv[] = {"/bin/sh", "-c", command.c_str(), nullptr};
  pid_t pid = 0;
  int rc = posix_spawn(&pid, "/bin/sh", &actions, &attr, const_cast<char* const*>(argv), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close(out[1]);
  if (rc != 0) {
    close(out[0]);
    return MakeError("credentials", what + ": cannot start /bin/sh: " + std::strerror(rc));
  }

  const Clock& clock = SystemClock::Instance();
  const int64_t deadline = clock.MonotonicNanos() + timeout.count() * 1'000'000;
  std::string output;
  bool timed_out = false, too_large = false;
  char buf[4096];
  while (true) {
    int64_t left_ms = (deadline - clock.MonotonicNanos()) / 1'000'000;
    if (left_ms <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{out[0], POLLIN, 0};
    int ready = poll(&p, 1, static_cast<int>(std::min<int64_t>(left_ms, 1000)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    ssize_t n = read(out[0], buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF: the command closed its stdout
    output.append(buf, static_cast<size_t>(n));
    if (output.size() > kMaxOutput) {
      too_large = true;
      break;
    }
  }
  close(out[0]);
  if (timed_out || too_large) kill(-pid, SIGKILL);

  // stdout is closed; wait for the exit (bounded by the same deadline).
  int status = 0;
  while (true) {
    pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (done < 0 && errno != EINTR) break;
    if (clock.MonotonicNanos() > deadline && !timed_out) {
      timed_out = true;
      kill(-pid, SIGKILL);
    }
    usleep(2000);
  }
  if (timed_out) {
    return MakeError("credentials",
                     what + " did not finish within " + std::to_string(timeout.count()) + " ms");
  }
  if (too_large) return MakeError("credentials", what + " wrote more than 1 MiB");
  if (WIFSIGNALED(status)) {
    return MakeError("credentials",
                     what + " was killed by signal " + std::to_string(WTERMSIG(status)));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return MakeError("credentials",
                     what + " exited with status " + std::to_string(WEXITSTATUS(status)));
  }
  return output;
}

}  // namespace cairn::aws
