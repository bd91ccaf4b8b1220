#include "expr/sandbox.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace cairn::expr {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// "name@offset" for each violation.
std::vector<std::string> Violations(std::string_view source) {
  std::vector<std::string> out;
  for (const SandboxViolation& v : CheckSandbox(source)) {
    out.push_back(v.name + "@" + std::to_string(v.offset));
  }
  return out;
}

TEST(CheckSandboxTest, RejectsForbiddenNames) {
  struct Case {
    std::string source;
    std::vector<std::string> violations;
  };
  const Case cases[] = {
      {"env.HOME", {"env@0"}},
      {"$ENV.PATH", {"ENV@0"}},
      {"$ ENV", {"ENV@0"}},
      {"input", {"input@0"}},
      {"[inputs]", {"inputs@1"}},
      {"_input", {"_input@0"}},
      {"input_line_number", {"input_line_number@0"}},
      {"\"x\" | input_filename", {"input_filename@6"}},
      {"debug", {"debug@0"}},
      {"debug(\"m\")", {"debug@0"}},
      {".a | stderr", {"stderr@5"}},
      {"halt", {"halt@0"}},
      {"halt_error(1)", {"halt_error@0"}},
      {"import \"a\" as a; .", {"import@0"}},
      {"include \"a\"; .", {"include@0"}},
      {"\"a\" | modulemeta", {"modulemeta@6"}},
      {"get_search_list", {"get_search_list@0"}},
      {"get_prog_origin, get_jq_origin", {"get_prog_origin@0", "get_jq_origin@17"}},
      {"$__prog_args", {"__prog_args@0"}},
      {"now | localtime | strflocaltime(\"%H\")", {"now@0", "localtime@6", "strflocaltime@18"}},
      {"$__loc__", {"__loc__@0"}},
      {"\"\\(env.HOME)\"", {"env@3"}},
      {"{a: env}", {"env@4"}},
      {"{a: 1, b: (1, env)}", {"env@14"}},
      {"{$ENV}", {"ENV@1"}},
      {"__cairn_e0", {"__cairn_e0@0"}},
      {"$__cairn_i", {"__cairn_i@0"}},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Violations(c.source), c.violations) << c.source;
  }
}

TEST(CheckSandboxTest, AllowsLookalikes) {
  for (std::string_view source : {
           "\"env\"",
           "\"uses $ENV and now\"",
           ".env",
           ".a.input",
           "{env: 1}",
           "{env}",
           "{a: 1, now}",
           "{import: 1}",
           "# env, now\n.a",
           "environment",
           "now_or_later",
           ".execution.startedAt",
           "$env",
           "gmtime | strftime(\"%Y\")",
           "\"\\(.env)\"",
           "._cairn_x",
       }) {
    EXPECT_THAT(Violations(source), IsEmpty()) << source;
  }
}

TEST(CheckSandboxTest, MessagesSayWhyAndWhatInstead) {
  std::vector<SandboxViolation> v = CheckSandbox("now");
  ASSERT_EQ(v.size(), 1u);
  EXPECT_THAT(v[0].message, HasSubstr("not deterministic"));
  EXPECT_THAT(v[0].message, HasSubstr(".execution.startedAt"));
  v = CheckSandbox("env.X");
  ASSERT_EQ(v.size(), 1u);
  EXPECT_THAT(v[0].message, HasSubstr("environment"));
  EXPECT_THAT(v[0].message, HasSubstr("params"));
}

TEST(CheckSandboxTest, ChecksUpToALexingError) {
  EXPECT_THAT(Violations("env | \"unterminated"), ElementsAre("env@0"));
}

TEST(ForbiddenBuiltinsPreludeTest, DefinesEveryShadow) {
  const std::string& prelude = ForbiddenBuiltinsPrelude();
  for (std::string_view def : {"def env:", "def input:", "def inputs:", "def now:",
                               "def halt_error(_):", "def debug(_):", "def strflocaltime(_):"}) {
    EXPECT_THAT(prelude, HasSubstr(def));
  }
  EXPECT_THAT(prelude, HasSubstr("{} as $ENV |"));
  EXPECT_THAT(CheckSandbox(prelude), testing::Not(IsEmpty()));
}

}  // namespace
}  // namespace cairn::expr
