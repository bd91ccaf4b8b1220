#include "definition/flow.h"

#include <gtest/gtest.h>

namespace cairn {
namespace {

WorkflowDefinition Build(std::string_view text) {
  Diagnostics ds;
  auto def = BuildDefinition(LoadDocument(text, "w.yaml", &ds));
  EXPECT_TRUE(ds.empty());
  return def;
}

TEST(FlowTest, FallThroughNextEndAndCatch) {
  auto def = Build(R"(
cairn: 1
name: f
steps:
  - {name: a, set: 1, catch: [{next: c}]}
  - {name: b, set: 2, next: end}
  - {name: c, set: 3, next: nowhere}
  - {name: d, fail: {error: X}}
)");
  auto flow = BuildScopeFlow(def.steps);
  ASSERT_EQ(flow.out[0].size(), 2u);
  EXPECT_EQ(flow.out[0][0].to, 1);
  EXPECT_EQ(flow.out[0][1].to, 2);
  EXPECT_EQ(flow.out[0][1].kind, EdgeKind::kCatch);
  EXPECT_EQ(flow.out[0][1].path, "/steps/0/catch/0/next");
  EXPECT_EQ(flow.out[1][0].to, kScopeEnd);
  EXPECT_EQ(flow.out[2][0].to, kUnresolved);
  EXPECT_EQ(flow.out[2][0].target, "nowhere");
  EXPECT_EQ(flow.out[3][0].to, kScopeFail);
}

TEST(FlowTest, SwitchCasesAndDefault) {
  auto def = Build(R"(
cairn: 1
name: f
steps:
  - name: s
    switch:
      - {if: "${ .a }", next: z}
      - {if: "${ .b }", fail: {error: B}}
      - {if: "${ .c }", steps: [{name: inner, set: 1}]}
      - {if: "${ .d }", succeed: 1}
  - {name: y, set: 1}
  - {name: z, set: 1}
)");
  auto flow = BuildScopeFlow(def.steps);
  const auto& e = flow.out[0];
  ASSERT_EQ(e.size(), 5u);
  EXPECT_EQ(e[0].to, 2);
  EXPECT_EQ(e[1].to, kScopeFail);
  EXPECT_EQ(e[2].to, 1);  // case steps continue like the switch
  EXPECT_EQ(e[3].to, kScopeEnd);
  EXPECT_EQ(e[4].kind, EdgeKind::kDefault);
  EXPECT_EQ(e[4].to, 1);
  auto scopes = AllScopes(def);
  ASSERT_EQ(scopes.size(), 2u);
  EXPECT_EQ(scopes[1].owner->name, "s");
}

}  // namespace
}  // namespace cairn
