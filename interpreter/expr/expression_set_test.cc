#include "expr/expression_set.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

namespace cairn::expr {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// ---- data-driven evaluation cases (testdata/eval_cases.test) ----

struct EvalCase {
  int line = 0;
  std::string program;
  std::string context;
  std::string expected;  // JSON, or "error: <substring>"
};

std::vector<EvalCase> LoadCases(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << "cannot read " << path;
  std::vector<EvalCase> cases;
  std::vector<std::string> pending;
  int line_no = 0;
  int first_line = 0;
  auto flush = [&] {
    if (pending.empty()) return;
    EXPECT_EQ(pending.size(), 3u) << path << ":" << first_line << ": a case has three lines";
    if (pending.size() == 3) cases.push_back({first_line, pending[0], pending[1], pending[2]});
    pending.clear();
  };
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (line.empty() || line[0] == '#') {
      flush();
      continue;
    }
    if (pending.empty()) first_line = line_no;
    pending.push_back(line);
  }
  flush();
  return cases;
}

// The cases hold for both paths: natively evaluated expressions (see
// native_expression.h) and jq.
TEST(ExpressionSetTest, DataDrivenCases) {
  const std::string path =
      std::string(CAIRN_SOURCE_DIR) + "/interpreter/expr/testdata/eval_cases.test";
  const std::vector<EvalCase> cases = LoadCases(path);
  ASSERT_GT(cases.size(), 50u);
  for (const bool native : {true, false}) {
    SCOPED_TRACE(native ? "native and jq" : "jq only");
    ExpressionSet set(ExpressionSet::Options{.native = native});
    for (const EvalCase& c : cases) set.Add(c.program);
    std::vector<CompileIssue> issues = set.Compile();
    for (const CompileIssue& issue : issues) {
      ADD_FAILURE() << path << ":" << cases[static_cast<size_t>(issue.index)].line << ": "
                    << issue.message;
    }
    EXPECT_EQ(set.jq_compile_count(), 1);
    for (size_t i = 0; i < cases.size(); ++i) {
      const EvalCase& c = cases[i];
      SCOPED_TRACE(path + ":" + std::to_string(c.line) + ": " + c.program);
      Result<json> got = set.Evaluate(static_cast<int>(i), json::parse(c.context));
      if (c.expected.rfind("error: ", 0) == 0) {
        ASSERT_FALSE(got.ok()) << got->dump();
        EXPECT_EQ(got.error().code, "Cairn.Expression");
        EXPECT_THAT(got.error().message, HasSubstr(c.expected.substr(7)));
      } else {
        ASSERT_TRUE(got.ok()) << got.error().ToString();
        const json expected = json::parse(c.expected);
        EXPECT_EQ(*got, expected) << got->dump() << " vs " << expected.dump();
        EXPECT_EQ(got->is_number_float(), expected.is_number_float()) << got->dump();
      }
    }
  }
}

// ---- compiling many expressions at once ----

std::string GoodExpression(int i) {
  switch (i % 4) {
    case 0:
      return ".input.n + " + std::to_string(i);
    case 1:
      return "[.input.n, " + std::to_string(i) + "] | add";
    case 2:
      return "def f: . + " + std::to_string(i) + "; .input.n | f";
    default:
      return "if .input.n then .input.n + " + std::to_string(i) + " else 0 end";
  }
}

TEST(ExpressionSetTest, HundredExpressionsCompileWithOneJqCompile) {
  ExpressionSet set;
  for (int i = 0; i < 100; ++i) EXPECT_EQ(set.Add(GoodExpression(i)), i);
  EXPECT_THAT(set.Compile(), IsEmpty());
  EXPECT_EQ(set.jq_compile_count(), 1);
  const json context = {{"input", {{"n", 1000}}}};
  for (int i = 0; i < 100; ++i) {
    Result<json> got = set.Evaluate(i, context);
    ASSERT_TRUE(got.ok()) << got.error().ToString();
    EXPECT_EQ(*got, 1000 + i) << set.source(i);
  }
}

// Beyond ~2700 expressions a flat dispatch tree would exceed jq's 64 KiB
// limit for one function; the set splits it into functions.
TEST(ExpressionSetTest, ThreeThousandExpressionsCompileWithOneJqCompile) {
  ExpressionSet set;
  for (int i = 0; i < 3000; ++i) set.Add(".n * 1 + " + std::to_string(i));
  EXPECT_THAT(set.Compile(), IsEmpty());
  EXPECT_EQ(set.jq_compile_count(), 1);
  for (int i : {0, 1, 255, 256, 257, 1499, 2998, 2999}) {
    EXPECT_EQ(*set.Evaluate(i, json{{"n", 1}}), i + 1);
  }
}

TEST(ExpressionSetTest, EmptySetNeedsNoCompile) {
  ExpressionSet set;
  EXPECT_THAT(set.Compile(), IsEmpty());
  EXPECT_EQ(set.jq_compile_count(), 0);
}

TEST(ExpressionSetTest, NativeExpressionsNeedNoCompile) {
  ExpressionSet native_only;
  native_only.Add(".input.orderId");
  native_only.Add(".steps.x.comment // \"none\"");
  native_only.Add(".tasks[0].lastStatus == \"STOPPED\" and $ctx.n != null");
  EXPECT_FALSE(native_only.NeedsJq());
  EXPECT_THAT(native_only.Compile(), IsEmpty());
  EXPECT_EQ(native_only.jq_compile_count(), 0);
  EXPECT_EQ(*native_only.Evaluate(1, json::object()), "none");

  // Only what is not native goes to jq, in one compile; a faulty expression
  // is still reported.
  ExpressionSet mixed;
  mixed.Add(".input.orderId");
  EXPECT_FALSE(mixed.NeedsJq());
  mixed.Add("[.input.items[]] | length");
  EXPECT_TRUE(mixed.NeedsJq());
  mixed.Add(".input.orderId | nope");
  const std::vector<CompileIssue> issues = mixed.Compile();
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].index, 2);
  EXPECT_THAT(issues[0].message, HasSubstr("nope/0 is not defined"));
  EXPECT_EQ(mixed.jq_compile_count(), 2);
  const json context = {{"input", {{"orderId", "o-1"}, {"items", {1, 2}}}}};
  EXPECT_EQ(*mixed.Evaluate(0, context), "o-1");
  EXPECT_EQ(*mixed.Evaluate(1, context), 2);
}

TEST(ExpressionSetTest, IssuesPinpointTheFaultyExpressions) {
  struct Fault {
    int index;
    std::string source;
    std::string message;
    std::optional<size_t> offset;
  };
  const std::vector<Fault> faults = {
      {3, ".a | | .b", "syntax error, unexpected '|'", 5},
      {7, "{([\" at <top-level>, line 2:\\n\"]): 1}", "Cannot use array", 1},
      {11, "foo(1)", "foo/1 is not defined", 0},
      {17, ".a + $nope", "$nope is not defined", 5},
      {23, "[.a, (.b]", "`]` does not match `(`", 8},
      {29, ".a; .b", "syntax error, unexpected `;`", 2},
      {31, ".a |", "syntax error, unexpected end of expression", 4},
      {37, "\"open", "string literal is not terminated", 0},
      {41, "   ", "the expression is empty", 0},
      {43, "__cairn_e0", "names starting with `__cairn_` are reserved for cairn", 0},
      {47, "def f: 1", "a `def` must end with `;` and be followed by an expression", 0},
      {53, "import \"a\" as a; .", "syntax error, unexpected `;`", 15},
      {59, ".a\n| bar\n| .c", "bar/0 is not defined", 5},
      {61, "break $out", "`break $out` has no matching `label $out`", 0},
      {67, ".x as [$a, $b] | $c", "$c is not defined", 17},
      {71, "if . then 1 else 2", "syntax error, unexpected end of expression", 18},
      {73, "{(1): 2}", "Cannot use number (1) as object key", 1},
      {79, "{a: 1} | .a.", "syntax error, unexpected end of expression", 12},
  };
  ExpressionSet set;
  const int n = 80;
  for (int i = 0; i < n; ++i) {
    auto fault =
        std::find_if(faults.begin(), faults.end(), [&](const Fault& f) { return f.index == i; });
    set.Add(fault == faults.end() ? GoodExpression(i) : fault->source);
  }
  const std::vector<CompileIssue> issues = set.Compile();
  ASSERT_EQ(issues.size(), faults.size());
  for (size_t k = 0; k < faults.size(); ++k) {
    SCOPED_TRACE(faults[k].source);
    EXPECT_EQ(issues[k].index, faults[k].index);
    EXPECT_THAT(issues[k].message, HasSubstr(faults[k].message));
    EXPECT_THAT(issues[k].message, Not(HasSubstr("jq: error")));
    EXPECT_THAT(issues[k].message, Not(HasSubstr("line")));
    EXPECT_EQ(issues[k].offset, faults[k].offset);
  }
  // Six syntax errors reach jq: a cheap try each (jq stops before binding
  // its builtins); the five binding errors are found by one full try
  // together; then the clean rest compiles once.
  EXPECT_EQ(set.jq_compile_count(), 8);
  const json context = {{"input", {{"n", 1}}}};
  for (int i = 0; i < n; ++i) {
    Result<json> got = set.Evaluate(i, context);
    const bool faulty =
        std::any_of(faults.begin(), faults.end(), [&](const Fault& f) { return f.index == i; });
    if (faulty) {
      ASSERT_FALSE(got.ok());
      EXPECT_THAT(got.error().message, HasSubstr("the expression did not compile"));
    } else {
      ASSERT_TRUE(got.ok()) << set.source(i) << ": " << got.error().ToString();
      EXPECT_EQ(*got, 1 + i);
    }
  }
}

TEST(ExpressionSetTest, AllFaulty) {
  ExpressionSet set;
  set.Add("(");
  set.Add("nope");
  std::vector<CompileIssue> issues = set.Compile();
  ASSERT_EQ(issues.size(), 2u);
  EXPECT_FALSE(set.Evaluate(0, json::object()).ok());
  EXPECT_FALSE(set.Evaluate(1, json::object()).ok());
}

// ---- sandbox defense in depth: compiled without CheckSandbox ----

TEST(ExpressionSetTest, ForbiddenBuiltinsNeitherLeakNorCrash) {
  const char* home = std::getenv("HOME");
  const std::vector<std::string> sources = {"env.HOME",
                                            "$ENV.HOME",
                                            "$ENV.PATH",
                                            "env | tostring",
                                            "$ENV | tostring",
                                            "input",
                                            "_input",
                                            "[inputs]",
                                            "input_line_number",
                                            "\"x\" | input_filename",
                                            "import \"a\" as a; .",
                                            "include \"x\"; .",
                                            "\"x\" | modulemeta",
                                            "get_search_list",
                                            "get_prog_origin",
                                            "get_jq_origin",
                                            "$__prog_args",
                                            "now",
                                            "debug",
                                            "debug(\"m\")",
                                            "stderr",
                                            "halt",
                                            "halt_error",
                                            "halt_error(1)",
                                            "1 | localtime",
                                            "1 | strflocaltime(\"%H\")",
                                            "$__loc__"};
  ExpressionSet set;
  for (const std::string& s : sources) set.Add(s);
  std::vector<CompileIssue> issues = set.Compile();
  for (int i = 0; i < static_cast<int>(sources.size()); ++i) {
    Result<json> got = set.Evaluate(i, json::object());
    const std::string shown = got.ok() ? got->dump() : got.error().message;
    if (home != nullptr && std::string(home).size() > 1) {
      EXPECT_THAT(shown, Not(HasSubstr(home))) << sources[static_cast<size_t>(i)];
    }
    if (got.ok()) {
      EXPECT_TRUE(got->is_null() || *got == json::object() || *got == "{}" || got->contains("line"))
          << sources[static_cast<size_t>(i)] << " gave " << shown;
    }
  }
  // import/include are syntax errors inside a def; $__prog_args is unknown to jq 1.6.
  std::vector<int> faulty;
  faulty.reserve(issues.size());
  for (const CompileIssue& issue : issues) faulty.push_back(issue.index);
  EXPECT_EQ(faulty, (std::vector<int>{10, 11, 16}));
}

// ---- values ----

TEST(ExpressionSetTest, NumbersAndTypes) {
  const json in = json::parse(R"({
    "int": 42, "neg": -7, "big": 9007199254740993, "u64": 18446744073709551615,
    "float": 0.1, "exp": 1e300, "negzero": -0.0, "whole": 3.0, "t": true, "n": null,
    "s": "日本 é \u0000 end", "arr": [1, [2, [3]]], "obj": {"z": 1, "a": {"b": []}}
  })");
  for (const bool native : {true, false}) {
    SCOPED_TRACE(native ? "native" : "jq");
    ExpressionSet set(ExpressionSet::Options{.native = native});
    const int identity = set.Add(".");
    ASSERT_THAT(set.Compile(), IsEmpty());
    EXPECT_EQ(set.jq_compile_count(), native ? 0 : 1);
    Result<json> got = set.Evaluate(identity, in);
    ASSERT_TRUE(got.ok()) << got.error().ToString();
    EXPECT_EQ((*got)["int"], 42);
    EXPECT_TRUE((*got)["int"].is_number_integer());
    EXPECT_EQ((*got)["neg"], -7);
    if (native) {
      // Read in place: integers beyond 2^53 stay exact.
      EXPECT_EQ((*got)["big"], 9007199254740993);
      EXPECT_EQ((*got)["u64"], 18446744073709551615u);
    } else {
      EXPECT_EQ((*got)["big"], 9007199254740992);    // jq 1.6: doubles; 2^53+1 is not representable
      EXPECT_TRUE((*got)["u64"].is_number_float());  // 2^64 does not fit an integer
    }
    EXPECT_EQ((*got)["float"], 0.1);
    EXPECT_EQ((*got)["exp"], 1e300);
    EXPECT_TRUE((*got)["negzero"].is_number_float());
    EXPECT_TRUE((*got)["whole"].is_number_integer());  // as jq gives whole numbers back
    EXPECT_EQ((*got)["s"], in["s"]);                   // embedded NUL and UTF-8 survive
    EXPECT_EQ((*got)["arr"], in["arr"]);
    EXPECT_EQ((*got)["obj"], in["obj"]);
    EXPECT_EQ((*got)["t"], true);
    EXPECT_TRUE((*got)["n"].is_null());
  }
}

TEST(ExpressionSetTest, InvalidUtf8IsReplaced) {
  for (const bool native : {true, false}) {
    ExpressionSet set(ExpressionSet::Options{.native = native});
    set.Add(".s");
    ASSERT_THAT(set.Compile(), IsEmpty());
    Result<json> got = set.Evaluate(0, json{{"s",
                                             "a\xFF"
                                             "b"}});
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(*got,
              "a\xEF\xBF\xBD"
              "b");
  }
}

json Nested(int depth) {
  json v = 1;
  for (int i = 0; i < depth; ++i) v = json::array({std::move(v)});
  return v;
}

TEST(ExpressionSetTest, DepthLimits) {
  ExpressionSet set;
  set.Add("[.x] | length");
  set.Add("reduce range(600) as $i (0; [.])");
  ASSERT_THAT(set.Compile(), IsEmpty());
  EXPECT_TRUE(set.Evaluate(0, json{{"x", Nested(kMaxValueDepth - 2)}}).ok());
  Result<json> too_deep = set.Evaluate(0, json{{"x", Nested(kMaxValueDepth + 10)}});
  ASSERT_FALSE(too_deep.ok());
  EXPECT_THAT(too_deep.error().message, HasSubstr("nested deeper than"));
  Result<json> deep_result = set.Evaluate(1, json::object());
  ASSERT_FALSE(deep_result.ok());
  EXPECT_THAT(deep_result.error().message, HasSubstr("result nested deeper than"));
}

TEST(ExpressionSetTest, ErrorsQuoteTheExpression) {
  ExpressionSet set;
  set.Add(".a.b");
  ASSERT_THAT(set.Compile(), IsEmpty());
  Result<json> got = set.Evaluate(0, json{{"a", 5}});
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().code, kExpressionErrorCode);
  EXPECT_EQ(got.error().message, "Cannot index number with string \"b\"");
  EXPECT_EQ(got.error().context, "evaluating `.a.b`");
}

// ---- templates ----

TEST(ExpressionSetTest, RenderTemplates) {
  ExpressionSet set;
  auto add = [&](std::string_view text) {
    Result<Template> t = ParseTemplate(text);
    EXPECT_TRUE(t.ok()) << text;
    return set.AddTemplate(std::move(t).value());
  };
  const TemplateProgram single = add("  ${ .input.obj }\n");
  const TemplateProgram mixed =
      add("id=${ .input.id }, obj=${.input.obj}, n=${.input.n}, none=${.input.x}");
  const TemplateProgram escaped = add("$${ not } ${ .input.id }");
  const TemplateProgram literal = add("just text");
  const TemplateProgram failing = add("a ${ .input.id | tonumber | floor } b");
  ASSERT_THAT(set.Compile(), IsEmpty());
  EXPECT_EQ(set.jq_compile_count(), 1);
  const json context = {{"input", {{"id", "x-1"}, {"obj", {{"k", "é"}}}, {"n", 2.5}}}};
  EXPECT_EQ(*set.Render(single, context), json({{"k", "é"}}));
  EXPECT_EQ(*set.Render(mixed, context), "id=x-1, obj={\"k\":\"é\"}, n=2.5, none=null");
  EXPECT_EQ(*set.Render(escaped, context), "${ not } x-1");
  EXPECT_EQ(*set.Render(literal, context), "just text");
  Result<json> failed = set.Render(failing, context);
  ASSERT_FALSE(failed.ok());
  EXPECT_THAT(failed.error().message, HasSubstr("while parsing 'x-1'"));
}

// ---- threads ----

TEST(ExpressionSetTest, ConcurrentEvaluations) {
  ExpressionSet set;
  for (int i = 0; i < 8; ++i) set.Add(GoodExpression(i));
  ASSERT_THAT(set.Compile(), IsEmpty());
  std::vector<std::thread> threads;
  threads.reserve(4);
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int k = 0; k < 300; ++k) {
        const int i = (t + k) % 8;
        Result<json> got = set.Evaluate(i, json{{"input", {{"n", k}}}});
        if (!got.ok() || *got != k + i) ++failures;
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST(ExpressionSetTest, Movable) {
  ExpressionSet a;
  a.Add(".x");
  ASSERT_THAT(a.Compile(), IsEmpty());
  ExpressionSet b = std::move(a);
  EXPECT_EQ(*b.Evaluate(0, json{{"x", 3}}), 3);
}

// jq 1.6 imports $HOME/.jq on every jq_compile and would bind its
// definitions ahead of the builtins (a way to change what every expression
// computes). A poisoned or broken one in HOME must change nothing, and HOME
// must read as before once the compile is over.
TEST(ExpressionSetTest, HomeDotJqIsNotRead) {
  const char* old_home = std::getenv("HOME");
  const std::string saved = old_home ? old_home : "";
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("cairn_expr_home_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  ::setenv("HOME", dir.c_str(), 1);
  {
    std::ofstream(dir / ".jq") << "def map(f): \"hijacked\"; def length: 42;\n";
    ExpressionSet set;
    set.Add("[1] | map(.)");
    set.Add("[1, 2] | length");
    ASSERT_THAT(set.Compile(), IsEmpty());
    EXPECT_EQ(*set.Evaluate(0, json::object()), json::array({1}));
    EXPECT_EQ(*set.Evaluate(1, json::object()), 2);
    const char* home_after = std::getenv("HOME");
    ASSERT_NE(home_after, nullptr);
    EXPECT_EQ(std::string(home_after), dir.string());
  }
  {
    std::ofstream(dir / ".jq") << "def broken: (;\n";
    ExpressionSet set;
    for (int i = 0; i < 20; ++i) set.Add(GoodExpression(i));
    EXPECT_THAT(set.Compile(), IsEmpty());
    EXPECT_EQ(set.jq_compile_count(), 1);
  }
  if (old_home) {
    ::setenv("HOME", saved.c_str(), 1);
  } else {
    ::unsetenv("HOME");
  }
  std::filesystem::remove_all(dir);
}

TEST(ExpressionSetTest, CtxIsTheContextUnlessGivenApart) {
  ExpressionSet set;
  set.Add("$ctx.input.n");
  set.Add(". >= $ctx.input.n and $ctx.attempt == 2");
  TemplateProgram tmpl = set.AddTemplate(*ParseTemplate("n=${ $ctx.input.n } dot=${ . }"));
  ASSERT_THAT(set.Compile(), IsEmpty());
  const json ctx = {{"input", {{"n", 3}}}, {"attempt", 2}};
  EXPECT_EQ(*set.Evaluate(0, ctx), 3);
  EXPECT_EQ(*set.Evaluate(1, json(3), ctx), true);
  EXPECT_EQ(*set.Evaluate(1, json(2), ctx), false);
  EXPECT_EQ(*set.Render(tmpl, json(7), ctx), "n=3 dot=7");
}

// ---- StepReads over a set -------------------------------------------------

TEST(ExpressionSetTest, StepReadsUniteEveryExpression) {
  ExpressionSet set;
  set.Add(".steps.b.status == \"done\"");
  set.Add(".input | $ctx.steps.a");
  set.Add(".params.p + 1");
  set.AddTemplate(*ParseTemplate("id-${ .steps.c.id }-${ .steps.b.n }"));
  EXPECT_EQ(set.StepReads(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_THAT(set.Compile(), IsEmpty());
  EXPECT_EQ(set.StepReads(), (std::vector<std::string>{"a", "b", "c"}));
}

TEST(ExpressionSetTest, StepReadsOfAnEmptySetAreNone) {
  ExpressionSet set;
  EXPECT_EQ(set.StepReads(), std::vector<std::string>{});
  set.Add("\"literal\"");
  EXPECT_EQ(set.StepReads(), std::vector<std::string>{});
}

TEST(ExpressionSetTest, OneExpressionReadingEverythingMakesTheSetReadEverything) {
  ExpressionSet set;
  set.Add(".steps.a");
  set.Add("$ctx");
  EXPECT_EQ(set.StepReads(), std::nullopt);
}

TEST(ExpressionSetTest, AJqExpressionMakesTheSetReadEverything) {
  ExpressionSet set;
  set.Add(".steps.a");
  set.Add(".input.items | map(.id)");  // not native: not analysed
  EXPECT_TRUE(set.NeedsJq());
  EXPECT_EQ(set.StepReads(), std::nullopt);

  ExpressionSet jq_only(ExpressionSet::Options{.native = false});
  jq_only.Add(".steps.a");
  EXPECT_EQ(jq_only.StepReads(), std::nullopt);
}

}  // namespace
}  // namespace cairn::expr
