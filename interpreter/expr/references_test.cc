#include "expr/references.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace cairn::expr {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// "name@offset" for each reference.
std::vector<std::string> Steps(std::string_view source) {
  std::vector<std::string> out;
  for (const StepReference& r : FindStepReferences(source)) {
    out.push_back(r.name + "@" + std::to_string(r.offset));
  }
  return out;
}

TEST(FindStepReferencesTest, Cases) {
  struct Case {
    std::string source;
    std::vector<std::string> refs;
  };
  const Case cases[] = {
      {".steps.create.id", {"create@7"}},
      {".steps[\"create\"].id", {"create@7"}},
      {".steps.\"create\"", {"create@7"}},
      {".[\"steps\"].a", {"a@11"}},
      {".\"steps\"[\"a\"]", {"a@9"}},
      {".steps?.a", {"a@8"}},
      {".steps.\"a\\u0062\"", {"ab@7"}},
      {".steps.a, .steps.b", {"a@7", "b@17"}},
      {"[.steps.a] | length", {"a@8"}},
      {"{x: .steps.a}", {"a@11"}},
      {"1 + .steps.a", {"a@11"}},
      {"-.steps.a", {"a@8"}},
      {"\"id: \\(.steps.a.id)\"", {"a@14"}},
      {"if .steps.a then .steps.b else .steps.c end", {"a@10", "b@24", "c@38"}},
      {"reduce .steps.a[] as $x (0; . + $x)", {"a@14"}},
      {".steps.a | .steps.b", {"a@7", "b@18"}},
      {"try .steps.a catch .steps.b", {"a@11", "b@26"}},
      {"# .steps.hidden\n.steps.shown", {"shown@23"}},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Steps(c.source), c.refs) << c.source;
  }
}

TEST(FindStepReferencesTest, NotReferences) {
  for (std::string_view source : {
           ".foo.steps.x",
           "$v.steps.x",
           "f.steps.x",
           ".a[0].steps.x",
           "(.a).steps.x",
           "\"x\".steps.y",
           ".steps",
           ".steps[]",
           ".steps[$name]",
           ".steps | .x",
           ".steps.\"a\\(1)\"",
           "\".steps.x\"",
           "if . then 1 else 2 end.steps.x",
           ".input.steps.x",
       }) {
    EXPECT_THAT(Steps(source), IsEmpty()) << source;
  }
}

TEST(FindRootFieldsTest, Cases) {
  EXPECT_THAT(FindRootFields(".input.a + .params.b"), ElementsAre("input", "params"));
  EXPECT_THAT(FindRootFields(".item, .index, .item"), ElementsAre("item", "index"));
  EXPECT_THAT(FindRootFields(".[\"error\"].message"), ElementsAre("error"));
  EXPECT_THAT(FindRootFields(".\"attempt\""), ElementsAre("attempt"));
  EXPECT_THAT(FindRootFields("\"\\(.callback.id)\""), ElementsAre("callback"));
  EXPECT_THAT(FindRootFields(".input.item"), ElementsAre("input"));
  EXPECT_THAT(FindRootFields(". | keys"), IsEmpty());
  EXPECT_THAT(FindRootFields(".[0]"), IsEmpty());
  EXPECT_THAT(FindRootFields("$x.item"), IsEmpty());
}

TEST(FindStepReferencesTest, StopsAtLexingError) {
  EXPECT_THAT(Steps(".steps.a | \"open"), ElementsAre("a@7"));
}

}  // namespace
}  // namespace cairn::expr
