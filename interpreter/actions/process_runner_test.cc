#include "actions/process_runner.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/scheduling.h"

namespace cairn::actions {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr size_t kFiveMiB = size_t{5} << 20;

ProcessSpec Spec(std::vector<std::string> argv) {
  ProcessSpec spec;
  spec.argv = std::move(argv);
  return spec;
}

ProcessResult RunOk(const ProcessSpec& spec) {
  PosixProcessRunner runner;
  auto result = runner.Run(spec);
  EXPECT_TRUE(result.ok()) << result.error().ToString();
  return result.ok() ? *result : ProcessResult{};
}

std::string Out(const ProcessResult& r) { return r.stdout_output.head + r.stdout_output.tail; }
std::string Err(const ProcessResult& r) { return r.stderr_output.head + r.stderr_output.tail; }

// True while `pid` exists and is not a zombie.
bool IsRunning(int pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  size_t paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] != 'Z';
}

bool Exists(int pid) { return fs::exists("/proc/" + std::to_string(pid)); }

// Polls `condition` for up to a second.
template <typename F>
bool Eventually(F condition) {
  auto until = steady_clock::now() + milliseconds(1000);
  while (steady_clock::now() < until) {
    if (condition()) return true;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return condition();
}

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "cairn-process-XXXXXX").string();
    path_ = fs::canonical(mkdtemp(pattern.data())).string();
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(ProcessRunnerTest, ArgvIsPassedLiterallyWithoutAShell) {
  ProcessResult r = RunOk(Spec({"/bin/echo", "two words", "$(echo hi)", "*", "$HOME"}));
  EXPECT_EQ(r.ending, ProcessResult::Ending::kExited);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(Out(r), "two words $(echo hi) * $HOME\n");
  EXPECT_GT(r.pid, 0);
}

TEST(ProcessRunnerTest, ChildrenOfABatchScheduledServerRunUnderTheDefaultPolicy) {
  // `cairn serve` runs its threads under SCHED_BATCH (core/scheduling.h);
  // what it starts must not inherit that. On a thread of its own: the
  // policy is per thread.
  std::thread([] {
    ASSERT_TRUE(UseBatchScheduling());
    ProcessResult r = RunOk(Spec(ShellCommand("read -r s < /proc/$$/stat; set -- $s; echo ${41}")));
    EXPECT_EQ(Out(r), std::to_string(SCHED_OTHER) + "\n");
  }).join();
}

TEST(ProcessRunnerTest, ShellCommandRunsThroughSh) {
  ProcessResult r = RunOk(Spec(ShellCommand("echo $((1 + 2)) | tr 3 x; echo oops >&2")));
  EXPECT_EQ(Out(r), "x\n");
  EXPECT_EQ(Err(r), "oops\n");
}

TEST(ProcessRunnerTest, BareNameIsLookedUpInPath) {
  EXPECT_EQ(Out(RunOk(Spec({"echo", "found"}))), "found\n");
}

TEST(ProcessRunnerTest, EnvAddsToTheInheritedEnvironment) {
  ASSERT_EQ(setenv("CAIRN_PROCESS_TEST_INHERITED", "from-cairn", 1), 0);
  ASSERT_EQ(setenv("CAIRN_PROCESS_TEST_REPLACED", "old", 1), 0);
  ProcessSpec spec = Spec({"env"});
  spec.env = {{"CAIRN_PROCESS_TEST_ADDED", "a b=c"}, {"CAIRN_PROCESS_TEST_REPLACED", "new"}};
  std::string env = Out(RunOk(spec));
  EXPECT_NE(env.find("CAIRN_PROCESS_TEST_INHERITED=from-cairn\n"), std::string::npos) << env;
  EXPECT_NE(env.find("CAIRN_PROCESS_TEST_ADDED=a b=c\n"), std::string::npos);
  EXPECT_NE(env.find("CAIRN_PROCESS_TEST_REPLACED=new\n"), std::string::npos);
  EXPECT_EQ(env.find("CAIRN_PROCESS_TEST_REPLACED=old"), std::string::npos);

  spec.inherit_env = false;  // and `env` is then found in the default PATH
  EXPECT_EQ(Out(RunOk(spec)), "CAIRN_PROCESS_TEST_ADDED=a b=c\nCAIRN_PROCESS_TEST_REPLACED=new\n");
  unsetenv("CAIRN_PROCESS_TEST_INHERITED");
  unsetenv("CAIRN_PROCESS_TEST_REPLACED");
}

TEST(ProcessRunnerTest, PathOfTheChildEnvironmentFindsTheProgram) {
  TempDir dir;
  std::ofstream(dir.path() + "/cairn-tool") << "#!/bin/sh\necho tool $1\n";
  ASSERT_EQ(chmod((dir.path() + "/cairn-tool").c_str(), 0755), 0);
  ProcessSpec spec = Spec({"cairn-tool", "ran"});
  spec.env["PATH"] = dir.path() + ":/usr/bin:/bin";
  EXPECT_EQ(Out(RunOk(spec)), "tool ran\n");
}

TEST(ProcessRunnerTest, RunsInTheGivenDirectoryAndFindsRelativePrograms) {
  TempDir dir;
  ProcessSpec spec = Spec({"/bin/pwd"});
  spec.cwd = dir.path();
  EXPECT_EQ(Out(RunOk(spec)), dir.path() + "\n");

  std::ofstream(dir.path() + "/tool.sh") << "#!/bin/sh\necho relative\n";
  ASSERT_EQ(chmod((dir.path() + "/tool.sh").c_str(), 0755), 0);
  spec.argv = {"./tool.sh"};
  EXPECT_EQ(Out(RunOk(spec)), "relative\n");
}

TEST(ProcessRunnerTest, MissingDirectoryIsASpawnError) {
  PosixProcessRunner runner;
  ProcessSpec spec = Spec({"/bin/true"});
  spec.cwd = "/nonexistent/cairn-dir";
  auto r = runner.Run(spec);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "spawn");
  EXPECT_EQ(r.error().message, "No such file or directory: '/nonexistent/cairn-dir'");
}

TEST(ProcessRunnerTest, MissingProgramIsAClearError) {
  PosixProcessRunner runner;
  auto r = runner.Run(Spec({"cairn-no-such-program", "x"}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "spawn");
  EXPECT_EQ(r.error().message, "No such file or directory: 'cairn-no-such-program'");

  r = runner.Run(Spec({"/nonexistent/prog"}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "No such file or directory: '/nonexistent/prog'");
}

TEST(ProcessRunnerTest, ProgramThatIsNotExecutableIsAClearError) {
  TempDir dir;
  const std::string path = dir.path() + "/not-executable";
  std::ofstream(path) << "echo hi\n";
  PosixProcessRunner runner;
  auto r = runner.Run(Spec({path}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "spawn");
  EXPECT_EQ(r.error().message, "Permission denied: '" + path + "'");
}

TEST(ProcessRunnerTest, MalformedSpecsAreRejected) {
  PosixProcessRunner runner;
  EXPECT_EQ(runner.Run(Spec({})).error().code, "invalid");
  EXPECT_EQ(runner.Run(Spec({"/bin/echo", std::string("a\0b", 3)})).error().code, "invalid");
  ProcessSpec spec = Spec({"/bin/true"});
  spec.env["A=B"] = "x";
  EXPECT_EQ(runner.Run(spec).error().code, "invalid");
  spec = Spec({"/bin/cat"});
  spec.detach = true;
  spec.stdin_data = "x";
  EXPECT_EQ(runner.Run(spec).error().code, "invalid");
}

TEST(ProcessRunnerTest, StdinIsWrittenThenClosed) {
  ProcessSpec spec = Spec({"/bin/cat"});
  spec.stdin_data = "hello\nworld";
  EXPECT_EQ(Out(RunOk(spec)), "hello\nworld");
  spec.stdin_data.clear();  // /dev/null: cat ends at once
  EXPECT_EQ(Out(RunOk(spec)), "");
}

TEST(ProcessRunnerTest, ChildThatIgnoresStdinDoesNotHurtCairn) {
  ProcessSpec spec = Spec({"/bin/sh", "-c", "head -c 3"});
  spec.stdin_data = std::string(kFiveMiB, 'x');
  ProcessResult r = RunOk(spec);  // SIGPIPE is not delivered to cairn
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(Out(r), "xxx");
}

TEST(ProcessRunnerTest, LargeOutputOnBothStreamsDoesNotDeadlock) {
  ProcessSpec spec = Spec(ShellCommand("head -c 5242880 /dev/zero >&2; head -c 5242880 /dev/zero"));
  spec.max_output_bytes = size_t{8} << 20;
  ProcessResult r = RunOk(spec);
  EXPECT_EQ(r.stdout_output.total_bytes, kFiveMiB);
  EXPECT_EQ(r.stderr_output.total_bytes, kFiveMiB);
  EXPECT_FALSE(r.stdout_output.truncated());
  EXPECT_EQ(Out(r), std::string(kFiveMiB, '\0'));
}

TEST(ProcessRunnerTest, LargeStdinEchoedToBothStreamsAtOnce) {
  ProcessSpec spec = Spec(ShellCommand("tee /dev/stderr"));
  spec.stdin_data.reserve(kFiveMiB);
  while (spec.stdin_data.size() < kFiveMiB) spec.stdin_data += "0123456789abcdef";
  spec.max_output_bytes = size_t{8} << 20;
  ProcessResult r = RunOk(spec);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(Out(r) == spec.stdin_data);
  EXPECT_TRUE(Err(r) == spec.stdin_data);
}

TEST(ProcessRunnerTest, OutputBeyondTheCapIsDroppedWithoutBlockingTheChild) {
  ProcessResult r = RunOk(Spec(ShellCommand("head -c 5242880 /dev/zero; echo end")));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(r.stdout_output.truncated());
  EXPECT_EQ(r.stdout_output.head.size(), size_t{1} << 20);
  EXPECT_EQ(r.stdout_output.tail.size(), CapturedOutput::kOutputTailBytes);
  EXPECT_EQ(r.stdout_output.tail.substr(r.stdout_output.tail.size() - 4), "end\n");
  EXPECT_EQ(r.stdout_output.total_bytes, kFiveMiB + 4);
}

TEST(ProcessRunnerTest, OutputThatFitsHeadAndTailIsWhole) {
  ProcessSpec spec = Spec(ShellCommand("printf 0123456789"));
  spec.max_output_bytes = 4;
  ProcessResult r = RunOk(spec);
  EXPECT_FALSE(r.stdout_output.truncated());
  EXPECT_EQ(r.stdout_output.head, "0123");
  EXPECT_EQ(Out(r), "0123456789");
}

TEST(ProcessRunnerTest, ReportsExitCodes) {
  ProcessResult r = RunOk(Spec(ShellCommand("echo failing >&2; exit 3")));
  EXPECT_EQ(r.ending, ProcessResult::Ending::kExited);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(Err(r), "failing\n");
}

TEST(ProcessRunnerTest, ReportsSignals) {
  ProcessResult r = RunOk(Spec(ShellCommand("kill -KILL $$")));
  EXPECT_EQ(r.ending, ProcessResult::Ending::kSignaled);
  EXPECT_EQ(r.signal, SIGKILL);
  EXPECT_FALSE(r.timed_out);
}

TEST(ProcessRunnerTest, ChildStartsWithDefaultSignalsAndAnEmptyMask) {
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  struct sigaction old_action {};
  ASSERT_EQ(sigaction(SIGUSR1, &ignore, &old_action), 0);
  sigset_t block;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR2);
  sigset_t old_mask;
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &block, &old_mask), 0);

  std::string status = Out(RunOk(Spec({"/bin/grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"})));

  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  sigaction(SIGUSR1, &old_action, nullptr);
  unsigned long long blocked = 0;
  unsigned long long ignored = 0;
  ASSERT_EQ(std::sscanf(status.c_str(), "SigBlk:\t%llx\nSigIgn:\t%llx", &blocked, &ignored), 2)
      << status;
  EXPECT_EQ(blocked, 0u);
  // glibc's posix_spawn leaves its two reserved signals (32 and 33, below
  // SIGRTMIN) ignored; no program can use them through glibc.
  EXPECT_EQ(ignored & ~0x180000000ull, 0u) << status;
}

TEST(ProcessRunnerTest, TimeoutStopsTheWholeProcessTree) {
  ProcessSpec spec = Spec(ShellCommand("sleep 30 & echo $!; wait"));
  spec.timeout = Duration{300};
  auto start = steady_clock::now();
  ProcessResult r = RunOk(spec);
  EXPECT_LT(steady_clock::now() - start, milliseconds(1500));
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.ending, ProcessResult::Ending::kSignaled);
  EXPECT_EQ(r.signal, SIGTERM);
  const int grandchild = std::stoi(Out(r));
  EXPECT_TRUE(Eventually([&] { return !IsRunning(grandchild); })) << "sleep survived";
  EXPECT_FALSE(IsRunning(r.pid));
}

TEST(ProcessRunnerTest, TimeoutEscalatesToSigkill) {
  ProcessSpec spec = Spec(ShellCommand("trap '' TERM; echo ready; sleep 30; echo too late"));
  spec.timeout = Duration{200};
  spec.kill_grace = Duration{200};
  auto start = steady_clock::now();
  ProcessResult r = RunOk(spec);
  auto elapsed = steady_clock::now() - start;
  EXPECT_GE(elapsed, milliseconds(400));
  EXPECT_LT(elapsed, milliseconds(1500));
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.ending, ProcessResult::Ending::kSignaled);
  EXPECT_EQ(r.signal, SIGKILL);
  EXPECT_EQ(Out(r), "ready\n");
}

TEST(ProcessRunnerTest, DescendantHoldingThePipesDoesNotHoldTheRun) {
  ProcessSpec spec = Spec(ShellCommand("sleep 30 & echo $!"));
  auto start = steady_clock::now();
  ProcessResult r = RunOk(spec);
  EXPECT_LT(steady_clock::now() - start, milliseconds(1000));
  EXPECT_EQ(r.exit_code, 0);
  const int grandchild = std::stoi(Out(r));
  kill(grandchild, SIGKILL);
}

TEST(ProcessRunnerTest, SurvivesInterruptingSignals) {
  struct sigaction on_alarm {};
  on_alarm.sa_handler = [](int) {};  // no SA_RESTART: system calls fail with EINTR
  struct sigaction old_action {};
  ASSERT_EQ(sigaction(SIGALRM, &on_alarm, &old_action), 0);
  itimerval every_ms{{0, 1000}, {0, 1000}};
  ASSERT_EQ(setitimer(ITIMER_REAL, &every_ms, nullptr), 0);

  ProcessSpec spec = Spec(ShellCommand("sleep 0.2; cat; echo done"));
  spec.stdin_data = std::string(size_t{1} << 20, 'x');
  ProcessResult r = RunOk(spec);

  itimerval off{};
  setitimer(ITIMER_REAL, &off, nullptr);
  sigaction(SIGALRM, &old_action, nullptr);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(Out(r), spec.stdin_data + "done\n");
}

TEST(ProcessRunnerTest, DoesNotLeakCairnsFileDescriptors) {
  TempDir dir;
  const std::string path = dir.path() + "/cairn-private.db";
  int fd = open(path.c_str(), O_CREAT | O_RDWR, 0600);  // no O_CLOEXEC, on purpose
  ASSERT_GE(fd, 0);
  int high = dup2(fd, 100);
  ASSERT_EQ(high, 100);

  ProcessResult r = RunOk(Spec(ShellCommand("ls /proc/$$/fd")));
  close(fd);
  close(high);
  EXPECT_EQ(Out(r), "0\n1\n2\n");
}

TEST(ProcessRunnerTest, RunsFromSeveralThreadsAtOnce) {
  PosixProcessRunner runner;
  std::vector<std::thread> threads;
  std::vector<std::string> outputs(8);
  for (size_t i = 0; i < outputs.size(); ++i) {
    threads.emplace_back([&, i] {
      ProcessSpec spec = Spec(ShellCommand("cat; echo \" $N\""));
      spec.env["N"] = std::to_string(i);
      spec.stdin_data = std::string(100'000, static_cast<char>('a' + i));
      auto r = runner.Run(spec);
      if (r.ok()) outputs[i] = Out(*r);
    });
  }
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < outputs.size(); ++i) {
    EXPECT_EQ(outputs[i],
              std::string(100'000, static_cast<char>('a' + i)) + " " + std::to_string(i) + "\n");
  }
}

TEST(ProcessRunnerTest, DetachReturnsAtOnceInANewSession) {
  ProcessSpec spec = Spec({"sleep", "30"});
  spec.detach = true;
  spec.timeout = Duration{10};  // ignored when detached
  auto start = steady_clock::now();
  ProcessResult r = RunOk(spec);
  EXPECT_LT(steady_clock::now() - start, milliseconds(500));
  EXPECT_EQ(r.ending, ProcessResult::Ending::kDetached);
  ASSERT_GT(r.pid, 0);
  EXPECT_EQ(getsid(r.pid), r.pid);
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_TRUE(IsRunning(r.pid));

  kill(r.pid, SIGKILL);
  EXPECT_TRUE(Eventually([&] { return !Exists(r.pid); })) << "left as a zombie";
}

TEST(ProcessRunnerTest, DetachedProcessThatEndsIsReaped) {
  TempDir dir;
  ProcessSpec spec = Spec(ShellCommand("echo \"$GREETING\" > out.txt"));
  spec.detach = true;
  spec.cwd = dir.path();
  spec.env["GREETING"] = "called back";
  ProcessResult r = RunOk(spec);
  EXPECT_TRUE(Eventually([&] { return !Exists(r.pid); })) << "left as a zombie";
  std::stringstream written;
  written << std::ifstream(dir.path() + "/out.txt").rdbuf();
  EXPECT_EQ(written.str(), "called back\n");
}

TEST(ProcessRunnerTest, DetachedMissingProgramIsAnError) {
  PosixProcessRunner runner;
  ProcessSpec spec = Spec({"cairn-no-such-program"});
  spec.detach = true;
  auto r = runner.Run(spec);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "No such file or directory: 'cairn-no-such-program'");
}

}  // namespace
}  // namespace cairn::actions
