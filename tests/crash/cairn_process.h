// Runs the real `cairn` binary for the crash and bad-input tests: extra
// environment variables, stdout/stderr captured to files, a deadline, and an
// optional SIGKILL from outside after a delay.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace cairn::crash {

struct ProcessResult {
  bool started = false;
  int spawn_error = 0;     // errno of posix_spawn when not started
  bool exited = false;     // exited normally (exit_code is valid)
  int exit_code = -1;
  bool killed = false;     // ended by SIGKILL (a kill point or the test)
  bool timed_out = false;  // the test killed it at the deadline
  int signal = 0;          // the signal that ended it, if one did
  std::string out;
  std::string err;
  double seconds = 0;
};

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

struct ProcessOptions {
  // Set (or, with an empty value, removed from) the child's environment.
  std::map<std::string, std::string> env;
  double timeout_seconds = 60;
  // When >= 0, the test SIGKILLs the process after this many milliseconds.
  int kill_after_ms = -1;
  // Called about every 50 ms while the process runs.
  std::function<void()> tick;
};

// Runs `argv` (argv[0] is the program path) with `options`; the output goes
// to `scratch`.out / .err (files) and is returned.
inline ProcessResult RunProcess(const std::vector<std::string>& argv, const std::string& scratch,
                                const ProcessOptions& options = {}) {
  ProcessResult r;
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    std::string key = kv.substr(0, kv.find('='));
    if (options.env.count(key)) continue;
    env_strings.push_back(kv);
  }
  for (const auto& [k, v] : options.env) {
    if (!v.empty()) env_strings.push_back(k + "=" + v);
  }
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> argp;
  for (auto& a : args) argp.push_back(a.data());
  argp.push_back(nullptr);

  const std::string out_path = scratch + ".out";
  const std::string err_path = scratch + ".err";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  pid_t pid = 0;
  auto t0 = std::chrono::steady_clock::now();
  int rc = posix_spawn(&pid, argp[0], &actions, nullptr, argp.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    // E.g. ETXTBSY or ENOEXEC while a build relinks the binary.
    r.spawn_error = rc;
    return r;
  }
  r.started = true;
  int status = 0;
  bool sent_kill = false;
  for (;;) {
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!sent_kill && options.kill_after_ms >= 0 && elapsed * 1000 >= options.kill_after_ms) {
      kill(pid, SIGKILL);
      sent_kill = true;
    }
    if (!sent_kill && elapsed > options.timeout_seconds) {
      kill(pid, SIGKILL);
      sent_kill = true;
      r.timed_out = true;
    }
    if (options.tick) options.tick();
    std::this_thread::sleep_for(std::chrono::milliseconds(sent_kill ? 2 : 20));
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (WIFEXITED(status)) {
    r.exited = true;
    r.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    r.signal = WTERMSIG(status);
    r.killed = r.signal == SIGKILL;
  }
  r.out = ReadFile(out_path);
  r.err = ReadFile(err_path);
  return r;
}

// "exit 0 after 2.1 s", "SIGKILL after 0.3 s", "not started: Text file busy".
inline std::string Describe(const ProcessResult& r) {
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.1f s", r.seconds);
  if (!r.started) return std::string("not started: ") + std::strerror(r.spawn_error);
  if (r.exited) return "exit " + std::to_string(r.exit_code) + " after " + secs;
  if (r.timed_out) return std::string("still running at the deadline, killed after ") + secs;
  if (r.signal != 0) {
    const char* name = sigabbrev_np(r.signal);
    return std::string("SIG") + (name ? name : std::to_string(r.signal).c_str()) + " after " + secs;
  }
  return std::string("ended after ") + secs;
}

}  // namespace cairn::crash
