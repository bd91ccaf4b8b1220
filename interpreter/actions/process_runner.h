// ProcessRunner: the edge between cairn and local processes (process.run).
// PosixProcessRunner is the only code in cairn that starts a process; tests
// of code above it use FakeProcessRunner (process_runner_fake.h).
//
// A run either waits for the process (capturing stdout and stderr, writing
// stdin, enforcing a timeout) or detaches it (starts it and returns its pid).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/duration.h"
#include "core/result.h"

namespace cairn::actions {

struct ProcessSpec {
  // The program and its arguments, passed as they are: no shell, no
  // expansion (see ShellCommand for a shell script). argv[0] is a path
  // (a relative one is taken from `cwd`) or a bare name looked up in the
  // PATH of the child's environment ("/bin:/usr/bin" when it has none).
  std::vector<std::string> argv;
  // Variables added to the child's environment; they replace inherited
  // variables of the same name.
  std::map<std::string, std::string> env;
  // True (the default): the child starts with cairn's own environment plus
  // `env`, as a shell would start it, so workers find PATH, HOME, CAIRN_BIN
  // and whatever tells the CLI where the local service is. False: `env` only.
  bool inherit_env = true;
  // Working directory of the child; empty means cairn's own.
  std::string cwd;
  // Written to the child's stdin, which is then closed. Empty: stdin is
  // /dev/null. Not allowed with `detach`.
  std::string stdin_data;
  // After this long the child's process group gets SIGTERM, and SIGKILL
  // `kill_grace` later if the child is still running. None: no limit.
  // Ignored with `detach`.
  std::optional<Duration> timeout;
  Duration kill_grace = Duration::Seconds(2);
  // Bytes kept from the start of stdout and of stderr (each), besides a
  // short tail; the rest is read and dropped, so a chatty child is never
  // blocked.
  size_t max_output_bytes = size_t{1} << 20;
  // Start the child in a new session with stdin, stdout and stderr on
  // /dev/null and return at once; cairn reaps it when it ends.
  bool detach = false;
};

// What one stream of the child wrote: all of it when it fits in
// max_output_bytes + kOutputTailBytes, else its head and its tail.
struct CapturedOutput {
  static constexpr size_t kOutputTailBytes = 4096;

  std::string head;          // the first max_output_bytes bytes, as written
  std::string tail;          // the last bytes after the head (≤ kOutputTailBytes)
  uint64_t total_bytes = 0;  // everything the stream carried

  // True when bytes between head and tail were dropped; else the whole
  // output is head + tail.
  bool truncated() const { return total_bytes > head.size() + tail.size(); }
};

struct ProcessResult {
  enum class Ending { kExited, kSignaled, kDetached };

  int pid = 0;
  Ending ending = Ending::kExited;
  int exit_code = 0;       // when kExited
  int signal = 0;          // when kSignaled
  bool timed_out = false;  // the timeout passed and cairn stopped the child
  CapturedOutput stdout_output;
  CapturedOutput stderr_output;
};

// {"/bin/sh", "-c", script}: how a command written as one string is run.
std::vector<std::string> ShellCommand(std::string script);

class ProcessRunner {
 public:
  virtual ~ProcessRunner() = default;

  // Runs spec.argv as described by `spec`. On success the result says how
  // the child ended (a non-zero exit, a signal and a timeout are successes
  // here: the child ran). On failure nothing is left running, and the error
  // has code "spawn" when the child could not be started (message e.g.
  // "No such file or directory: 'foo'"), "invalid" for a malformed spec
  // (empty argv, a NUL character, stdin with detach) and "io" when the
  // system refused a resource (pipes, threads).
  // Thread-safe: may be called from several threads at once.
  [[nodiscard]] virtual Result<ProcessResult> Run(const ProcessSpec& spec) = 0;
};

// posix_spawn-based runner for Linux.
//
// The child starts with default signal dispositions, an empty signal mask
// and only fds 0, 1 and 2 open (every other fd of cairn is closed in the
// child, with or without O_CLOEXEC). An attached child leads its own process
// group, so a timeout's signals reach its descendants too. A detached child
// is reaped by a small thread that waits for it, so it never lingers as a
// zombie of a long-running cairn.
//
// REQUIRES, for the whole life of the process: SIGCHLD is not ignored and
// nothing else waits for arbitrary children (waitpid(-1)); the environment
// is not modified (setenv) while Run may be running.
class PosixProcessRunner final : public ProcessRunner {
 public:
  // `clock` measures timeouts; it must outlive the runner.
  explicit PosixProcessRunner(const Clock& clock = SystemClock::Instance()) : clock_(clock) {}

  Result<ProcessResult> Run(const ProcessSpec& spec) override;

 private:
  const Clock& clock_;
};

}  // namespace cairn::actions
