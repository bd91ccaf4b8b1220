#include "compile/step_graph.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "compile/compile.h"
#include "compile/operation_id.h"

namespace cairn {
namespace {

std::shared_ptr<const StepGraph> Compile(std::string_view yaml) {
  Diagnostics ds;
  auto def =
      std::make_shared<WorkflowDefinition>(BuildDefinition(LoadDocument(yaml, "w.yaml", &ds)));
  EXPECT_TRUE(ds.empty());
  auto graph = CompileWorkflow(std::move(def), nullptr);
  EXPECT_TRUE(graph.ok()) << graph.error().ToString();
  return graph.ok() ? *graph : nullptr;
}

// Step name → first-visit operation id, for every step of the graph.
std::map<std::string, std::string> Ids(const StepGraph& g) {
  std::map<std::string, std::string> ids;
  for (const auto& n : g.nodes()) {
    if (!n.synthetic()) ids[n.name] = FirstVisitOperationId(g, n.id);
  }
  return ids;
}

constexpr std::string_view kBase = R"(
cairn: 1
name: ids
steps:
  - name: createRecord
    dynamodb.putItem: {table: t, item: {id: 1}}
  - name: fan
    parallel:
      branches:
        a: [{name: a1, set: 1}]
        b: [{name: b1, set: 1}]
  - name: each
    map:
      items: [1, 2]
      steps:
        - name: m1
          group: [{name: g1, http.request: {url: "http://x"}}]
  - name: decide
    switch:
      - if: "${ .x }"
        steps: [{name: c1, http.request: {url: "http://y"}}]
  - name: runTask
    ecs.runTask: {cluster: c, taskDefinition: d}
    waitForCallback: {timeout: 1h}
  - name: finish
    succeed: 1
)";

// The same workflow, edited: a step inserted first, createRecord renamed,
// a branch added, steps inserted before m1 and c1, runTask's parameters and
// finish's position changed.
constexpr std::string_view kEdited = R"(
cairn: 1
name: ids
steps:
  - name: newFirst
    wait: 5s
  - name: createRow
    dynamodb.putItem: {table: t, item: {id: 1}}
  - name: fan
    parallel:
      branches:
        a: [{name: a1, set: 1}]
        aa: [{name: aa1, set: 1}]
        b: [{name: b1, set: 1}]
  - name: each
    map:
      items: [1, 2]
      steps:
        - name: m0
          set: 1
        - name: m1
          group: [{name: g0, set: 1}, {name: g1, http.request: {url: "http://x"}}]
  - name: decide
    switch:
      - if: "${ .y }"
        steps: [{name: c0, set: 0}, {name: c1, http.request: {url: "http://y"}}]
  - name: runTask
    ecs.runTask: {cluster: other, taskDefinition: d2}
    waitForCallback: {timeout: 2h}
    next: finish
  - name: extra
    set: 1
  - name: finish
    succeed: 1
)";

TEST(StepGraphTest, IdsSurviveUnrelatedEdits) {
  auto base = Compile(kBase);
  auto edited = Compile(kEdited);
  ASSERT_NE(base, nullptr);
  ASSERT_NE(edited, nullptr);
  auto before = Ids(*base);
  auto after = Ids(*edited);
  size_t compared = 0;
  for (const auto& [name, id] : before) {
    if (name == "createRecord") continue;
    ASSERT_TRUE(after.count(name)) << name;
    EXPECT_EQ(after[name], id) << name;
    ++compared;
  }
  EXPECT_EQ(compared, 10u);
  EXPECT_EQ(after.count("createRecord"), 0u);
  EXPECT_NE(after["createRow"], before["createRecord"]);
  // Child contexts keep their ids too.
  const auto& fan_before = base->FindNode("fan")->operation.children;
  const auto& fan_after = edited->FindNode("fan")->operation.children;
  EXPECT_EQ(ChildOperationId(before["fan"], fan_before[1]),
            ChildOperationId(after["fan"], fan_after[2]));  // branch b
}

TEST(StepGraphTest, FirstVisitIdsFollowTheContextTree) {
  auto g = Compile(kBase);
  ASSERT_NE(g, nullptr);
  auto ids = Ids(*g);
  const std::string fan = OperationId("", "fan", 0);
  EXPECT_EQ(ids["fan"], fan);
  const auto& branch_a = g->FindNode("fan")->operation.children[0];
  EXPECT_EQ(ChildOperationId(fan, branch_a), OperationId(fan, "a", 0));
  EXPECT_EQ(ids["a1"], OperationId(OperationId(fan, "a", 0), "a1", 0));
  const std::string each = OperationId("", "each", 0);
  const std::string item0 = OperationId(each, "0", 0);
  const auto& iteration = g->FindNode("each")->operation.children[0];
  EXPECT_EQ(ChildOperationId(each, iteration, 0), item0);
  EXPECT_EQ(ChildOperationId(each, iteration, 12), OperationId(each, "12", 0));
  EXPECT_EQ(ids["m1"], OperationId(item0, "m1", 0));
  EXPECT_EQ(ids["g1"], OperationId(OperationId(item0, "m1", 0), "g1", 0));
  // A switch has no operation: its case steps sit in the switch's parent.
  EXPECT_EQ(ids["c1"], OperationId("", "c1", 0));
  const std::string run = OperationId("", "runTask", 0);
  const auto& wfc = g->FindNode("runTask")->operation.children;
  EXPECT_EQ(ChildOperationId(run, wfc[0]), OperationId(run, kCallbackChildKey, 0));
  EXPECT_EQ(ChildOperationId(run, wfc[1]), OperationId(run, kSubmitterChildKey, 0));

  std::set<std::string> unique;
  for (const auto& [name, id] : ids) {
    EXPECT_TRUE(IsValidOperationId(id)) << name << " " << id;
    unique.insert(id);
  }
  EXPECT_EQ(unique.size(), ids.size());
}

TEST(StepGraphTest, UnicodeAndLongBranchNamesGiveValidIds) {
  std::string long_name;
  for (int i = 0; i < 60; ++i) long_name += "ß";  // 120 bytes, within Name's 256
  auto g = Compile(
      "cairn: 1\nname: u\nsteps:\n  - name: fan\n    parallel:\n      branches:\n"
      "        \"日本語 ✓\": [{name: x, set: 1}]\n        \"" +
      long_name + "\": [{name: y, set: 1}]\n");
  ASSERT_NE(g, nullptr);
  std::set<std::string> ids;
  for (const auto& child : g->FindNode("fan")->operation.children) {
    std::string id = ChildOperationId(OperationId("", "fan", 0), child);
    EXPECT_TRUE(IsValidOperationId(id)) << id;
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), 2u);
  EXPECT_TRUE(IsValidOperationId(FirstVisitOperationId(*g, g->FindNode("y")->id)));
}

TEST(StepGraphTest, ConcurrentReadersSeeTheSameGraph) {
  auto g = Compile(kBase);
  ASSERT_NE(g, nullptr);
  const auto expected = Ids(*g);
  std::vector<std::thread> threads;
  threads.reserve(4);
  std::vector<int> matches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) matches[t] += Ids(*g) == expected;
    });
  }
  for (auto& t : threads) t.join();
  for (int m : matches) EXPECT_EQ(m, 50);
}

TEST(StepGraphTest, OperationTypeNames) {
  EXPECT_STREQ(OperationTypeName(OperationType::kNone), "NONE");
  EXPECT_STREQ(OperationTypeName(OperationType::kStep), "STEP");
  EXPECT_STREQ(OperationTypeName(OperationType::kWait), "WAIT");
  EXPECT_STREQ(OperationTypeName(OperationType::kCallback), "CALLBACK");
  EXPECT_STREQ(OperationTypeName(OperationType::kContext), "CONTEXT");
  EXPECT_STREQ(OperationTypeName(OperationType::kChainedInvoke), "CHAINED_INVOKE");
}

}  // namespace
}  // namespace cairn
