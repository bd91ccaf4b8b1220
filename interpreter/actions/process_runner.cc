#include "actions/process_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>

#include "core/environment_lock.h"
#include "core/scheduling.h"
#include "core/sigpipe_block.h"

extern char** environ;  // NOLINT(readability-redundant-declaration)

namespace cairn::actions {
namespace {

namespace fs = std::filesystem;

constexpr size_t kReadChunk = size_t{64} * 1024;
constexpr int kPollSliceMillis = 10;  // when no pidfd tells us the child ended

// An owned file descriptor.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) Reset(std::exchange(other.fd_, -1));
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { Reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void Reset(int fd = -1) {
    if (fd_ >= 0) close(fd_);  // not retried on EINTR: on Linux the fd is gone either way
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

struct Pipe {
  UniqueFd read;
  UniqueFd write;
};

Error SystemError(std::string code, int err, std::string what) {
  return MakeError(std::move(code), std::move(what) + ": " + std::strerror(err));
}

// "No such file or directory: 'foo'".
Error SpawnError(int err, const std::string& name) {
  return MakeError("spawn", std::string(std::strerror(err)) + ": '" + name + "'");
}

Result<Pipe> MakePipe() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return SystemError("io", errno, "cannot create a pipe");
  return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

void SetNonBlocking(int fd) {
  int flags = fcntl(fd, F_GETFL);
  if (flags >= 0) fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

bool HasNul(const std::string& s) { return s.find('\0') != std::string::npos; }

Status CheckSpec(const ProcessSpec& spec) {
  if (spec.argv.empty() || spec.argv[0].empty()) {
    return MakeError("invalid", "no program to run (argv is empty)");
  }
  for (const auto& arg : spec.argv) {
    if (HasNul(arg)) return MakeError("invalid", "an argument contains a NUL character");
  }
  for (const auto& [name, value] : spec.env) {
    if (name.empty() || name.find('=') != std::string::npos || HasNul(name)) {
      return MakeError("invalid", "'" + name + "' is not a valid environment variable name");
    }
    if (HasNul(value)) {
      return MakeError("invalid", "the variable '" + name + "' contains a NUL character");
    }
  }
  if (HasNul(spec.cwd)) return MakeError("invalid", "the working directory contains a NUL");
  if (spec.detach && !spec.stdin_data.empty()) {
    return MakeError("invalid", "stdin cannot be given to a detached process");
  }
  return {};
}

// "NAME=value" entries: cairn's environment (when inherited) with spec.env
// laid over it.
std::vector<std::string> BuildEnvironment(const ProcessSpec& spec) {
  std::vector<std::string> entries;
  if (spec.inherit_env) {
    std::lock_guard<std::mutex> lock(EnvironmentMutex());
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
      std::string_view entry(*e);
      std::string_view name = entry.substr(0, entry.find('='));
      if (spec.env.find(std::string(name)) == spec.env.end()) entries.emplace_back(entry);
    }
  }
  for (const auto& [name, value] : spec.env) {
    std::string entry = name;
    entry += '=';
    entry += value;
    entries.push_back(std::move(entry));
  }
  return entries;
}

std::vector<char*> NullTerminated(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (const auto& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

Status CheckDirectory(const std::string& cwd) {
  if (cwd.empty()) return {};
  struct stat st {};
  if (stat(cwd.c_str(), &st) != 0) return SpawnError(errno, cwd);
  if (!S_ISDIR(st.st_mode)) return SpawnError(ENOTDIR, cwd);
  return {};
}

// The path to hand to posix_spawn: `program` itself when it has a slash,
// else the first executable file named `program` in the child's PATH.
Result<std::string> ResolveProgram(const std::string& program,
                                   const std::vector<std::string>& environment,
                                   const std::string& cwd) {
  if (program.find('/') != std::string::npos) return program;
  std::string path = "/bin:/usr/bin";
  for (const auto& entry : environment) {
    if (entry.rfind("PATH=", 0) == 0) path = entry.substr(5);
  }
  int err = ENOENT;
  size_t begin = 0;
  while (begin <= path.size()) {
    size_t end = std::min(path.find(':', begin), path.size());
    std::string dir = path.substr(begin, end - begin);
    begin = end + 1;
    std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + program;
    const std::string checked =
        (candidate[0] == '/' || cwd.empty()) ? candidate : (fs::path(cwd) / candidate).string();
    struct stat st {};
    if (stat(checked.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (access(checked.c_str(), X_OK) == 0) return candidate;
    err = EACCES;
  }
  return SpawnError(err, program);
}

// RAII wrappers for the posix_spawn attribute objects.
class SpawnFileActions {
 public:
  SpawnFileActions() { posix_spawn_file_actions_init(&actions_); }
  ~SpawnFileActions() { posix_spawn_file_actions_destroy(&actions_); }
  SpawnFileActions(const SpawnFileActions&) = delete;
  SpawnFileActions& operator=(const SpawnFileActions&) = delete;
  posix_spawn_file_actions_t* get() { return &actions_; }

 private:
  posix_spawn_file_actions_t actions_;
};

class SpawnAttributes {
 public:
  // A child with default signal dispositions and an empty signal mask, in a
  // new process group (or, when `new_session`, a new session).
  explicit SpawnAttributes(bool new_session) {
    posix_spawnattr_init(&attr_);
    sigset_t all;
    sigfillset(&all);
    posix_spawnattr_setsigdefault(&attr_, &all);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr_, &none);
    short flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
    flags |= new_session ? POSIX_SPAWN_SETSID : POSIX_SPAWN_SETPGROUP;
    flags |= SpawnSchedulingDefaults(&attr_);  // SCHED_OTHER under `cairn serve`
    posix_spawnattr_setpgroup(&attr_, 0);
    posix_spawnattr_setflags(&attr_, flags);
  }
  ~SpawnAttributes() { posix_spawnattr_destroy(&attr_); }
  SpawnAttributes(const SpawnAttributes&) = delete;
  SpawnAttributes& operator=(const SpawnAttributes&) = delete;
  const posix_spawnattr_t* get() const { return &attr_; }

 private:
  posix_spawnattr_t attr_;
};

// The child's stdio: an fd of ours to dup onto 0/1/2, or /dev/null.
struct ChildStdio {
  int in = -1;
  int out = -1;
  int err = -1;
};

Result<int> Spawn(const ProcessSpec& spec, const std::string& program,
                  const std::vector<std::string>& environment, const ChildStdio& stdio) {
  SpawnFileActions actions;
  const int targets[3] = {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO};
  const int sources[3] = {stdio.in, stdio.out, stdio.err};
  for (int i = 0; i < 3; ++i) {
    if (sources[i] >= 0) {
      posix_spawn_file_actions_adddup2(actions.get(), sources[i], targets[i]);
    } else {
      posix_spawn_file_actions_addopen(actions.get(), targets[i], "/dev/null",
                                       i == 0 ? O_RDONLY : O_WRONLY, 0);
    }
  }
  if (!spec.cwd.empty()) posix_spawn_file_actions_addchdir_np(actions.get(), spec.cwd.c_str());
  posix_spawn_file_actions_addclosefrom_np(actions.get(), STDERR_FILENO + 1);

  SpawnAttributes attributes(spec.detach);
  std::vector<char*> argv = NullTerminated(spec.argv);
  std::vector<char*> envp = NullTerminated(environment);
  pid_t pid = 0;
  int rc =
      posix_spawn(&pid, program.c_str(), actions.get(), attributes.get(), argv.data(), envp.data());
  if (rc != 0) return SpawnError(rc, spec.argv[0]);
  return static_cast<int>(pid);
}

// Reads what is available from `fd` into `out` (`cap` bytes of head, then
// the last kOutputTailBytes as tail); closes `fd` at end of file or on an
// error. `max_reads` bounds the work when a writer never pauses.
void ReadAvailable(UniqueFd& fd, CapturedOutput& out, size_t cap, int max_reads) {
  char buffer[kReadChunk];
  for (int i = 0; i < max_reads && fd.valid(); ++i) {
    ssize_t n = read(fd.get(), buffer, sizeof buffer);
    if (n > 0) {
      size_t keep = std::min(static_cast<size_t>(n), cap - std::min(cap, out.head.size()));
      out.head.append(buffer, keep);
      out.tail.append(buffer + keep, static_cast<size_t>(n) - keep);
      if (out.tail.size() > CapturedOutput::kOutputTailBytes) {
        out.tail.erase(0, out.tail.size() - CapturedOutput::kOutputTailBytes);
      }
      out.total_bytes += static_cast<uint64_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return;
    } else if (n == 0 || errno != EINTR) {
      fd.Reset();  // end of file, or an error
    }
  }
}

// Whether `pid` has ended, without reaping it (a zombie keeps its pid and
// process group id from being reused until Reap).
Result<bool> HasEnded(int pid) {
  siginfo_t info{};
  while (waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
    if (errno != EINTR) return SystemError("io", errno, "waiting for the process");
  }
  return info.si_pid == pid;
}

int Reap(int pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

// Kills the child's process group and reaps the child, unless disarmed.
class ChildGuard {
 public:
  explicit ChildGuard(int pid) : pid_(pid) {}
  ~ChildGuard() {
    if (pid_ > 0) {
      kill(-pid_, SIGKILL);
      Reap(pid_);
    }
  }
  ChildGuard(const ChildGuard&) = delete;
  ChildGuard& operator=(const ChildGuard&) = delete;
  void Disarm() { pid_ = 0; }

 private:
  int pid_;
};

Result<ProcessResult> RunDetached(const ProcessSpec& spec, const std::string& program,
                                  const std::vector<std::string>& environment) {
  auto pid = Spawn(spec, program, environment, ChildStdio{});
  if (!pid.ok()) return pid.error();
  try {
    std::thread([pid = *pid] { Reap(pid); }).detach();
  } catch (const std::system_error& e) {
    kill(-*pid, SIGKILL);
    Reap(*pid);
    return MakeError("io", std::string("cannot start a thread to reap the process: ") + e.what());
  }
  ProcessResult result;
  result.pid = *pid;
  result.ending = ProcessResult::Ending::kDetached;
  return result;
}

}  // namespace

std::vector<std::string> ShellCommand(std::string script) {
  return {"/bin/sh", "-c", std::move(script)};
}

Result<ProcessResult> PosixProcessRunner::Run(const ProcessSpec& spec) {
  if (auto valid = CheckSpec(spec); !valid.ok()) return valid.error();
  if (auto dir = CheckDirectory(spec.cwd); !dir.ok()) return dir.error();
  const std::vector<std::string> environment = BuildEnvironment(spec);
  auto program = ResolveProgram(spec.argv[0], environment, spec.cwd);
  if (!program.ok()) return program.error();
  if (spec.detach) return RunDetached(spec, *program, environment);

  auto out_pipe = MakePipe();
  if (!out_pipe.ok()) return out_pipe.error();
  auto err_pipe = MakePipe();
  if (!err_pipe.ok()) return err_pipe.error();
  Pipe in_pipe;
  if (!spec.stdin_data.empty()) {
    auto made = MakePipe();
    if (!made.ok()) return made.error();
    in_pipe = std::move(*made);
  }
  std::optional<SigpipeBlock> sigpipe_block;
  if (in_pipe.write.valid()) sigpipe_block.emplace();

  const int64_t started = clock_.MonotonicNanos();
  auto spawned =
      Spawn(spec, *program, environment,
            ChildStdio{in_pipe.read.get(), out_pipe->write.get(), err_pipe->write.get()});
  if (!spawned.ok()) return spawned.error();
  const int pid = *spawned;
  ChildGuard guard(pid);
  in_pipe.read.Reset();
  out_pipe->write.Reset();
  err_pipe->write.Reset();
  UniqueFd& in = in_pipe.write;
  UniqueFd& out = out_pipe->read;
  UniqueFd& err = err_pipe->read;
  for (const UniqueFd* fd : {&in, &out, &err}) {
    if (fd->valid()) SetNonBlocking(fd->get());
  }
  // Readable when the child ends (glibc 2.36's <sys/pidfd.h> lacks extern "C").
  UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));

  ProcessResult result;
  result.pid = pid;
  size_t written = 0;
  constexpr int64_t kNanosPerMilli = 1'000'000;
  const std::optional<int64_t> deadline =
      spec.timeout ? std::optional(started + spec.timeout->millis * kNanosPerMilli) : std::nullopt;
  std::optional<int64_t> kill_at;
  bool killed = false;

  while (true) {
    auto ended = HasEnded(pid);
    if (!ended.ok()) return ended.error();
    if (*ended) break;
    const int64_t now = clock_.MonotonicNanos();
    if (deadline && !result.timed_out && now >= *deadline) {
      kill(-pid, SIGTERM);
      result.timed_out = true;
      kill_at = now + spec.kill_grace.millis * kNanosPerMilli;
    }
    if (kill_at && !killed && now >= *kill_at) {
      kill(-pid, SIGKILL);
      killed = true;
    }

    std::optional<int64_t> next_event =
        result.timed_out ? (killed ? std::nullopt : kill_at) : deadline;
    int wait_ms = -1;
    if (next_event) {
      wait_ms = static_cast<int>(std::clamp<int64_t>(
          (*next_event - now + kNanosPerMilli - 1) / kNanosPerMilli, 0, 60'000));
    }
    if (!pidfd.valid()) {
      wait_ms = wait_ms < 0 ? kPollSliceMillis : std::min(wait_ms, kPollSliceMillis);
    }

    pollfd fds[4];
    nfds_t count = 0;
    auto watch = [&](const UniqueFd& fd, short events) {
      fds[count++] = pollfd{fd.valid() ? fd.get() : -1, events, 0};
    };
    watch(in, POLLOUT);
    watch(out, POLLIN);
    watch(err, POLLIN);
    watch(pidfd, POLLIN);
    if (poll(fds, count, wait_ms) < 0) {
      if (errno == EINTR) continue;
      return SystemError("io", errno, "poll");
    }

    if (in.valid() && fds[0].revents != 0) {
      ssize_t n = write(in.get(), spec.stdin_data.data() + written,
                        std::min(spec.stdin_data.size() - written, kReadChunk));
      if (n > 0) written += static_cast<size_t>(n);
      if ((n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) ||
          written == spec.stdin_data.size()) {
        in.Reset();  // done, or the child closed its stdin (EPIPE)
      }
    }
    if (fds[1].revents != 0) ReadAvailable(out, result.stdout_output, spec.max_output_bytes, 1);
    if (fds[2].revents != 0) ReadAvailable(err, result.stderr_output, spec.max_output_bytes, 1);
  }

  // The child has ended; what it wrote is in the pipes. Descendants that
  // still hold them open are not waited for.
  constexpr int kDrainReads = 64;
  ReadAvailable(out, result.stdout_output, spec.max_output_bytes, kDrainReads);
  ReadAvailable(err, result.stderr_output, spec.max_output_bytes, kDrainReads);
  if (result.timed_out) kill(-pid, SIGKILL);
  guard.Disarm();
  const int status = Reap(pid);
  if (WIFSIGNALED(status)) {
    result.ending = ProcessResult::Ending::kSignaled;
    result.signal = WTERMSIG(status);
  } else {
    result.ending = ProcessResult::Ending::kExited;
    result.exit_code = WEXITSTATUS(status);
  }
  return result;
}

}  // namespace cairn::actions
