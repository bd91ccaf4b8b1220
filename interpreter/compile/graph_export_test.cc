#include "compile/graph_export.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "compile/compile.h"

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

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

constexpr std::string_view kSmall = R"yaml(
cairn: 1
name: small
steps:
  - name: runTask
    ecs.runTask: {cluster: c, taskDefinition: d}
    waitForCallback: {timeout: 1h}
    retry: {maxAttempts: 2}
    catch:
      - errors: [Callback.Timeout, Callback.Failed]
        next: markFailed
  - name: check
    switch:
      - if: "${ .steps.runTask.code == \"retry\" }"
        next: runTask
      - if: "${ .steps.runTask.extra }"
        steps:
          - name: fan
            parallel:
              branches:
                left: [{name: l1, wait: 5s}]
                right: [{name: r1, set: 1}]
  - name: markDone
    set: {ok: true}
    next: end
  - name: markFailed
    fail: {error: TaskFailed}
)yaml";

TEST(GraphExportTest, MermaidSnapshot) {
  auto g = Compile(kSmall);
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(ToMermaid(*g), R"txt(flowchart TD
  n0(["start"])
  n3["runTask<br/>ecs.runTask · CONTEXT WaitForCallback (retry)"]
  n4{"check<br/>switch · no operation"}
  subgraph s1 ["check · if ${ .steps.runTask.extra }"]
    n5["fan<br/>parallel · CONTEXT Parallel"]
    subgraph s2 ["fan · branch left"]
      n6["l1<br/>wait · WAIT Wait"]
    end
    subgraph s3 ["fan · branch right"]
      n7("r1<br/>set · no operation")
    end
  end
  n8("markDone<br/>set · no operation")
  n9("markFailed<br/>fail · no operation")
  n1(["succeeded"])
  n2(["failed"])
  n0 --> n3
  n3 --> n4
  n3 -.->|"catch: Callback.Timeout, Callback.Failed"| n9
  n4 -->|"if ${ .steps.runTask.extra }"| n5
  n4 ==>|"if ${ .steps.runTask.code == #quot;retry#quot; } (loop)"| n3
  n4 -->|"after if ${ .steps.runTask.extra }"| n8
  n4 -->|"default"| n8
  n8 --> n1
  n9 --> n2
  n5 -->|"branch left"| n6
  n5 -->|"branch right"| n7
  n5 -.->|"end"| n4
  n6 -.->|"end"| n5
  n7 -.->|"end"| n5
)txt");
}

TEST(GraphExportTest, DotSnapshot) {
  auto g = Compile(kSmall);
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(ToDot(*g), R"txt(digraph "small" {
  graph [fontname="Helvetica"];
  node [shape=box, fontname="Helvetica"];
  edge [fontname="Helvetica", fontsize=10];
  n0 [label="start", shape=oval];
  n3 [label="runTask\necs.runTask · CONTEXT WaitForCallback (retry)"];
  n4 [label="check\nswitch · no operation", shape=diamond];
  subgraph cluster_s1 {
    label="check · if ${ .steps.runTask.extra }";
    style=rounded;
    n5 [label="fan\nparallel · CONTEXT Parallel"];
    subgraph cluster_s2 {
      label="fan · branch left";
      style=rounded;
      n6 [label="l1\nwait · WAIT Wait"];
    }
    subgraph cluster_s3 {
      label="fan · branch right";
      style=rounded;
      n7 [label="r1\nset · no operation", style=rounded];
    }
  }
  n8 [label="markDone\nset · no operation", style=rounded];
  n9 [label="markFailed\nfail · no operation", style=rounded];
  n1 [label="succeeded", shape=oval];
  n2 [label="failed", shape=oval];
  n0 -> n3;
  n3 -> n4;
  n3 -> n9 [label="catch: Callback.Timeout, Callback.Failed", style=dashed, color=red];
  n4 -> n5 [label="if ${ .steps.runTask.extra }"];
  n4 -> n3 [label="if ${ .steps.runTask.code == \"retry\" } (loop)", color=blue, constraint=false];
  n4 -> n8 [label="after if ${ .steps.runTask.extra }"];
  n4 -> n8 [label="default"];
  n8 -> n1;
  n9 -> n2;
  n5 -> n6 [label="branch left"];
  n5 -> n7 [label="branch right"];
  n5 -> n4 [label="end", style=dotted, constraint=false];
  n6 -> n5 [label="end", style=dotted, constraint=false];
  n7 -> n5 [label="end", style=dotted, constraint=false];
}
)txt");
}

TEST(GraphExportTest, LabelsOfOtherKinds) {
  auto g = Compile(R"yaml(
cairn: 1
name: kinds
steps:
  - {name: cb, callback: {timeout: 1h}}
  - {name: waitCb, await: cb}
  - name: waitForStop
    poll: {check: {ecs.describeTasks: {cluster: c, tasks: [x]}}, until: "${ true }"}
  - {name: each, map: {items: [1], steps: [{name: m1, set: 1}]}}
  - {name: block, group: [{name: g1, lambda.invoke: {function: f, durable: true}}]}
)yaml");
  ASSERT_NE(g, nullptr);
  std::string m = ToMermaid(*g);
  EXPECT_NE(m.find(R"x(n3["cb<br/>callback · CALLBACK Callback"])x"), std::string::npos) << m;
  EXPECT_NE(m.find(R"x(n4("waitCb<br/>await · reads cb"))x"), std::string::npos) << m;
  EXPECT_NE(m.find(R"x(n5["waitForStop<br/>poll ecs.describeTasks · STEP WaitForCondition"])x"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find(R"x(subgraph s1 ["each · each item"])x"), std::string::npos) << m;
  EXPECT_NE(m.find(R"x(n6 -->|"each item"| n7)x"), std::string::npos) << m;
  EXPECT_NE(m.find(R"x(subgraph s2 ["block · group"])x"), std::string::npos) << m;
  EXPECT_NE(m.find(R"x(n9["g1<br/>lambda.invoke · CHAINED_INVOKE ChainedInvoke"])x"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("  n8 --> n9\n"), std::string::npos) << m;  // group entry: no label
  EXPECT_EQ(m.find("n2("), std::string::npos) << "no edge reaches the failed node";
}

constexpr std::string_view kNasty = R"yaml(
cairn: 1
name: "nasty \"quoted\" \\ name"
steps:
  - name: decide
    switch:
      - if: "${ .a[\"k\"] == \"x|y\" and (.b | length) > 0 }"
        steps:
          - name: fan
            parallel:
              branches:
                "say \"hi\" #1 <b>&amp; `x` | \\n \\ end": [{name: b1, set: 1}]
                "[brackets] {braces} (parens) ${ .x }": [{name: b2, set: 1}]
      - if: "${\n  .x\n  # comment; \"}\"\n}"
        next: decide
      - if: "${ \"ünïcødé ünïcødé ünïcødé ünïcødé ünïcødé\" }"
        fail: {error: X}
      - if: true
        next: end
  - name: after
    set: 1
    catch:
      - errors: ["A\"B", "C#D", "E|F"]
        next: decide
)yaml";

// Every quoted Mermaid label holds only text Mermaid shows as written: no
// raw quote, no markup but our <br/>, every '#' an entity code.
TEST(GraphExportTest, MermaidEscaping) {
  auto g = Compile(kNasty);
  ASSERT_NE(g, nullptr);
  std::string m = ToMermaid(*g);
  const std::regex quoted("\"([^\"]*)\"");
  const std::regex entity("#(quot|[0-9]+);");
  for (const std::string& line : Lines(m)) {
    SCOPED_TRACE(line);
    EXPECT_EQ(std::count(line.begin(), line.end(), '"') % 2, 0);
    for (std::sregex_iterator it(line.begin(), line.end(), quoted), end; it != end; ++it) {
      std::string label = std::regex_replace((*it)[1].str(), std::regex("<br/>"), "");
      EXPECT_EQ(label.find_first_of("<>&`|\n"), std::string::npos) << label;
      std::string without_entities = std::regex_replace(label, entity, "");
      EXPECT_EQ(without_entities.find('#'), std::string::npos) << label;
    }
  }
  EXPECT_NE(
      m.find(
          R"x(subgraph s2 ["fan · branch say #quot;hi#quot; #35;1 #60;b#62;#38;amp; #96;x#96; #124; \n \ end"])x"),
      std::string::npos)
      << m;
  // A condition with newlines is one line; a long one is cut at 40 code
  // points, on a character boundary.
  EXPECT_NE(m.find(R"x(n3 ==>|"if ${ .x #35; comment; #quot;}#quot; } (loop)"| n3)x"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find(R"x(n3 -->|"if ${ #quot;ünïcødé ünïcødé ünïcødé ünïcødé ünïc…"| n2)x"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find(R"x(n7 ==>|"catch: A#quot;B, C#35;D, E#124;F (loop)"| n3)x"), std::string::npos)
      << m;
}

// Unescaped double quotes in a DOT line (outside \" escapes) come in pairs.
bool DotQuotesBalanced(const std::string& line) {
  int quotes = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '\\') {
      ++i;
    } else if (line[i] == '"') {
      ++quotes;
    }
  }
  return quotes % 2 == 0;
}

TEST(GraphExportTest, DotEscaping) {
  auto g = Compile(kNasty);
  ASSERT_NE(g, nullptr);
  std::string d = ToDot(*g);
  for (const std::string& line : Lines(d)) EXPECT_TRUE(DotQuotesBalanced(line)) << line;
  EXPECT_NE(d.find(R"x(digraph "nasty \"quoted\" \\ name" {)x"), std::string::npos) << d;
  EXPECT_NE(d.find(R"x(label="fan · branch say \"hi\" #1 <b>&amp;amp; `x` | \\n \\ end";)x"),
            std::string::npos)
      << d;
  EXPECT_NE(
      d.find(
          R"x(n3 -> n3 [label="if ${ .x # comment; \"}\" } (loop)", color=blue, constraint=false];)x"),
      std::string::npos)
      << d;
}

// Graphviz itself accepts the output (only where it is installed).
TEST(GraphExportTest, DotParsesWithGraphviz) {
  if (std::system("command -v dot > /dev/null 2>&1") != 0) {
    GTEST_SKIP() << "graphviz (dot) is not installed; skipping the real DOT parse";
  }
  int n = 0;
  for (std::string_view yaml : {kSmall, kNasty}) {
    auto g = Compile(yaml);
    ASSERT_NE(g, nullptr);
    std::string path = ::testing::TempDir() + "graph_export_test_" + std::to_string(n++) + ".dot";
    std::ofstream(path) << ToDot(*g);
    std::string command = "dot -Tsvg '" + path + "' -o /dev/null";
    EXPECT_EQ(std::system(command.c_str()), 0) << command;
    std::remove(path.c_str());
  }
}

}  // namespace
}  // namespace cairn
