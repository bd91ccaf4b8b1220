#include "cli/cli_app.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace cairn::cli {
namespace {

const std::string kWorkflow = std::string(CAIRN_SOURCE_DIR) + "/workflows/ecs-poll.yaml";

// Parses `cairn ARGS...` with a fresh CommandLine.
struct Parsed {
  std::optional<int> status;
  Command command = Command::kValidate;
  CommandOptions options;
};

Parsed ParseArgs(std::vector<std::string> args) {
  args.insert(args.begin(), "cairn");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  CommandLine command_line;
  Parsed p;
  p.status = command_line.Parse(static_cast<int>(args.size()), argv.data());
  if (!p.status) {
    p.command = command_line.command();
    p.options = command_line.options();
  }
  return p;
}

TEST(CliCommandLineTest, OfflineCommandsAreValidateAndGraphOnly) {
  EXPECT_TRUE(IsOfflineCommand(Command::kValidate));
  EXPECT_TRUE(IsOfflineCommand(Command::kGraph));
  for (Command c : {Command::kRun, Command::kServe, Command::kCallback, Command::kList, Command::kShow,
                    Command::kHistory, Command::kStop, Command::kLambda}) {
    EXPECT_FALSE(IsOfflineCommand(c));
  }
}

TEST(CliCommandLineTest, ValidateAndGraphWithTheirFormats) {
  Parsed v = ParseArgs({"validate", "--format", "json", "-q", kWorkflow, kWorkflow});
  ASSERT_FALSE(v.status);
  EXPECT_EQ(v.command, Command::kValidate);
  EXPECT_EQ(v.options.validate_files, (std::vector<std::string>{kWorkflow, kWorkflow}));
  EXPECT_EQ(v.options.validate_format, OutputFormat::kJson);
  EXPECT_TRUE(v.options.validate_quiet);

  Parsed g = ParseArgs({"graph", kWorkflow, "--format", "dot"});
  ASSERT_FALSE(g.status);
  EXPECT_EQ(g.command, Command::kGraph);
  EXPECT_EQ(g.options.graph_file, kWorkflow);
  EXPECT_EQ(g.options.graph_format, GraphFormat::kDot);
}

TEST(CliCommandLineTest, ExecutionCommandsAndTheirOptions) {
  Parsed r = ParseArgs({"run", kWorkflow, "--input", "{\"a\":1}", "--name", "n-1", "--store", "/s.db",
                        "--port", "9000"});
  ASSERT_FALSE(r.status);
  EXPECT_EQ(r.command, Command::kRun);
  EXPECT_EQ(r.options.run.file, kWorkflow);
  EXPECT_EQ(r.options.run.input, "{\"a\":1}");
  EXPECT_EQ(r.options.run.name, "n-1");
  EXPECT_EQ(r.options.run.store, "/s.db");
  EXPECT_EQ(r.options.run.port, 9000);

  Parsed f = ParseArgs({"callback", "fail", "ID", "--error", "Rejected", "--message", "no"});
  ASSERT_FALSE(f.status);
  EXPECT_EQ(f.command, Command::kCallback);
  EXPECT_EQ(f.options.callback.action, "fail");
  EXPECT_EQ(f.options.callback.id, "ID");
  EXPECT_EQ(f.options.callback.error_name, "Rejected");
  EXPECT_EQ(f.options.callback.message, "no");

  Parsed h = ParseArgs({"callback", "heartbeat", "ID2"});
  ASSERT_FALSE(h.status);
  EXPECT_EQ(h.options.callback.action, "heartbeat");

  Parsed s = ParseArgs({"show", "--format", "json", "order-7"});
  ASSERT_FALSE(s.status);
  EXPECT_EQ(s.command, Command::kShow);
  EXPECT_EQ(s.options.query.execution, "order-7");
  EXPECT_EQ(s.options.query.format, OutputFormat::kJson);

  Parsed l = ParseArgs({"list", "--status", "RUNNING"});
  ASSERT_FALSE(l.status);
  EXPECT_EQ(l.command, Command::kList);
  EXPECT_EQ(l.options.query.status, "RUNNING");
  EXPECT_EQ(l.options.query.format, OutputFormat::kText);

  Parsed la = ParseArgs({"lambda", "--deadline-margin", "500", "-q"});
  ASSERT_FALSE(la.status);
  EXPECT_EQ(la.command, Command::kLambda);
  EXPECT_EQ(la.options.lambda.deadline_margin_ms, 500);
  EXPECT_TRUE(la.options.lambda.quiet);
  EXPECT_FALSE(la.options.lambda.write_manifest);

  Parsed wm = ParseArgs({"lambda", "--workflows", "w", "--write-manifest"});
  ASSERT_FALSE(wm.status);
  EXPECT_EQ(wm.command, Command::kLambda);
  EXPECT_EQ(wm.options.lambda.workflows_dir, "w");
  EXPECT_TRUE(wm.options.lambda.write_manifest);

  for (const auto& [name, command] : std::vector<std::pair<std::string, Command>>{
           {"serve", Command::kServe}, {"history", Command::kHistory}, {"stop", Command::kStop}}) {
    std::vector<std::string> args = {name};
    if (name != "serve") args.push_back("x");
    Parsed p = ParseArgs(args);
    ASSERT_FALSE(p.status) << name;
    EXPECT_EQ(p.command, command) << name;
  }
}

TEST(CliCommandLineTest, HelpVersionAndUsageErrorsEndTheProcess) {
  EXPECT_EQ(ParseArgs({"--version"}).status, 0);
  EXPECT_EQ(ParseArgs({"run", "--help"}).status, 0);
  EXPECT_EQ(ParseArgs({}).status, 2);                            // no command
  EXPECT_EQ(ParseArgs({"run"}).status, 2);                       // no file
  EXPECT_EQ(ParseArgs({"run", "/nonexistent.yaml"}).status, 2);  // not a file
  EXPECT_EQ(ParseArgs({"list", "--status", "DONE"}).status, 2);
  EXPECT_EQ(ParseArgs({"callback", "fly", "ID"}).status, 2);
  EXPECT_EQ(ParseArgs({"frobnicate"}).status, 2);
  // Only the named command is defined: another command's name after it is
  // an argument it does not take, not a second command.
  EXPECT_EQ(ParseArgs({"lambda", "validate", kWorkflow}).status, 2);
  EXPECT_EQ(ParseArgs({"lambda", "--deadline-margin", "-1"}).status, 2);
}

TEST(CliCommandLineTest, TheTopLevelHelpListsEveryCommand) {
  testing::internal::CaptureStdout();
  EXPECT_EQ(ParseArgs({"--help"}).status, 0);
  const std::string help = testing::internal::GetCapturedStdout();
  for (const char* name : {"validate", "graph", "run", "serve", "callback", "list", "show",
                           "history", "stop", "lambda"}) {
    EXPECT_NE(help.find(std::string("\n  ") + name + " "), std::string::npos) << name << "\n" << help;
  }
}

}  // namespace
}  // namespace cairn::cli
