#include "actions/process_action.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>

#include "actions/process_runner_fake.h"

namespace cairn::actions {
namespace {

using nlohmann::json;

ActionRequest Request(json params) {
  ActionRequest request;
  request.type = "process.run";
  request.params = std::move(params);
  request.operation_id = "op-1";
  request.workflow_dir = "/workflows";
  return request;
}

ProcessResult Exited(int code, std::string out = "", std::string err = "") {
  ProcessResult r;
  r.pid = 42;
  r.exit_code = code;
  r.stdout_output.head = std::move(out);
  r.stdout_output.total_bytes = r.stdout_output.head.size();
  r.stderr_output.head = std::move(err);
  r.stderr_output.total_bytes = r.stderr_output.head.size();
  return r;
}

// Runs `params` against a runner answering `answer`; returns the outcome
// and what the runner was asked.
struct Ran {
  ActionOutcome outcome;
  std::vector<ProcessSpec> specs;
};
Ran RunWith(const ActionRequest& request, const Result<ProcessResult>& answer = Exited(0)) {
  FakeProcessRunner runner = FakeProcessRunner::Returning(answer);
  ProcessAction action(runner);
  ActionOutcome outcome = action.Run(request);
  return {std::move(outcome), runner.specs()};
}
Ran RunParams(json params, const Result<ProcessResult>& answer = Exited(0)) {
  return RunWith(Request(std::move(params)), answer);
}

void ExpectInvalid(const json& params, const std::string& message_part) {
  Ran ran = RunParams(params);
  ASSERT_FALSE(ran.outcome.ok) << params.dump();
  EXPECT_EQ(ran.outcome.error.name, "Cairn.InvalidParameters");
  EXPECT_NE(ran.outcome.error.message.find(message_part), std::string::npos)
      << ran.outcome.error.message;
  EXPECT_TRUE(ran.specs.empty());
}

TEST(ProcessActionTest, ListCommandIsArgvAndStringCommandIsAShellScript) {
  Ran ran = RunParams({{"command", {"/bin/echo", "a b", 3, true, json::object({{"k", 1}})}}});
  ASSERT_EQ(ran.specs.size(), 1u);
  EXPECT_EQ(ran.specs[0].argv,
            (std::vector<std::string>{"/bin/echo", "a b", "3", "true", R"({"k":1})"}));

  ran = RunParams({{"command", "echo $HOME"}});
  EXPECT_EQ(ran.specs[0].argv, (std::vector<std::string>{"/bin/sh", "-c", "echo $HOME"}));
}

TEST(ProcessActionTest, BuildsTheSpecFromParameters) {
  ActionRequest request = Request({{"command", {"worker"}},
                                   {"env", {{"CALLBACK_ID", "cb-1"}, {"N", 2}, {"ON", false}}},
                                   {"cwd", "jobs"},
                                   {"stdin", {{"items", {1, 2}}}}});
  request.timeout = Duration::Seconds(5);
  Ran ran = RunWith(request);
  ASSERT_EQ(ran.specs.size(), 1u);
  const ProcessSpec& spec = ran.specs[0];
  EXPECT_EQ(spec.env, (std::map<std::string, std::string>{
                          {"CALLBACK_ID", "cb-1"}, {"N", "2"}, {"ON", "false"}}));
  EXPECT_TRUE(spec.inherit_env);
  EXPECT_EQ(spec.cwd, "/workflows/jobs");
  EXPECT_EQ(spec.stdin_data, R"({"items":[1,2]})");
  EXPECT_EQ(spec.timeout, Duration::Seconds(5));
  EXPECT_FALSE(spec.detach);
  EXPECT_EQ(spec.max_output_bytes, size_t{1} << 20);
}

TEST(ProcessActionTest, WorkingDirectoryDefaultsToTheWorkflowFolder) {
  EXPECT_EQ(RunParams({{"command", "true"}}).specs[0].cwd, "/workflows");
  EXPECT_EQ(RunParams({{"command", "true"}, {"cwd", "/tmp"}}).specs[0].cwd, "/tmp");
  EXPECT_EQ(RunParams({{"command", "true"}, {"stdin", "text"}}).specs[0].stdin_data, "text");
}

TEST(ProcessActionTest, SuccessIsExitCodeStdoutAndStderr) {
  Ran ran = RunParams({{"command", "x"}}, Exited(0, "out\n", "warn\n"));
  ASSERT_TRUE(ran.outcome.ok);
  EXPECT_EQ(ran.outcome.result, json({{"exitCode", 0}, {"stdout", "out\n"}, {"stderr", "warn\n"}}));
}

TEST(ProcessActionTest, ParsesJsonOutput) {
  Ran ran = RunParams({{"command", "x"}, {"parseOutput", "json"}}, Exited(0, " {\"words\": 3}\n"));
  ASSERT_TRUE(ran.outcome.ok);
  EXPECT_EQ(ran.outcome.result["stdout"], json({{"words", 3}}));
}

TEST(ProcessActionTest, InvalidJsonOutputIsAWorkflowErrorWithASnippet) {
  Ran ran = RunParams({{"command", "x"}, {"parseOutput", "json"}},
                      Exited(0, "not json" + std::string(1000, '!')));
  ASSERT_FALSE(ran.outcome.ok);
  EXPECT_EQ(ran.outcome.error.name, "Process.InvalidOutput");
  EXPECT_EQ(ran.outcome.error.message.rfind("stdout is not valid JSON: not json!!!", 0), 0u);
  EXPECT_LT(ran.outcome.error.message.size(), 300u);

  ran = RunParams({{"command", "x"}, {"parseOutput", "json"}}, Exited(0, "\n"));
  EXPECT_EQ(ran.outcome.error.name, "Process.InvalidOutput");
  EXPECT_EQ(ran.outcome.error.message, "stdout is empty, not JSON");
}

TEST(ProcessActionTest, DeeplyNestedJsonOutputIsRefused) {
  Ran ran = RunParams({{"command", "x"}, {"parseOutput", "json"}},
                      Exited(0, std::string(100'000, '[') + std::string(100'000, ']')));
  ASSERT_FALSE(ran.outcome.ok);
  EXPECT_EQ(ran.outcome.error.name, "Process.InvalidOutput");
  EXPECT_EQ(ran.outcome.error.message, "stdout nests deeper than 512 levels");

  ran = RunParams({{"command", "x"}, {"parseOutput", "json"}},
                  Exited(0, std::string(500, '[') + R"("[[[{\"]]")" + std::string(500, ']')));
  EXPECT_TRUE(ran.outcome.ok) << ran.outcome.error.message;
}

TEST(ProcessActionTest, TruncatedJsonOutputIsNotParsed) {
  ProcessResult r = Exited(0, "[1,");
  r.stdout_output.tail = "2]";
  r.stdout_output.total_bytes = 10'000'000;
  Ran ran = RunParams({{"command", "x"}, {"parseOutput", "json"}}, r);
  ASSERT_FALSE(ran.outcome.ok);
  EXPECT_EQ(ran.outcome.error.name, "Process.InvalidOutput");
  EXPECT_NE(ran.outcome.error.message.find("longer than the output limit"), std::string::npos);
}

TEST(ProcessActionTest, TruncatedTextHasAMarkerBetweenHeadAndTail) {
  ProcessResult r = Exited(0, "head");
  r.stdout_output.tail = "tail";
  r.stdout_output.total_bytes = 100;
  Ran ran = RunParams({{"command", "x"}}, r);
  ASSERT_TRUE(ran.outcome.ok);
  EXPECT_EQ(ran.outcome.result["stdout"],
            "head\n[cairn: stdout truncated: 92 of 100 bytes omitted]\ntail");
}

TEST(ProcessActionTest, OutputIsMadeValidUtf8) {
  Ran ran = RunParams({{"command", "x"}}, Exited(0, "ok \xC3\xA9 \xFF\xC3 end", "\xED\xA0\x80"));
  ASSERT_TRUE(ran.outcome.ok);
  EXPECT_EQ(ran.outcome.result["stdout"], "ok \xC3\xA9 \xEF\xBF\xBD\xEF\xBF\xBD end");
  EXPECT_EQ(ran.outcome.result["stderr"], "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_NO_THROW(ran.outcome.result.dump());
}

TEST(ProcessActionTest, NonZeroExitIsProcessExitCodeWithTheLastLineOfStderr) {
  Ran ran = RunParams({{"command", "x"}}, Exited(2, "partial", "starting\nerror: disk full\n\n"));
  ASSERT_FALSE(ran.outcome.ok);
  EXPECT_EQ(ran.outcome.error.name, "Process.ExitCode");
  EXPECT_EQ(ran.outcome.error.message, "exited with status 2: error: disk full");
  EXPECT_EQ(ran.outcome.error.data["exitCode"], 2);
  EXPECT_EQ(ran.outcome.error.data["stdout"], "partial");
  EXPECT_EQ(ran.outcome.error.data["stderr"], "starting\nerror: disk full\n\n");

  ran = RunParams({{"command", "x"}}, Exited(1));
  EXPECT_EQ(ran.outcome.error.message, "exited with status 1");
}

TEST(ProcessActionTest, ErrorDataKeepsOnlyTheTails) {
  Ran ran =
      RunParams({{"command", "x"}}, Exited(1, std::string(10'000, 'o'), std::string(10'000, 'e')));
  ASSERT_FALSE(ran.outcome.ok);
  const std::string err = ran.outcome.error.data["stderr"];
  EXPECT_LE(err.size(), 4100u);
  EXPECT_EQ(err.rfind("…", 0), 0u);
  EXPECT_LE(ran.outcome.error.data["stdout"].get<std::string>().size(), 4100u);
}

TEST(ProcessActionTest, KilledBySignalIsProcessSignal) {
  ProcessResult r = Exited(0);
  r.ending = ProcessResult::Ending::kSignaled;
  r.signal = SIGKILL;
  Ran ran = RunParams({{"command", "x"}}, r);
  ASSERT_FALSE(ran.outcome.ok);
  EXPECT_EQ(ran.outcome.error.name, "Process.Signal");
  EXPECT_EQ(ran.outcome.error.message, "killed by SIGKILL (9)");
  EXPECT_EQ(ran.outcome.error.data["signal"], "SIGKILL");
  EXPECT_EQ(ran.outcome.error.data["signalNumber"], 9);
}

TEST(ProcessActionTest, TimeoutIsCairnTimeout) {
  ProcessResult r = Exited(0, "so far");
  r.ending = ProcessResult::Ending::kSignaled;
  r.signal = SIGTERM;
  r.timed_out = true;
  ActionRequest request = Request({{"command", "x"}});
  request.timeout = Duration{1500};
  Ran ran = RunWith(request, r);
  ASSERT_FALSE(ran.outcome.ok);
  EXPECT_EQ(ran.outcome.error.name, "Cairn.Timeout");
  EXPECT_EQ(ran.outcome.error.message, "the process did not finish within 1s500ms and was stopped");
  EXPECT_EQ(ran.outcome.error.data["stdout"], "so far");
}

TEST(ProcessActionTest, SpawnFailureIsProcessSpawnFailed) {
  Ran ran =
      RunParams({{"command", {"foo"}}}, MakeError("spawn", "No such file or directory: 'foo'"));
  ASSERT_FALSE(ran.outcome.ok);
  EXPECT_EQ(ran.outcome.error.name, "Process.SpawnFailed");
  EXPECT_EQ(ran.outcome.error.message, "No such file or directory: 'foo'");
  EXPECT_EQ(ran.outcome.error.data["program"], "foo");
}

TEST(ProcessActionTest, SpecRejectedByTheRunnerIsInvalidParameters) {
  Ran ran =
      RunParams({{"command", "x"}}, MakeError("invalid", "an argument contains a NUL character"));
  EXPECT_EQ(ran.outcome.error.name, "Cairn.InvalidParameters");
}

TEST(ProcessActionTest, DetachReturnsThePid) {
  ProcessResult r;
  r.pid = 4242;
  r.ending = ProcessResult::Ending::kDetached;
  Ran ran =
      RunParams({{"command", "worker"}, {"detach", true}, {"env", {{"CALLBACK_ID", "c"}}}}, r);
  ASSERT_TRUE(ran.outcome.ok);
  EXPECT_EQ(ran.outcome.result, json({{"pid", 4242}}));
  EXPECT_TRUE(ran.specs[0].detach);
}

TEST(ProcessActionTest, WrongParametersAreClearWorkflowErrors) {
  ExpectInvalid(json::array(), "must be an object, got array []");
  ExpectInvalid(json::object(), "`command` is required");
  ExpectInvalid({{"command", 5}},
                "`command` must be a list [program, arg, ...] or a shell command "
                "string, got number 5");
  ExpectInvalid({{"command", "  "}}, "`command` is blank");
  ExpectInvalid({{"command", json::array()}}, "`command` is an empty list");
  ExpectInvalid({{"command", {5, "x"}}}, "the program (`command[0]`) must be a non-empty string");
  ExpectInvalid({{"command", {"ls", nullptr}}}, "`command[1]` is null");
  ExpectInvalid({{"command", "x"}, {"env", {1, 2}}}, "`env` must be an object");
  ExpectInvalid({{"command", "x"}, {"env", {{"A", nullptr}}}}, "`env.A` is null");
  ExpectInvalid({{"command", "x"}, {"env", {{"A=B", "c"}}}}, "invalid variable name 'A=B'");
  ExpectInvalid({{"command", "x"}, {"cwd", 7}}, "`cwd` must be a directory path");
  ExpectInvalid({{"command", "x"}, {"parseOutput", "yaml"}},
                "`parseOutput` must be \"text\" or \"json\", got string \"yaml\"");
  ExpectInvalid({{"command", "x"}, {"detach", "yes"}}, "`detach` must be true or false");
  ExpectInvalid({{"command", "x"}, {"detach", true}, {"stdin", "data"}},
                "`stdin` cannot be given to a detached process");
  ExpectInvalid({{"command", "x"}, {"parseOutptu", "json"}},
                "unknown parameter `parseOutptu`; did you mean `parseOutput`?");
}

// The action over the real runner, end to end.
class ProcessActionWithRealRunnerTest : public ::testing::Test {
 protected:
  ActionOutcome Run(ActionRequest request) {
    request.workflow_dir = std::filesystem::temp_directory_path().string();
    return action_.Run(request);
  }

  PosixProcessRunner runner_;
  ProcessAction action_{runner_};
};

TEST_F(ProcessActionWithRealRunnerTest, RunsAndParsesJson) {
  ActionOutcome outcome = Run(Request({{"command", "printf '{\"words\": %s}' \"$N\""},
                                       {"env", {{"N", 3}}},
                                       {"parseOutput", "json"}}));
  ASSERT_TRUE(outcome.ok) << outcome.error.message;
  EXPECT_EQ(outcome.result, json({{"exitCode", 0}, {"stdout", {{"words", 3}}}, {"stderr", ""}}));
}

TEST_F(ProcessActionWithRealRunnerTest, StdinJsonIsWrittenCompactly) {
  ActionOutcome outcome = Run(Request({{"command", {"cat"}}, {"stdin", {{"a", {1, 2}}}}}));
  ASSERT_TRUE(outcome.ok) << outcome.error.message;
  EXPECT_EQ(outcome.result["stdout"], R"({"a":[1,2]})");
}

TEST_F(ProcessActionWithRealRunnerTest, FailuresMapToWorkflowErrors) {
  ActionOutcome outcome = Run(Request({{"command", "echo working; echo 'bad input' >&2; exit 4"}}));
  EXPECT_EQ(outcome.error.name, "Process.ExitCode");
  EXPECT_EQ(outcome.error.message, "exited with status 4: bad input");

  outcome = Run(Request({{"command", {"cairn-no-such-program"}}}));
  EXPECT_EQ(outcome.error.name, "Process.SpawnFailed");
  EXPECT_EQ(outcome.error.message, "No such file or directory: 'cairn-no-such-program'");

  ActionRequest slow = Request({{"command", {"sleep", "30"}}});
  slow.timeout = Duration{200};
  auto start = std::chrono::steady_clock::now();
  outcome = Run(slow);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  EXPECT_EQ(outcome.error.name, "Cairn.Timeout");
}

TEST_F(ProcessActionWithRealRunnerTest, DetachReturnsAPid) {
  ActionOutcome outcome = Run(Request({{"command", "exit 0"}, {"detach", true}}));
  ASSERT_TRUE(outcome.ok) << outcome.error.message;
  EXPECT_GT(outcome.result["pid"].get<int>(), 0);
}

}  // namespace
}  // namespace cairn::actions
