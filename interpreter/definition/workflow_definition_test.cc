#include "definition/workflow_definition.h"

#include <gtest/gtest.h>

namespace cairn {
namespace {

WorkflowDefinition Build(std::string_view text) {
  Diagnostics ds;
  auto doc = LoadDocument(text, "w.yaml", &ds);
  EXPECT_TRUE(ds.empty());
  return BuildDefinition(std::move(doc));
}

TEST(WorkflowDefinitionTest, ReadsTopLevelAndParams) {
  auto def = Build(R"(
cairn: 1
name: demo
timeout: 2h
params:
  table: {env: TABLE}
  subnets: {env: SUBNETS, split: ",", default: []}
  region: eu-west-1
steps:
  - name: a
    wait: 5s
output: ${ .steps }
)");
  EXPECT_EQ(def.version, 1);
  EXPECT_EQ(def.name, "demo");
  ASSERT_TRUE(def.timeout.value);
  EXPECT_EQ(def.timeout.value->seconds(), 7200);
  ASSERT_EQ(def.params.size(), 3u);
  EXPECT_EQ(def.params[0].name, "table");  // in the order written
  EXPECT_EQ(def.params[0].env, "TABLE");
  EXPECT_FALSE(def.params[0].has_default);
  EXPECT_EQ(def.params[1].split, ",");
  EXPECT_EQ(def.params[2].name, "region");
  EXPECT_TRUE(def.params[2].has_default);
  EXPECT_TRUE(def.has_output);
}

TEST(WorkflowDefinitionTest, StepKindsAndModifiers) {
  auto def = Build(R"(
cairn: 1
name: demo
steps:
  - name: run
    ecs.runTask: {taskDefinition: td}
    waitForCallback: {timeout: 1h, heartbeat: 5m}
    retry: {errors: [ECS.*], maxAttempts: 5, interval: 2s, jitter: full}
    catch:
      - errors: [Callback.Timeout]
        next: failed
  - name: hold
    waitForCallback: {timeout: 10m}
  - name: failed
    fail: {error: TaskFailed, cause: "${ .error.message }"}
)");
  ASSERT_EQ(def.steps.size(), 3u);
  const Step& run = def.steps[0];
  EXPECT_EQ(run.kind, StepKind::kAction);
  EXPECT_EQ(run.action.type, "ecs.runTask");
  EXPECT_EQ(run.action.path, "/steps/0/ecs.runTask");
  ASSERT_TRUE(run.wait_for_callback);
  EXPECT_EQ(run.wait_for_callback->heartbeat.value->seconds(), 300);
  ASSERT_TRUE(run.retry);
  EXPECT_EQ(run.retry->max_attempts, 5);
  EXPECT_EQ(run.retry->jitter, Jitter::kFull);
  ASSERT_EQ(run.catches.size(), 1u);
  EXPECT_EQ(run.catches[0].next, "failed");
  EXPECT_EQ(def.steps[1].kind, StepKind::kWaitForCallback);
  EXPECT_EQ(def.steps[1].callback.timeout.value->seconds(), 600);
  EXPECT_EQ(def.steps[2].kind, StepKind::kFail);
  EXPECT_EQ(def.steps[2].fail.error, "TaskFailed");
}

TEST(WorkflowDefinitionTest, TwoKindsIsInvalidAndRemembersBoth) {
  auto def = Build("cairn: 1\nname: d\nsteps:\n  - name: a\n    wait: 1s\n    set: {x: 1}\n");
  EXPECT_EQ(def.steps[0].kind, StepKind::kInvalid);
  EXPECT_EQ(def.steps[0].kind_keys.size(), 2u);
}

TEST(WorkflowDefinitionTest, NestedStepsVisitedInDocumentOrder) {
  auto def = Build(R"(
cairn: 1
name: nest
steps:
  - name: fan
    parallel:
      branches:
        right: [{name: r1, wait: 1s}, {name: r2, map: {items: "${ .input }", steps: [{name: m1, set: 1}]}}]
        left: [{name: l1, wait: 1s}]
  - name: choose
    switch:
      - if: ${ true }
        steps: [{name: s1, succeed: null}]
  - name: g
    group: [{name: g1, wait: 1s}]
)");
  std::vector<std::string> seen;
  std::vector<size_t> depth;
  ForEachStep(def.steps, [&](const Step& s, const std::vector<const Step*>& parents) {
    seen.push_back(s.name);
    depth.push_back(parents.size());
  });
  // Branches in the order written (right before left), not sorted.
  EXPECT_EQ(seen, (std::vector<std::string>{"fan", "r1", "r2", "m1", "l1", "choose", "s1", "g", "g1"}));
  EXPECT_EQ(depth, (std::vector<size_t>{0, 1, 1, 2, 1, 0, 1, 0, 1}));
}

TEST(WorkflowDefinitionTest, PollReadsCheckAndBackoff) {
  auto def = Build(R"(
cairn: 1
name: p
steps:
  - name: waitForStop
    poll:
      check: {ecs.describeTasks: {tasks: [t]}}
      until: ${ .tasks[0].lastStatus == "STOPPED" }
      interval: 5s
      backoff: {rate: 1.5, max: 5m}
      timeout: 24h
)");
  const auto& p = def.steps[0].poll;
  EXPECT_EQ(def.steps[0].kind, StepKind::kPoll);
  EXPECT_EQ(p.check.type, "ecs.describeTasks");
  EXPECT_EQ(p.check.path, "/steps/0/poll/check/ecs.describeTasks");
  EXPECT_DOUBLE_EQ(p.backoff_rate, 1.5);
  EXPECT_EQ(p.backoff_max.value->seconds(), 300);
  EXPECT_EQ(p.timeout.value->seconds(), 86400);
}

TEST(WorkflowDefinitionTest, MalformedPartsAreLeftOutNotFatal) {
  auto def = Build("cairn: 1\nname: d\nsteps:\n  - 42\n  - name: b\n    retry: nonsense\n");
  ASSERT_EQ(def.steps.size(), 2u);
  EXPECT_EQ(def.steps[0].kind, StepKind::kInvalid);
  EXPECT_FALSE(def.steps[1].retry);
}

}  // namespace
}  // namespace cairn
