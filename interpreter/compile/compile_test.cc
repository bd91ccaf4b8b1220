#include "compile/compile.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace cairn {
namespace {

std::shared_ptr<const WorkflowDefinition> Define(std::string_view yaml) {
  Diagnostics ds;
  auto def =
      std::make_shared<WorkflowDefinition>(BuildDefinition(LoadDocument(yaml, "w.yaml", &ds)));
  EXPECT_TRUE(ds.empty()) << ds.front().message;
  return def;
}

std::shared_ptr<const StepGraph> Compile(std::string_view yaml) {
  auto graph = CompileWorkflow(Define(yaml), nullptr);
  EXPECT_TRUE(graph.ok()) << graph.error().ToString();
  return graph.ok() ? *graph : nullptr;
}

Error CompileFailure(std::string_view yaml) {
  auto graph = CompileWorkflow(Define(yaml), nullptr);
  EXPECT_FALSE(graph.ok());
  return graph.ok() ? Error{} : graph.error();
}

const GraphNode& Node(const StepGraph& g, std::string_view name) {
  const GraphNode* n = g.FindNode(name);
  EXPECT_NE(n, nullptr) << name;
  return n != nullptr ? *n : g.node(kStartNode);
}

// "TYPE SubType [children...]" of a node's durable operation.
std::string Mapping(const StepGraph& g, std::string_view name) {
  const DurableOperation& op = Node(g, name).operation;
  std::string s = OperationTypeName(op.type);
  if (!op.sub_type.empty()) s += " " + op.sub_type;
  for (const auto& c : op.children) {
    s += std::string(" [") + OperationTypeName(c.type) + " " + c.sub_type;
    if (!c.key.empty()) s += " " + c.key;
    s += "]";
  }
  if (op.step_retries) s += " retry";
  return s;
}

constexpr std::string_view kEveryKind = R"(
cairn: 1
name: every-kind
steps:
  - name: put
    dynamodb.putItem: {table: t, item: {id: 1}}
  - name: retried
    dynamodb.getItem: {table: t, key: {id: 1}}
    retry: {errors: [all], maxAttempts: 3}
  - name: pause
    wait: 5s
  - name: runTask
    ecs.runTask: {cluster: c, taskDefinition: d, environment: {CALLBACK_ID: "${ .callback.id }"}}
    waitForCallback: {timeout: 1h}
    retry: {maxAttempts: 2}
  - name: approval
    waitForCallback: {timeout: 1h}
  - name: cb
    callback: {timeout: 1h}
  - name: awaitCb
    await: cb
  - name: waitForStop
    poll:
      check: {ecs.describeTasks: {cluster: c, tasks: [x]}}
      until: "${ .tasks[0].lastStatus == \"STOPPED\" }"
      interval: 5s
  - name: compute
    set: {a: 1}
  - name: decide
    switch:
      - if: "${ .a }"
        steps: [{name: inCase, set: 1}]
  - name: fan
    parallel:
      branches:
        left: [{name: l1, set: 1}]
        right: [{name: r1, set: 2}]
  - name: each
    map: {items: [1, 2], steps: [{name: perItem, set: 1}]}
  - name: block
    group: [{name: inGroup, set: 1}]
  - name: chained
    lambda.invoke: {function: f, durable: true}
  - name: plainInvoke
    lambda.invoke: {function: f, durable: false}
  - name: done
    succeed: 1
  - name: broken
    fail: {error: Broken}
)";

TEST(CompileTest, DurableMappingOfEveryKind) {
  auto g = Compile(kEveryKind);
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(Mapping(*g, "put"), "STEP Step");
  EXPECT_EQ(Mapping(*g, "retried"), "STEP Step retry");
  EXPECT_EQ(Mapping(*g, "pause"), "WAIT Wait");
  EXPECT_EQ(Mapping(*g, "runTask"),
            "CONTEXT WaitForCallback [CALLBACK Callback callback] [STEP Step submitter] retry");
  EXPECT_EQ(Mapping(*g, "approval"), "CONTEXT WaitForCallback [CALLBACK Callback callback]");
  EXPECT_EQ(Mapping(*g, "cb"), "CALLBACK Callback");
  EXPECT_EQ(Mapping(*g, "awaitCb"), "NONE");
  EXPECT_EQ(Node(*g, "awaitCb").operation.reads, Node(*g, "cb").id);
  EXPECT_EQ(Mapping(*g, "waitForStop"), "STEP WaitForCondition retry");
  EXPECT_EQ(Mapping(*g, "compute"), "NONE");
  EXPECT_EQ(Mapping(*g, "decide"), "NONE");
  EXPECT_EQ(Mapping(*g, "inCase"), "NONE");
  EXPECT_EQ(Mapping(*g, "fan"),
            "CONTEXT Parallel [CONTEXT ParallelBranch left] [CONTEXT ParallelBranch right]");
  EXPECT_EQ(Mapping(*g, "each"), "CONTEXT Map [CONTEXT MapIteration]");
  EXPECT_EQ(Mapping(*g, "block"), "CONTEXT RunInChildContext");
  EXPECT_EQ(Mapping(*g, "chained"), "CHAINED_INVOKE ChainedInvoke");
  EXPECT_EQ(Mapping(*g, "plainInvoke"), "STEP Step");
  EXPECT_EQ(Mapping(*g, "done"), "NONE");
  EXPECT_EQ(Mapping(*g, "broken"), "NONE");

  // Operation names and child names, as the SDKs write them.
  EXPECT_EQ(Node(*g, "put").operation.name, "put");
  EXPECT_EQ(Node(*g, "compute").operation.name, "");
  const auto& fan = Node(*g, "fan").operation.children;
  EXPECT_EQ(fan[0].name, "left");
  EXPECT_EQ(fan[0].scope, Node(*g, "fan").child_scopes[0]);
  EXPECT_EQ(Node(*g, "runTask").operation.children[0].name, "");
  EXPECT_EQ(Node(*g, "each").operation.children[0].scope, Node(*g, "each").child_scopes[0]);
}

TEST(CompileTest, RetryDefaultsMakeActionsRetry) {
  auto g = Compile(R"(
cairn: 1
name: defaults
retryDefaults: {maxAttempts: 4}
steps:
  - {name: a, http.request: {url: "http://x"}}
  - {name: b, http.request: {url: "http://x"}, waitForCallback: {timeout: 1m}}
  - {name: c, set: 1}
  - {name: d, lambda.invoke: {function: f, durable: true}}
)");
  ASSERT_NE(g, nullptr);
  EXPECT_TRUE(Node(*g, "a").operation.step_retries);
  EXPECT_TRUE(Node(*g, "b").operation.step_retries);
  EXPECT_FALSE(Node(*g, "c").operation.step_retries);
  EXPECT_FALSE(Node(*g, "d").operation.step_retries);  // CHAINED_INVOKE has no RETRY
}

TEST(CompileTest, NodesScopesAndParents) {
  auto g = Compile(kEveryKind);
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->node(kStartNode).role, NodeRole::kStart);
  EXPECT_EQ(g->node(kSucceededNode).role, NodeRole::kSucceeded);
  EXPECT_EQ(g->node(kFailedNode).role, NodeRole::kFailed);
  // Document order, parents before children.
  std::vector<std::string> names;
  for (const auto& n : g->nodes()) names.push_back(n.name);
  EXPECT_EQ(names,
            (std::vector<std::string>{
                "start",    "succeeded",   "failed",  "put",         "retried", "pause",  "runTask",
                "approval", "cb",          "awaitCb", "waitForStop", "compute", "decide", "inCase",
                "fan",      "l1",          "r1",      "each",        "perItem", "block",  "inGroup",
                "chained",  "plainInvoke", "done",    "broken"}));
  const GraphNode& fan = Node(*g, "fan");
  EXPECT_EQ(Node(*g, "l1").parent, fan.id);
  EXPECT_EQ(Node(*g, "put").parent, kNoNode);
  EXPECT_EQ(Node(*g, "inCase").parent, Node(*g, "decide").id);
  EXPECT_EQ(g->Children(fan.id), (std::vector<NodeId>{Node(*g, "l1").id, Node(*g, "r1").id}));
  ASSERT_EQ(fan.child_scopes.size(), 2u);
  const GraphScope& left = g->scope(fan.child_scopes[0]);
  EXPECT_EQ(left.kind, ScopeKind::kBranch);
  EXPECT_EQ(left.name, "left");
  EXPECT_EQ(left.owner, fan.id);
  EXPECT_EQ(left.path, "/steps/10/parallel/branches/left");
  EXPECT_EQ(g->ScopeEntry(left.id), Node(*g, "l1").id);
  EXPECT_EQ(g->scope(Node(*g, "perItem").scope).kind, ScopeKind::kMapBody);
  EXPECT_EQ(g->scope(Node(*g, "inGroup").scope).kind, ScopeKind::kGroupBody);
  const GraphScope& case_body = g->scope(Node(*g, "inCase").scope);
  EXPECT_EQ(case_body.kind, ScopeKind::kCaseBody);
  EXPECT_EQ(case_body.index, 0);
  EXPECT_EQ(g->ScopeEntry(kRootScope), Node(*g, "put").id);
  EXPECT_EQ(g->scope(kRootScope).nodes.size(), 17u);
  EXPECT_EQ(Node(*g, "runTask").step->action.type, "ecs.runTask");
  EXPECT_EQ(Node(*g, "runTask").path(), "/steps/3");
}

TEST(CompileTest, Lookups) {
  auto g = Compile(kEveryKind);
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->FindNode("nope"), nullptr);
  EXPECT_EQ(g->FindNode("start"), nullptr);  // synthetic nodes have no step name
  EXPECT_EQ(g->FindNodeByPointer("/steps/1")->name, "retried");
  EXPECT_EQ(g->FindNodeByPointer("/steps/1/retry/maxAttempts")->name, "retried");
  EXPECT_EQ(g->FindNodeByPointer("/steps/10/parallel/branches/left/0/set")->name, "l1");
  EXPECT_EQ(g->FindNodeByPointer("/steps/10/parallel/branches/left")->name, "fan");
  EXPECT_EQ(g->FindNodeByPointer("/steps/3/ecs.runTask/environment/CALLBACK_ID")->name, "runTask");
  EXPECT_EQ(g->FindNodeByPointer("/steps"), nullptr);
  EXPECT_EQ(g->FindNodeByPointer("/output"), nullptr);
  EXPECT_EQ(g->FindNodeByPointer(""), nullptr);
  EXPECT_EQ(g->FindNodeByPointer("steps"), nullptr);
}

// One edge as "from -kind[index]-> to" with markers for exits and loops.
std::string Describe(const StepGraph& g, const GraphEdge& e) {
  static const char* kKinds[] = {"next", "case", "default", "catch", "enter"};
  std::string s = g.node(e.from).name + " -" + kKinds[static_cast<int>(e.kind)];
  if (e.index >= 0) s += std::to_string(e.index);
  s += "-> " + g.node(e.to).name;
  if (e.exit == ScopeExit::kEnd) s += " (exit)";
  if (e.exit == ScopeExit::kFail) s += " (exit fail)";
  if (e.back_edge) s += " (loop)";
  return s;
}

std::vector<std::string> Edges(const StepGraph& g) {
  std::vector<std::string> out;
  for (const auto& e : g.edges()) out.push_back(Describe(g, e));
  return out;
}

TEST(CompileTest, EdgesCatchSwitchAndLoops) {
  auto g = Compile(R"(
cairn: 1
name: edges
steps:
  - name: init
    set: {n: 0}
  - name: work
    http.request: {url: "http://x"}
    catch:
      - errors: [Cairn.Transient, Cairn.Timeout]
        next: recover
  - name: check
    switch:
      - if: "${ .steps.work.status != 200 }"
        next: work
      - if: "${ .x }"
        fail: {error: Bad}
      - if: "${ .y }"
        steps: [{name: extra, set: 1}]
      - if: "${ .z }"
        succeed: 1
  - name: finish
    set: 1
    next: end
  - name: recover
    set: 1
    next: init
)");
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(Edges(*g), (std::vector<std::string>{
                           "start -next-> init",
                           "init -next-> work",
                           "work -next-> check",
                           "work -catch0-> recover",
                           "check -enter-> extra",
                           "check -case0-> work (loop)",
                           "check -case1-> failed (exit fail)",
                           "check -case2-> finish",
                           "check -case3-> succeeded (exit)",
                           "check -default-> finish",
                           "finish -next-> succeeded (exit)",
                           "recover -next-> init (loop)",
                           "extra -next-> check (exit)",
                       }));
  const GraphNode& check = Node(*g, "check");
  const GraphEdge& enter = g->edge(check.out[0]);
  EXPECT_EQ(enter.scope, check.child_scopes[0]);
  EXPECT_EQ(enter.path, "/steps/2/switch/2/steps");
  EXPECT_EQ(g->edge(check.out[1]).path, "/steps/2/switch/0/next");
  EXPECT_EQ(g->edge(Node(*g, "work").out[1]).path, "/steps/1/catch/0/next");
  // `in` mirrors `out`.
  EXPECT_EQ(Node(*g, "init").in.size(), 2u);
  EXPECT_EQ(check.in.size(), 2u);  // from work, and back from its case body
}

TEST(CompileTest, NestedScopesExitToTheirOwner) {
  auto g = Compile(R"(
cairn: 1
name: nested
steps:
  - name: fan
    parallel:
      branches:
        a:
          - {name: a1, set: 1}
          - {name: a2, set: 1, next: a1}
        b:
          - {name: b1, fail: {error: B}}
    catch: [{next: handle}]
  - name: each
    map:
      items: [1]
      steps:
        - {name: m1, group: [{name: g1, set: 1, next: end}]}
  - {name: handle, set: 1}
)");
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(Edges(*g), (std::vector<std::string>{
                           "start -next-> fan",
                           "fan -enter-> a1",
                           "fan -enter-> b1",
                           "fan -next-> each",
                           "fan -catch0-> handle",
                           "each -enter-> m1",
                           "each -next-> handle",
                           "handle -next-> succeeded (exit)",
                           "a1 -next-> a2",
                           "a2 -next-> a1 (loop)",
                           "b1 -next-> fan (exit fail)",
                           "m1 -enter-> g1",
                           "m1 -next-> each (exit)",
                           "g1 -next-> m1 (exit)",
                       }));
}

TEST(CompileTest, UnreachableStepsStillGetTheirBackEdgesMarked) {
  auto g = Compile(R"(
cairn: 1
name: unreachable
steps:
  - {name: a, set: 1, next: end}
  - {name: x, set: 1}
  - {name: y, set: 1, next: x}
)");
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(Edges(*g), (std::vector<std::string>{
                           "start -next-> a",
                           "a -next-> succeeded (exit)",
                           "x -next-> y",
                           "y -next-> x (loop)",
                       }));
}

TEST(CompileTest, SelfLoopIsABackEdge) {
  auto g = Compile(R"(
cairn: 1
name: self
steps:
  - {name: again, http.request: {url: "http://x"}, catch: [{errors: [Cairn.Transient], next: again}]}
)");
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(Edges(*g), (std::vector<std::string>{
                           "start -next-> again",
                           "again -next-> succeeded (exit)",
                           "again -catch0-> again (loop)",
                       }));
}

TEST(CompileTest, GraphKeepsTheDefinitionAlive) {
  auto def = Define("cairn: 1\nname: alive\nsteps: [{name: only, set: 1}]\n");
  const WorkflowDefinition* raw = def.get();
  auto graph = CompileWorkflow(std::move(def), nullptr);
  ASSERT_TRUE(graph.ok());
  EXPECT_EQ(&(*graph)->definition(), raw);
  EXPECT_EQ(Node(**graph, "only").step, &raw->steps[0]);
  EXPECT_EQ((*graph)->expressions(), nullptr);
}

// Validation compiles the expressions (one jq_compile); compile only shares
// them, and its edges name the conditions by the pointers the table uses.
TEST(CompileTest, SharesTheExpressionsWithoutCompilingAgain) {
  auto def = Define(R"(
cairn: 1
name: shared
steps:
  - name: decide
    switch:
      - if: "${ .x > 1 }"
        next: big
      - if: "${ .x < 0 }"
        steps: [{name: negative, set: 1}]
  - {name: small, set: 1, next: end}
  - {name: big, set: 2}
)");
  auto table = std::make_shared<expr::ExpressionTable>();
  table->set = std::make_shared<expr::ExpressionSet>();
  for (const char* pointer : {"/steps/0/switch/0/if", "/steps/0/switch/1/if"}) {
    auto parsed = expr::ParseTemplate(
        def->document.root().at(nlohmann::json::json_pointer(pointer)).get<std::string>());
    ASSERT_TRUE(parsed.ok());
    table->templates.emplace(pointer, table->set->AddTemplate(*parsed));
  }
  ASSERT_TRUE(table->set->Compile().empty());
  // Both conditions are native (expr/native_expression.h): no jq_compile.
  ASSERT_EQ(table->set->jq_compile_count(), 0);

  auto graph = CompileWorkflow(def, table);
  ASSERT_TRUE(graph.ok()) << graph.error().ToString();
  const StepGraph& g = **graph;
  EXPECT_EQ(g.expressions(), table);
  EXPECT_EQ(table->set->jq_compile_count(), 0);
  const GraphNode& decide = Node(g, "decide");
  const GraphEdge& enter = g.edge(decide.out[0]);
  const GraphEdge& first = g.edge(decide.out[1]);
  ASSERT_EQ(first.kind, GraphEdgeKind::kCase);
  ASSERT_NE(g.expressions()->Find(first.condition), nullptr) << first.condition;
  auto value = g.expressions()->set->Render(*g.expressions()->Find(first.condition), {{"x", 5}});
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(*value, true);
  ASSERT_EQ(enter.kind, GraphEdgeKind::kEnter);
  EXPECT_EQ(enter.condition, "/steps/0/switch/1/if");
  EXPECT_NE(g.expressions()->Find(enter.condition), nullptr);
  EXPECT_EQ(g.edge(decide.out.back()).kind, GraphEdgeKind::kDefault);
  EXPECT_EQ(g.edge(decide.out.back()).condition, "");
}

TEST(CompileTest, ErrorsForInputValidationRejects) {
  struct Case {
    const char* yaml;
    const char* message;
    const char* context;
  };
  const Case cases[] = {
      {"steps: [{name: a, set: 1}, {name: a, set: 2}]", "used twice", "/steps/1"},
      {"steps: [{name: a, set: 1, next: nowhere}]", "'nowhere' names no step", "/steps/0/next"},
      {"steps: [{name: a, set: 1, catch: [{next: zz}]}]", "'zz' names no step",
       "/steps/0/catch/0/next"},
      {"steps: [{name: a, set: 1, wait: 1s}]", "exactly one kind", "/steps/0"},
      {"steps: [{set: 1}]", "no name", "/steps/0"},
      {"steps: [{name: a, set: 1}, {name: w, await: a}]", "not a callback step", "/steps/1/await"},
      {"steps: [{name: w, await: missing}]", "not a callback step", "/steps/0/await"},
      {"steps: []", "empty", "/steps"},
      {"steps: [{name: g, group: []}]", "empty", "/steps/0/group"},
      {"steps: [{name: p, parallel: {branches: {}}}]", "no branches", "/steps/0"},
      {"steps: [{name: i, lambda.invoke: {function: f, durable: \"${ .d }\"}}]", "expression",
       "/steps/0/lambda.invoke/durable"},
      {"steps: [{name: i, lambda.invoke: {function: f, durable: true}, retry: {}}]", "no RETRY",
       "/steps/0/retry"},
      {"steps: [{name: i, lambda.invoke: {function: f, durable: true}, waitForCallback: {}}]",
       "submitter", "/steps/0"},
      {"steps: [{name: p, poll: {check: {lambda.invoke: {function: f, durable: true}}}}]",
       "poll check", "/steps/0/poll/check/lambda.invoke"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.yaml);
    Error e = CompileFailure(std::string("cairn: 1\nname: bad\n") + c.yaml + "\n");
    EXPECT_EQ(e.code, "compile");
    EXPECT_NE(e.message.find(c.message), std::string::npos) << e.message;
    EXPECT_EQ(e.context, c.context);
  }
}

TEST(CompileTest, BranchNamesMustBeOperationNames) {
  std::string long_name(300, 'b');
  Error e = CompileFailure("cairn: 1\nname: bad\nsteps: [{name: p, parallel: {branches: {" +
                           long_name + ": [{name: x, set: 1}]}}}]\n");
  EXPECT_NE(e.message.find("branch name"), std::string::npos) << e.message;
}

}  // namespace
}  // namespace cairn
