#include "validate/validate.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

#include "validate/context_paths.h"
#include "validate/flow_analysis.h"
#include "validate/scalar_location.h"
#include "validate/workflow_schema.h"

namespace cairn {
namespace {

ValidationResult Validate(std::string_view yaml) { return ValidateText(yaml, "w.yaml"); }

std::string Dump(const Diagnostics& ds) {
  std::string out;
  for (const auto& d : ds) {
    out += d.location.ToString() + " " + d.code + ": " + d.message + " [" + d.hint + "]\n";
  }
  return out;
}

// The only diagnostic with `code`; fails when there is not exactly one.
const Diagnostic* Only(const ValidationResult& r, const std::string& code) {
  const Diagnostic* found = nullptr;
  int n = 0;
  for (const auto& d : r.diagnostics) {
    if (d.code == code) {
      found = &d;
      ++n;
    }
  }
  EXPECT_EQ(n, 1) << "expected one " << code << ", got:\n" << Dump(r.diagnostics);
  return n == 1 ? found : nullptr;
}

TEST(WorkflowSchemaTest, EmbeddedTextIsTheSchemaFile) {
  std::ifstream in(std::string(CAIRN_SOURCE_DIR) + "/schema/workflow.schema.json",
                   std::ios::binary);
  std::ostringstream file;
  file << in.rdbuf();
  EXPECT_EQ(WorkflowSchemaText(), file.str());
  EXPECT_EQ(WorkflowSchema().at("title"), "cairn workflow");
}

TEST(WorkflowSchemaTest, StepKeysAreTheSchemasStepProperties) {
  const nlohmann::json& properties = WorkflowSchema().at("definitions").at("step").at("properties");
  ASSERT_GT(properties.size(), 10u);
  for (const auto& [key, _] : properties.items()) EXPECT_TRUE(IsStepKey(key)) << key;
  for (const char* other : {"", "nam", "names", "ecs", "ecs.", "definitions", "step"}) {
    EXPECT_EQ(IsStepKey(other), properties.contains(other)) << other;
  }
}

TEST(ValidateOptionsTest, SkippingTheSchemaPassKeepsEveryOtherCheck) {
  // An unknown top-level key (schema: CRN012) and a next: to nowhere (flow).
  const std::string yaml =
      "cairn: 1\nname: w\nbogus: 1\nsteps:\n  - name: a\n    wait: 1s\n    next: nowhere\n";
  ValidationResult full = ValidateText(yaml, "w.yaml");
  ValidationResult skipped = ValidateText(yaml, "w.yaml", {.skip_schema_check = true});
  auto codes = [](const ValidationResult& r) {
    std::set<std::string> out;
    for (const auto& d : r.diagnostics) out.insert(d.code);
    return out;
  };
  EXPECT_TRUE(codes(full).count("CRN012")) << ::testing::PrintToString(codes(full));
  EXPECT_FALSE(codes(skipped).count("CRN012"));
  std::set<std::string> rest = codes(full);
  rest.erase("CRN012");
  EXPECT_FALSE(rest.empty());
  EXPECT_EQ(codes(skipped), rest);
}

TEST(WorkflowSchemaTest, UsesOnlyKeywordsTheExplainerUnderstands) {
  // schema_check.cc explains failures for these keywords; a new keyword in
  // the schema needs an explanation there first.
  const std::set<std::string> known = {"$schema",
                                       "$id",
                                       "$ref",
                                       "title",
                                       "description",
                                       "type",
                                       "const",
                                       "enum",
                                       "anyOf",
                                       "properties",
                                       "additionalProperties",
                                       "required",
                                       "propertyNames",
                                       "items",
                                       "minItems",
                                       "maxItems",
                                       "minProperties",
                                       "maxProperties",
                                       "minimum",
                                       "maximum",
                                       "minLength",
                                       "maxLength",
                                       "pattern",
                                       "definitions",
                                       "default"};
  std::vector<std::pair<const nlohmann::json*, bool>> stack{{&WorkflowSchema(), true}};
  while (!stack.empty()) {
    auto [node, is_schema] = stack.back();
    stack.pop_back();
    if (!node->is_object()) continue;
    for (const auto& [key, child] : node->items()) {
      if (!is_schema) {
        stack.emplace_back(&child, true);  // a map of names to schemas
        continue;
      }
      EXPECT_TRUE(known.count(key)) << "schema keyword " << key << " is not explained";
      if (key == "properties" || key == "definitions") {
        stack.emplace_back(&child, false);
      } else if (key == "anyOf") {
        for (const auto& alt : child) stack.emplace_back(&alt, true);
      } else if (key == "items" || key == "additionalProperties" || key == "propertyNames") {
        stack.emplace_back(&child, true);
      }
    }
  }
}

TEST(ValidateTest, MinimalWorkflowIsValid) {
  auto r = Validate("cairn: 1\nname: w\nsteps:\n  - name: a\n    wait: 5s\n");
  EXPECT_TRUE(r.diagnostics.empty()) << Dump(r.diagnostics);
  EXPECT_TRUE(r.ok());
  ASSERT_NE(r.expressions.set, nullptr);
  EXPECT_TRUE(r.expressions.templates.empty());
}

TEST(ValidateTest, UnreadableFileIsCrn000) {
  auto r = ValidateFile("/nonexistent/dir/w.yaml");
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_EQ(r.diagnostics[0].code, "CRN000");
  EXPECT_NE(r.diagnostics[0].message.find("No such file"), std::string::npos);
  EXPECT_FALSE(r.ok());
  auto dir = ValidateFile(CAIRN_SOURCE_DIR);
  ASSERT_EQ(dir.diagnostics.size(), 1u);
  EXPECT_EQ(dir.diagnostics[0].code, "CRN000");
}

// ---- did you mean ----

TEST(SchemaCheckTest, UnknownKeysSuggestTheClosestAllowedKey) {
  auto r = Validate(R"(cairn: 1
name: w
steps:
  - name: a
    ecs.runTask: {taskDefinition: td, clustr: c}
    timout: 5s
    retry: {maxAtempts: 3}
)");
  ASSERT_EQ(r.diagnostics.size(), 3u) << Dump(r.diagnostics);
  EXPECT_EQ(r.diagnostics[0].code, "CRN012");
  EXPECT_EQ(r.diagnostics[0].hint, "did you mean `cluster`?");
  EXPECT_EQ(r.diagnostics[0].location.line, 5);
  EXPECT_EQ(r.diagnostics[0].location.column, 39);  // the key, not its value
  EXPECT_EQ(r.diagnostics[1].hint, "did you mean `timeout`?");
  EXPECT_EQ(r.diagnostics[1].message, "unknown key `timout` in step `a`");
  EXPECT_EQ(r.diagnostics[2].hint, "did you mean `maxAttempts`?");
}

TEST(SchemaCheckTest, EveryUnknownKeyOfAnObjectIsReported) {
  // valijson names only the first; the explainer names them all.
  auto r = Validate("cairn: 1\nname: w\nfoo: 1\nbar: 2\nsteps:\n  - {name: a, wait: 1s}\n");
  ASSERT_EQ(r.diagnostics.size(), 2u) << Dump(r.diagnostics);
  EXPECT_EQ(r.diagnostics[0].code, "CRN012");
  EXPECT_EQ(r.diagnostics[1].code, "CRN012");
}

TEST(SchemaCheckTest, MisspelledActionIsOneDiagnostic) {
  auto r =
      Validate("cairn: 1\nname: w\nsteps:\n  - name: a\n    ecs.runtask: {taskDefinition: t}\n");
  const Diagnostic* d = Only(r, "CRN012");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->hint, "did you mean `ecs.runTask`?");
  EXPECT_EQ(r.diagnostics.size(), 1u) << Dump(r.diagnostics);  // no "step has no kind" as well
}

TEST(SchemaCheckTest, MisspelledRequiredKeyIsNotAlsoMissing) {
  auto r =
      Validate("cairn: 1\nname: w\nsteps:\n  - name: a\n    wait: {untl: \"${ .input.t }\"}\n");
  ASSERT_EQ(r.diagnostics.size(), 1u) << Dump(r.diagnostics);
  EXPECT_EQ(r.diagnostics[0].code, "CRN012");
  EXPECT_EQ(r.diagnostics[0].hint, "did you mean `until`?");
}

TEST(FlowCheckTest, DanglingNextSuggestsAStepOfTheSameScope) {
  auto r = Validate(R"(cairn: 1
name: w
steps:
  - {name: markDone, set: 1, next: markFaild}
  - {name: markFailed, set: 2}
)");
  const Diagnostic* d = Only(r, "CRN030");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->hint, "did you mean `markFailed`?");
  EXPECT_EQ(d->path, "/steps/0/next");
  EXPECT_EQ(r.diagnostics.size(), 1u) << Dump(r.diagnostics);  // markFailed is not "unreachable"
}

// ---- anyOf collapsing ----

TEST(SchemaCheckTest, AnyOfOfScalarsIsOneMessageListingTheAlternatives) {
  auto r = Validate(R"(cairn: 1
name: w
steps:
  - name: a
    ecs.runTask: {taskDefinition: td, count: abc}
)");
  const Diagnostic* d = Only(r, "CRN010");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->message,
            "`count` must be an integer from 1 to 10 or a ${ expression }, got the string \"abc\"");
  EXPECT_EQ(r.diagnostics.size(), 1u) << Dump(r.diagnostics);
}

TEST(SchemaCheckTest, AnyOfWithEnumSuggestsTheValue) {
  auto r = Validate(R"(cairn: 1
name: w
steps:
  - name: a
    ecs.runTask: {taskDefinition: td, launchType: Fargate, network: {subnets: [s]}}
)");
  const Diagnostic* d = Only(r, "CRN013");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->message,
            "`launchType` must be `FARGATE`, `EC2`, `EXTERNAL` or a ${ expression }, got the "
            "string \"Fargate\"");
  EXPECT_EQ(d->hint, "did you mean `FARGATE`?");
}

TEST(SchemaCheckTest, AnyOfExplainsTheAlternativeWithTheRightShape) {
  // An object can only be the {until} form of `wait`; its problem is inside.
  auto r = Validate("cairn: 1\nname: w\nsteps:\n  - name: a\n    wait: {until: 5}\n");
  const Diagnostic* d = Only(r, "CRN010");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->path, "/steps/0/wait/until");
  EXPECT_EQ(d->message, "`until` must be a ${ expression }, got `5`");
  // A number in range for the integer alternative, out of range: its own words.
  auto count = Validate(
      "cairn: 1\nname: w\nsteps:\n  - name: a\n    ecs.runTask: {taskDefinition: t, count: 0}\n");
  const Diagnostic* c = Only(count, "CRN014");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->message, "`count` must be at least 1, got `0`");
}

TEST(SchemaCheckTest, QuotedNumbersAndYesNoGetAHint) {
  auto r = Validate(
      "cairn: 1\nname: w\nsteps:\n  - name: a\n    if: yes\n    wait: 1s\n"
      "    retry: {maxAttempts: \"3\"}\n");
  ASSERT_EQ(r.diagnostics.size(), 2u) << Dump(r.diagnostics);
  EXPECT_EQ(r.diagnostics[0].hint, "YAML 1.2 reads yes as a string: write true or false");
  EXPECT_EQ(r.diagnostics[1].hint, "write 3 without quotes: quoted, it is a string");
}

TEST(SchemaCheckTest, LanguageVersionHasItsOwnCode) {
  auto r = Validate("cairn: 2\nname: w\nsteps:\n  - {name: a, wait: 1s}\n");
  const Diagnostic* d = Only(r, "CRN023");
  ASSERT_TRUE(d);
  EXPECT_EQ(r.diagnostics.size(), 1u) << Dump(r.diagnostics);
}

TEST(SchemaCheckTest, HugeStringsDoNotOverflowTheRegexEngine) {
  // std::regex recurses per character; the checks must not hand it 200 KB.
  std::string big(200'000, 'a');
  auto r = Validate("cairn: 1\nname: w\nsteps:\n  - name: a\n    if: \"${ ." + big +
                    " }\"\n    set: 1\n  - name: b\n    if: \"" + big + "\"\n    set: 2\n");
  const Diagnostic* d = Only(r, "CRN010");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->path, "/steps/1/if");
}

// ---- definitely-run dataflow ----

TEST(FlowAnalysisTest, DefinitelyRunFollowsNormalEdgesNotCatchEdges) {
  auto r = Validate(R"(cairn: 1
name: w
steps:
  - name: a
    set: 1
  - name: b
    http.request: {url: "https://x"}
    catch: [{next: handle}]
  - name: c
    set: "${ .steps.a }"
    next: end
  - name: handle
    set: "${ .steps.a }"
  - name: after
    set: "${ .steps.b }"
)");
  ASSERT_EQ(r.diagnostics.size(), 1u) << Dump(r.diagnostics);
  const Diagnostic& d = r.diagnostics[0];
  EXPECT_EQ(d.code, "CRN043");  // `after` is reached only through the catch: b failed
  EXPECT_EQ(d.location.line, 15);
  validate::FlowAnalysis flow(r.definition);
  const auto& handle = flow.facts(flow.Find("handle"));
  EXPECT_TRUE(handle.definitely_run.Has(flow.Find("a")));
  EXPECT_FALSE(handle.definitely_run.Has(flow.Find("b")));
  EXPECT_TRUE(handle.may_have_error);
  EXPECT_FALSE(flow.facts(flow.Find("c")).may_have_error);
}

TEST(FlowAnalysisTest, SwitchPathsSkippedStepsAndNestedScopes) {
  auto r = Validate(R"(cairn: 1
name: w
steps:
  - name: first
    set: 1
  - name: choose
    switch:
      - if: "${ .input.fast }"
        next: finish
      - if: "${ .input.slow }"
        steps:
          - {name: inCase, set: "${ .steps.first }"}
  - name: maybe
    if: "${ .input.x }"
    set: 2
  - name: fan
    parallel:
      branches:
        left:
          - {name: l1, set: "${ .steps.maybe }"}
          - {name: l2, set: "${ .steps.l1 }"}
        right:
          - {name: r1, set: "${ .steps.l1 }"}
  - name: finish
    set: "${ [.steps.first, .steps.maybe] }"
  - name: outside
    set: "${ .steps.l2 }"
output: "${ .steps.fan }"
)");
  std::vector<std::pair<int, std::string>> got;
  for (const auto& d : r.diagnostics) got.emplace_back(d.location.line, d.code);
  // r1 reads a sibling branch (line 23), finish reads maybe which the `fast`
  // case skips (line 25), outside reads inside a branch (line 27); output reads
  // fan, which the `fast` case skips too (line 28).
  std::vector<std::pair<int, std::string>> want = {
      {23, "CRN043"}, {25, "CRN043"}, {27, "CRN043"}, {28, "CRN043"}};
  EXPECT_EQ(got, want) << Dump(r.diagnostics);
  for (const auto& d : r.diagnostics) {
    if (d.location.line == 23) {
      EXPECT_NE(d.message.find("inside a branch of step `fan`"), std::string::npos) << d.message;
    }
  }
}

TEST(FlowAnalysisTest, LoopsAreAnalyzedToAFixpoint) {
  auto r = Validate(R"(cairn: 1
name: w
steps:
  - name: check
    http.request: {url: "https://x/status"}
  - name: decide
    switch:
      - if: "${ .steps.check.body.done }"
        next: finish
  - name: pause
    wait: 10s
    next: check
  - name: finish
    set: "${ [.steps.check, .steps.decide, .steps.pause] }"
    next: end
  - name: bad
    set: 1
)");
  ASSERT_EQ(r.diagnostics.size(), 2u) << Dump(r.diagnostics);
  // The first time through, `decide` goes to finish before `pause` ever ran.
  EXPECT_EQ(r.diagnostics[0].code, "CRN043");
  EXPECT_EQ(r.diagnostics[0].location.line, 14);
  EXPECT_EQ(r.diagnostics[1].code, "CRN032");  // nothing leads to `bad`
  EXPECT_EQ(r.diagnostics[1].location.line, 16);
}

TEST(FlowAnalysisTest, NestedScopesSeeWhatTheirStepSawButNotTheStepItself) {
  auto r = Validate(R"(cairn: 1
name: w
steps:
  - name: before
    set: 1
  - name: each
    map:
      items: [1, 2]
      steps:
        - name: inner
          set: "${ [.steps.before, .item, .index] }"
        - name: again
          set: "${ [.steps.inner, .steps.each] }"
)");
  const Diagnostic* d = Only(r, "CRN043");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->location.line, 13);
  EXPECT_EQ(d->message,
            "step `each` encloses this step: its result is set only when all of it finishes");
}

// ---- location of expression errors ----

TEST(ExpressionCheckTest, ErrorsPointInsideTheString) {
  auto r = Validate(R"(cairn: 1
name: w
steps:
  - name: a
    set:
      plain: ${ .input | foo(1) }
      quoted: "x ${ .input.a } and ${ .input[ }"
      block: |
        line one ${ .input.a }
        line two ${ .input | foo }
)");
  std::vector<std::tuple<int, int, std::string>> got;
  for (const auto& d : r.diagnostics) got.emplace_back(d.location.line, d.location.column, d.code);
  // foo/1 is not defined: jq reports it at the call, inside the string; an
  // unbalanced `[` is malformed: at the `}` that does not close it; foo/0 on
  // the block scalar's second line.
  std::vector<std::tuple<int, int, std::string>> want = {
      {6, 26, "CRN040"}, {7, 47, "CRN042"}, {10, 30, "CRN040"}};
  EXPECT_EQ(got, want) << Dump(r.diagnostics);
}

TEST(ExpressionCheckTest, SandboxAndReferencePositions) {
  auto r = Validate(
      "cairn: 1\nname: w\nsteps:\n  - name: a\n    set: \"${ env.HOME }\"\n"
      "  - name: b\n    set: ${ .steps.nope }\n");
  ASSERT_EQ(r.diagnostics.size(), 2u) << Dump(r.diagnostics);
  EXPECT_EQ(r.diagnostics[0].code, "CRN041");
  EXPECT_EQ(r.diagnostics[0].location.column, 14);  // `env` inside "${ env.HOME }"
  EXPECT_EQ(r.diagnostics[1].code, "CRN044");
  EXPECT_EQ(r.diagnostics[1].location.column, 20);  // `nope` in ${ .steps.nope }
}

TEST(ExpressionCheckTest, AllExpressionsCompileOnceIntoTheTable) {
  auto r = Validate(R"(cairn: 1
name: w
params:
  table: {env: TABLE}
steps:
  - name: a
    dynamodb.getItem: {table: "${ .params.table }", key: {id: "${ .input.id }"}}
    result: ${ .item }
  - name: b
    set: "${ .steps.a.id } and $${ not an expression }"
    log: "plain text"
output: ${ .steps.b }
)");
  EXPECT_TRUE(r.diagnostics.empty()) << Dump(r.diagnostics);
  ASSERT_NE(r.expressions.set, nullptr);
  // All five are native (expr/native_expression.h): jq is never compiled.
  EXPECT_EQ(r.expressions.set->jq_compile_count(), 0);
  EXPECT_EQ(r.expressions.set->size(), 5);
  for (const char* p : {"/steps/0/dynamodb.getItem/table", "/steps/0/dynamodb.getItem/key/id",
                        "/steps/0/result", "/steps/1/set", "/output"}) {
    EXPECT_NE(r.expressions.Find(p), nullptr) << p;
  }
  EXPECT_EQ(r.expressions.Find("/steps/1/log"), nullptr);
  EXPECT_EQ(r.expressions.Find("/steps/0/name"), nullptr);
  auto value = r.expressions.set->Render(*r.expressions.Find("/steps/1/set"),
                                         {{"steps", {{"a", {{"id", 7}}}}}});
  ASSERT_TRUE(value.ok()) << value.error().ToString();
  EXPECT_EQ(*value, "7 and ${ not an expression }");
}

TEST(ExpressionCheckTest, ResultAndPollUntilReadTheRawResult) {
  auto r = Validate(R"(cairn: 1
name: w
steps:
  - name: p
    poll:
      check: {ecs.describeTasks: {tasks: [t]}}
      until: ${ .tasks[0].lastStatus == "STOPPED" }
    result: ${ .tasks[0] }
)");
  EXPECT_TRUE(r.diagnostics.empty()) << Dump(r.diagnostics);
}

TEST(ScalarLocationTest, PlainQuotedAndBlockScalars) {
  using validate::LocateInScalar;
  const std::string src = "a: x ${ y }\nb: \"q\\\"${ z }\"\nc: |\n  one\n  two ${ w }\nd: >\n  f\n";
  SourceLocation plain{"f", 1, 4};
  EXPECT_EQ(LocateInScalar(src, plain, "x ${ y }", 5).column, 9);
  SourceLocation quoted{"f", 2, 4};
  EXPECT_EQ(LocateInScalar(src, quoted, "q\"${ z }", 5).column, 11);  // the escape is two bytes
  SourceLocation block{"f", 3, 4};
  auto b = LocateInScalar(src, block, "one\ntwo ${ w }\n", 10);
  EXPECT_EQ(b.line, 5);
  EXPECT_EQ(b.column, 9);
  SourceLocation folded{"f", 6, 4};
  EXPECT_EQ(LocateInScalar(src, folded, "f\n", 0).column, 4);  // unchanged
  EXPECT_EQ(LocateInScalar("", plain, "x", 0).column, 4);
  EXPECT_EQ(LocateInScalar(src, plain, "different", 3).column, 4);
}

TEST(ContextPathsTest, KnowsWhenDotIsTheContext) {
  auto certain = [](std::string_view src) {
    std::vector<std::string> out;
    for (const auto& p : validate::FindContextPaths(src)) {
      out.push_back((p.certain ? "+" : "-") + p.root + (p.key ? "." + *p.key : ""));
    }
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(certain(".steps.a.b"), V{"+steps.a"});
  EXPECT_EQ(certain(".steps.a.tasks | map(.taskArn)"), (V{"+steps.a", "-taskArn"}));
  EXPECT_EQ(certain("[.steps.a, (.params.b)] | .[0]"), (V{"+steps.a", "+params.b"}));
  EXPECT_EQ(certain(".input.xs as $x | .steps.b"), (V{"+input.xs", "+steps.b"}));
  EXPECT_EQ(certain("select(.item) | .error"), (V{"+item", "-error"}));
  EXPECT_EQ(certain("\"\\(.steps.a)\" + .steps[\"b\"]?.x"), (V{"+steps.a", "+steps.b"}));
  EXPECT_EQ(certain("reduce .items[] as $i (0; . + .n)"), (V{"+items", "-n"}));
  EXPECT_EQ(certain("def f: .x; f + .y"), (V{"-x", "+y"}));
  EXPECT_EQ(certain("try .a catch .b"), (V{"+a", "-b"}));
  EXPECT_EQ(certain(".a.steps.x"), V{"+a.steps"});
}

// ---- everything in one run ----

TEST(ValidateTest, ReportsEveryProblemSortedWithoutDuplicates) {
  auto r = Validate(R"(cairn: 1
name: w
steps:
  - name: a
    wait: 500ms
    next: nowhere
  - name: a
    set: ${ .steps.zzz }
  - name: c-d
    set: 1
)");
  std::vector<std::string> codes;
  for (const auto& d : r.diagnostics) codes.push_back(d.code);
  EXPECT_EQ(codes, (std::vector<std::string>{"CRN052", "CRN030", "CRN021", "CRN044", "CRN022"}))
      << Dump(r.diagnostics);
  for (size_t i = 1; i < r.diagnostics.size(); ++i) {
    EXPECT_LE(r.diagnostics[i - 1].location.line, r.diagnostics[i].location.line);
  }
}

TEST(InputCheckTest, SelfReferenceIsRejectedWithoutCrashing) {
  auto r = Validate("cairn: 1\nname: w\ninput: {$ref: \"#\"}\nsteps:\n  - {name: a, wait: 1s}\n");
  ASSERT_TRUE(Only(r, "CRN070"));
  auto r2 = Validate(
      "cairn: 1\nname: w\ninput: {allOf: [{$ref: \"#\"}]}\nsteps:\n  - {name: a, wait: 1s}\n");
  ASSERT_TRUE(Only(r2, "CRN070"));
  auto ok = Validate(
      "cairn: 1\nname: w\ninput: {type: object, properties: {child: {$ref: \"#\"}}}\n"
      "steps:\n  - {name: a, wait: 1s}\n");
  EXPECT_TRUE(ok.diagnostics.empty()) << Dump(ok.diagnostics);
}

TEST(ValidateTest, DeeplyNestedStepsAndLongKeys) {
  // Nesting up to the document's depth limit, with a mistake at the bottom.
  std::string yaml = "cairn: 1\nname: w\nsteps:\n";
  std::string indent = "  ";
  for (int i = 0; i < 40; ++i) {
    yaml.append(indent).append("- name: g").append(std::to_string(i)).append("\n");
    yaml.append(indent).append("  group:\n");
    indent += "    ";
  }
  yaml += indent + "- name: leaf\n" + indent + "  wait: 500ms\n";
  yaml +=
      "params:\n  ? " + std::string(5000, 'k') + "-\n  : 1\n";  // an explicit key: YAML
                                                                // allows implicit ones only to 1024
  auto r = Validate(yaml);
  std::vector<std::string> codes;
  for (const auto& d : r.diagnostics) codes.push_back(d.code);
  EXPECT_EQ(codes, (std::vector<std::string>{"CRN052", "CRN014", "CRN071"})) << Dump(r.diagnostics);
}

TEST(ValidateTest, InvalidUtf8IsQuotedSafely) {
  auto r = Validate(
      "cairn: \"\xff\"\nname: \"a\xe2"
      "b\"\nsteps:\n  - {name: \"\xc3\", wait: 1s}\n");
  ASSERT_FALSE(r.diagnostics.empty());
  for (const auto& d : r.diagnostics) {
    nlohmann::json j = d.message + d.hint + d.path;
    EXPECT_NO_THROW((void)j.dump()) << d.code;  // valid UTF-8 throughout
  }
  // valijson's UTF-8 length count reads past its table on a run of
  // continuation bytes (found by fuzzing): it must never see one.
  auto run = Validate("cairn: 1\nname: w\nsteps:\n  - name: a\n    process.run: {command: \"" +
                      std::string(12, '\x80') + "\"}\n    timeout: x\n");
  EXPECT_FALSE(run.ok());
}

}  // namespace
}  // namespace cairn
