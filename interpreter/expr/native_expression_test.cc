// NativeExpression against libjq: every expression that Parse accepts must
// give, on every context, what the jq path of ExpressionSet gives (the same
// value, or the same error), and nothing that jq rejects may be accepted.
#include "expr/native_expression.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "expr/expression_set.h"

#if defined(__SANITIZE_ADDRESS__)
#define CAIRN_TEST_HAS_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CAIRN_TEST_HAS_LSAN 1
#endif
#endif
#ifdef CAIRN_TEST_HAS_LSAN
#include <sanitizer/lsan_interface.h>
#endif

namespace cairn::expr {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// Runs the reference (jq path) evaluation. libjq 1.6's f_tonumber leaks the
// value it parsed when that is JSON but not a number ("[1]"); the leak is
// jq's, on the path the native one replaces, so it is not reported.
Result<json> JqEvaluate(const ExpressionSet& jq, int index, const json& context,
                        const json* separate_ctx) {
#ifdef CAIRN_TEST_HAS_LSAN
  __lsan::ScopedDisabler not_ours;
#endif
  return separate_ctx ? jq.Evaluate(index, context, *separate_ctx) : jq.Evaluate(index, context);
}

// The contexts every expression runs on: each jq type at the root, and an
// object whose members cover each type, odd keys and nesting.
std::vector<json> Contexts() {
  json rich = json::parse(R"({
    "a": {"b": {"c": 1, "d": [10, 20, {"e": "deep"}]}, "n": null, "f": false},
    "arr": [1, "two", null, [3], {"k": "v"}, true, false, 2.5],
    "empty_arr": [], "empty_obj": {},
    "n": 5, "neg": -3, "flt": 2.5, "whole": 4.0, "zero": 0, "negzero": -0.0,
    "big": 1e300, "small": 1e-300,
    "s": "str", "es": "", "uni": "é日本", "t": true, "f": false, "z": null,
    "if": 1, "and": 2, "or": 3, "then": 4, "true": 5, "null": 6, "ctx": 7, "__loc__": 8,
    "a b": 9, "é": 10, "": 11, "x\"y": 12, "long_key_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx": 13,
    "nested": [[1, 2], [3, [4, [5]]]],
    "objs": [{"a": 1, "b": 2}, {"a": 1, "c": 0}, {"a": 2}, {}],
    "tasks": [{"lastStatus": "STOPPED", "containers": [{"exitCode": 0}]}],
    "steps": {"legal": {"comment": null, "approved": true}, "x": {"comment": "ok"}}
  })");
  rich[std::string("nul\0key", 7)] = "nul";
  rich["bad_utf8"] =
      "a\xFF"
      "b";
  rich["bad_utf8_tail"] = "x\xE2\x82";
  rich["bad_utf8_mid"] =
      "\xE2"
      "A\x82";
  rich["bad_obj"] = json::object({{"k\xC0\x80", 1}, {"k\xEF\xBF\xBD\xEF\xBF\xBD", 2}});
  rich["bad_arr"] = json::array({"\xFF", "\xFE", "\xEF\xBF\xBD"});
  rich["nan"] = NAN;
  rich["nan_arr"] = json::array({NAN, 1});
  rich["inf"] = INFINITY;
  rich["u64"] = uint64_t{9007199254740992};  // 2^53: exact in a double
  // For `+`, `-`, length, tonumber and their messages.
  rich["long_s"] = "abcdefghijklmnopqrstuvwxyz";
  rich["uni_long"] = "aéééééééé";  // cut inside a character at 11 bytes
  rich["ctrl_s"] = std::string("\0\x7f/\\\"\x1f\t", 7);
  rich["num_s"] = "12";
  rich["num_ws"] = " 12\n";
  rich["bad_num_s"] = "12abc";
  rich["dup"] = json::parse(R"([1, 1, 2, [3], [3], {"a": 1}, "two", null, 2.0])");
  rich["merge_l"] = json::parse(R"({"b": 1, "a": {"x": 1}, "é": 2})");
  rich["merge_r"] = json::parse(R"({"a": {"y": 2}, "c": 3, "b": null})");
  rich["long_arr"] = json::parse(R"([1000000, 2000000, 3000000])");
  return {
      json(nullptr),
      json(true),
      json(false),
      json(0),
      json(-1.5),
      json("text"),
      json::array({1, "a", nullptr}),
      json::object(),
      rich,
  };
}

std::string Describe(const Result<json>& r) {
  if (r.ok()) return "value " + r->dump(-1, ' ', false, json::error_handler_t::replace);
  return "error [" + r.error().code + "] " + r.error().message + " | " + r.error().context;
}

int ExpectSameAsJqBatch(const std::vector<std::string>& sources, const std::vector<json>& contexts,
                        const json* separate_ctx);

// Compares `sources` evaluated natively and through jq on every context.
// Every source must be accepted by Parse. Returns how many evaluations were
// compared. (In batches: jq compiles a very large program slowly.)
int ExpectSameAsJq(const std::vector<std::string>& sources, const std::vector<json>& contexts,
                   const json* separate_ctx = nullptr) {
  constexpr size_t kBatch = 400;
  int compared = 0;
  for (size_t start = 0; start < sources.size(); start += kBatch) {
    const std::vector<std::string> batch(
        sources.begin() + static_cast<std::ptrdiff_t>(start),
        sources.begin() + static_cast<std::ptrdiff_t>(std::min(sources.size(), start + kBatch)));
    compared += ExpectSameAsJqBatch(batch, contexts, separate_ctx);
  }
  return compared;
}

int ExpectSameAsJqBatch(const std::vector<std::string>& sources, const std::vector<json>& contexts,
                        const json* separate_ctx) {
  ExpressionSet native;
  ExpressionSet jq(ExpressionSet::Options{.native = false});
  for (const std::string& s : sources) {
    EXPECT_TRUE(NativeExpression::Parse(s).has_value()) << "not native: " << s;
    native.Add(s);
    jq.Add(s);
  }
  EXPECT_THAT(native.Compile(), IsEmpty());
  const std::vector<CompileIssue> issues = jq.Compile();
  for (const CompileIssue& issue : issues) {
    ADD_FAILURE() << "jq rejects " << sources[static_cast<size_t>(issue.index)] << ": "
                  << issue.message;
  }
  EXPECT_EQ(native.jq_compile_count(), 0);
  int compared = 0;
  for (size_t i = 0; i < sources.size(); ++i) {
    const int index = static_cast<int>(i);
    for (const json& context : contexts) {
      const Result<json> want = JqEvaluate(jq, index, context, separate_ctx);
      const Result<json> got = separate_ctx ? native.Evaluate(index, context, *separate_ctx)
                                            : native.Evaluate(index, context);
      ++compared;
      EXPECT_EQ(Describe(got), Describe(want))
          << "expression: " << sources[i]
          << "\ncontext: " << context.dump(-1, ' ', false, json::error_handler_t::replace);
    }
  }
  return compared;
}

// ---- hand-picked cases ----

TEST(NativeExpressionTest, PathsMatchJq) {
  const std::vector<std::string> sources = {
      ".",
      " . ",
      ".a",
      ".a.b",
      ".a.b.c",
      ".a.b.c.d",
      ".a.b.d[0]",
      ".a.b.d[2].e",
      ".a.b.d[-1]",
      ".a.b.d[-3]",
      ".a.b.d[-4]",
      ".a.b.d[3]",
      ".a.b.d[99999999999]",
      ".a.b.d[4294967296]",
      ".a.b.d[-4294967296]",
      ".a.b.d[2147483647]",
      ".a.b.d[-2147483648]",
      ".a.b.d[1.5]",
      ".a.b.d[1.0]",
      ".a.b.d[-0]",
      ".a.b.d[1e0]",
      ".a.b.d[.5]",
      ".a.b.d[ - 1 ]",
      ".missing",
      ".missing.deeper",
      ".missing[0]",
      ".missing[-1]",
      ".z.y",
      ".n.x",
      ".n[0]",
      ".s.x",
      ".s[0]",
      ".t.x",
      ".f[0]",
      ".arr.x",
      ".arr[\"x\"]",
      ".arr[1]",
      ".arr[-1]",
      ".a[0]",
      ".[0]",
      ".[-1]",
      ".[\"a\"]",
      ".[ \"a\" ] [ \"b\" ]",
      ".\"a\"",
      ". \"a\"",
      ". .a",
      ".a .b",
      ".a.\"b\"",
      ".a . \"b\"",
      ".\"a b\"",
      ".\"é\"",
      ".\"\"",
      ".[\"\"]",
      ".\"x\\\"y\"",
      ".if",
      ".and",
      ".or",
      ".then",
      ".true",
      ".null",
      ".ctx",
      ".__loc__",
      ".\"nul\\u0000key\"",
      ".long_key_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
      ".n.long_key_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
      ".n.xxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
      ".n.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
      ".n[\"a\\u0000b\"]",
      ".n[\"é\"]",
      ".n[\"a\\\"b\"]",
      ".bad_utf8",
      ".bad_utf8_tail",
      ".bad_utf8_mid",
      ".bad_obj",
      ".bad_obj[\"k\\ufffd\\ufffd\"]",
      ".bad_obj.\"k\\ufffd\"",
      ".bad_arr",
      ".nan",
      ".nan_arr",
      ".inf",
      ".u64",
      ".big",
      ".small",
      ".whole",
      ".negzero",
      ".zero",
      ".flt",
      ".uni",
      ".nested[1][1][1][0]",
      ".nested[1][1][1][0][0]",
      ".tasks[0].lastStatus",
      ".tasks[0].containers[0].exitCode",
      "$ctx",
      "$ctx.a.b",
      "$ ctx.n",
      "$ # comment\nctx.n",
      "$ctx[0]",
      "(.a)",
      "(.a).b",
      "((.a.b)).c",
      "(.a.b)[\"d\"][1]",
      ".a # a comment\n.b",
      "# leading comment\n.a",
      ".e",
      ".e3x",
      ".e_1",
      ".E",
      ".a\t.b\n",
      "1 .a",
      "\"x\" .a",
      "true.a",
      "null.a",
      "null[0]",
      "null[\"a\"]",
      "false[-1]",
      "-1 .a",
      "1.5 .a",
      "1. .a",
      ".5 .a",
  };
  EXPECT_GT(ExpectSameAsJq(sources, Contexts()), 1000);
}

TEST(NativeExpressionTest, LiteralsMatchJq) {
  const std::vector<std::string> sources = {
      "0",
      "1",
      "-1",
      "-0",
      "- 0",
      "1.0",
      "1.5",
      "1e3",
      "1E3",
      "1e+3",
      "1e-3",
      "1.e3",
      "1.",
      ".5",
      "0.1",
      "00012",
      "1.25e2",
      "100000000000000000000",
      "9007199254740993",
      "18446744073709551615",
      "18446744073709551616",
      "1e308",
      "4.9e-324",
      "123456789.123456789",
      "-9223372036854775808",
      "9223372036854775807",
      "\"\"",
      "\"a\"",
      "\"a\\\"b\"",
      "\"\\\\\"",
      "\"\\/\"",
      "\"\\b\\f\\n\\r\\t\"",
      "\"\\u00e9\"",
      "\"\\u00E9\"",
      "\"\\ud83d\\ude00\"",
      "\"\\u0000\"",
      "\"é日本\"",
      "\"tab\there\"",
      "\"line\nbreak\"",
      "\"# not a comment\"",
      "true",
      "false",
      "null",
      "(1)",
      "((\"x\"))",
      "( true )",
  };
  EXPECT_GT(ExpectSameAsJq(sources, {json(nullptr), json::object()}), 50);
}

TEST(NativeExpressionTest, ComparisonsAcrossTypesMatchJq) {
  const std::vector<std::string> operands = {
      "null",     "false",      "true",     "0",     "-1",         "1.5",
      "1e3",      "-0",         "\"\"",     "\"a\"", "\"b\"",      "\"é\"",
      ".arr",     ".empty_arr", ".nested",  ".a",    ".empty_obj", ".objs[0]",
      ".objs[1]", ".objs[2]",   ".objs[3]", ".n",    ".s",         ".z",
      ".missing", ".t",         ".f",       ".nan",  ".nan_arr",   ".bad_utf8",
      ".bad_arr", ".bad_obj",   "$ctx.n",   ".uni",  ".inf",       ".big",
  };
  const std::vector<std::string> ops = {"==", "!=", "<", "<=", ">", ">="};
  std::vector<std::string> sources;
  for (const std::string& a : operands) {
    for (const std::string& b : operands) {
      for (const std::string& op : ops) sources.push_back(a + " " + op + " " + b);
    }
  }
  // Both sides fail: jq evaluates the right operand first.
  for (const std::string& op : ops) sources.push_back(".n.a " + op + " .s.b");
  sources.push_back(".nan_arr == .nan_arr");
  sources.push_back(".nan == .nan");
  sources.push_back(". == $ctx");
  sources.push_back(".a==.a");
  sources.push_back(".a.b.c==1");
  sources.push_back("1<=2");
  sources.push_back(".a.b.c>=-1");
  sources.push_back("-1==-1");
  const json rich = Contexts()[8];
  EXPECT_GT(ExpectSameAsJq(sources, {rich}), 7000);
  // With $ctx apart from `.`.
  EXPECT_GT(ExpectSameAsJq({". == $ctx", "$ctx.n == .n", "$ctx.a", "$ctx.nan_arr == .nan_arr"},
                           {rich, json(5)}, &rich),
            0);
}

TEST(NativeExpressionTest, LogicMatchesJq) {
  const std::vector<std::string> sources = {
      "true and true",
      "true and false",
      "1 and null",
      "null and .n.x",
      "false or .n.x",
      "true or .n.x",
      ".n.x and false",
      ".n.x or true",
      "0 and \"\"",
      ".empty_arr and .empty_obj",
      ".z or .f",
      ".z or .f or .t",
      ".t and .n and .s and .arr",
      ".t and .n and .z and .n.x",
      "1and 2",
      "1or 2",
      "(.t)and(.f)",
      ".a.n or .a.f",
      ".z // 1",
      ".f // 2",
      ".t // 3",
      ".n // 4",
      ".missing // \"none\"",
      "null // false",
      "false // null",
      ".z // .f // .missing // 5",
      ".z // .f // .missing",
      ".n.x // 1",
      ".z // .n.x",
      ".t // .n.x",
      ".steps.legal.comment // \"no comment\"",
      ".steps.x.comment // \"no comment\"",
      ".a // .b == 1",
      ".z // .n == 5",
      ".t or .f // 1",
      "(.z // .f) // 7",
      ".z//.f",
      "(.a // 1).b",
      "(.z // .a).b.c",
      "(.z // .n).x",
      ".z and .n == 5 or .t",
      ".n == 5 and .s == \"str\"",
      ".n == 5 and .s != \"str\" // 9",
      ".tasks[0].lastStatus == \"STOPPED\"",
      ".tasks[0].containers[0].exitCode != 0",
      ".steps.legal.approved != true",
      ".steps.lookUp.item.acknowledged != true and .z != null",
      "(1 == 1) == true",
      "(.n < 10) and (.n > 1)",
      ".bad_utf8 // 1",
      "(.nan_arr) and 1",
  };
  EXPECT_GT(ExpectSameAsJq(sources, Contexts()), 400);
}

// Every pair of kinds (and odd values) through `+` and `-`, and the messages
// of those that fail (values printed and cut as jq prints them).
TEST(NativeExpressionTest, ArithmeticAcrossTypesMatchesJq) {
  const std::vector<std::string> operands = {
      "null",       "true",
      "false",      "0",
      "1",          "-1",
      "1.5",        "1e300",
      "-0",         "\"\"",
      "\"a\"",      "\"é\"",
      ".arr",       ".empty_arr",
      ".nested",    ".a",
      ".empty_obj", ".objs[0]",
      ".objs[1]",   ".n",
      ".s",         ".z",
      ".missing",   ".t",
      ".f",         ".nan",
      ".nan_arr",   ".bad_utf8",
      ".bad_arr",   ".bad_obj",
      "$ctx.n",     ".uni",
      ".inf",       ".big",
      ".u64",       ".long_s",
      ".uni_long",  ".dup",
      ".merge_l",   ".merge_r",
      ".negzero",   ".small",
      ".flt",       ".ctrl_s",
      ".long_arr",  ".bad_utf8_tail",
  };
  std::vector<std::string> sources;
  for (const std::string& a : operands) {
    for (const std::string& b : operands) {
      for (const char* op : {" + ", " - "}) sources.push_back(a + op + b);
    }
  }
  const json rich = Contexts()[8];
  EXPECT_GT(ExpectSameAsJq(sources, {rich}), 4000);
}

TEST(NativeExpressionTest, ArithmeticMatchesJq) {
  const std::vector<std::string> sources = {
      // precedence and associativity
      "1 - 2 - 3",
      "1 - (2 - 3)",
      "1 + 2 - 3 + 4",
      "10 - 2 + 3",
      ".n + 1 == 6",
      "6 == .n + 1",
      ".n + 1 == 6 and .n - 1 == 4",
      ".n - 1 < .n + 1",
      ".a // 1 + 2",
      ".z // 1 + 2",
      "1 + .z // 3",
      ".z + null // 3",
      ".f + 1 // 3",
      ".z // .n + 1",
      ".t and .n + 1",
      ".n + 1 or .z",
      // unary and binary minus
      "-1 + 2",
      "- 1 + 2",
      "-.n",
      "- .n",
      "-.n + 1",
      "-.n - 1",
      "1 - -1",
      "1--1",
      "1 - - 1",
      ".n - -1",
      ".n-1",
      ".n -1",
      ".n - 1",
      ". - 1",
      "1-1",
      "1 -1",
      "--1",
      "- -.n",
      "-(.n)",
      "-(1)",
      "-(-1)",
      "-0",
      "-.negzero",
      "-.zero",
      "-null",
      "-.z",
      "-.s",
      "-.t",
      "-.arr",
      "-.a",
      "-.long_s",
      "-.uni_long",
      "-.bad_utf8",
      "-.nan",
      "-.inf",
      "-.big_int",
      "-1 .a",
      "- 1 .a",
      "-.a.b.c",
      "-.n.x",
      "(-.n).x",
      "-(.n + 1)",
      "-.n + -.n",
      "-\"a\" + 1",
      // evaluation order: the right operand first, then the operators from the left
      ".n.x + .s.y",
      ".n.x - .s.y",
      ".n.x + (1 + \"a\")",
      "(1 + \"a\") + .n.x",
      ".s + 1 + .n.x",
      ".s - 1 - 2",
      "1 + \"a\" + .n.x",
      ".n + .s - .t",
      // numbers
      ".n + .n + .n",
      ".flt + .whole",
      ".big + .big",
      ".big + .big - .big",
      ".inf - .inf",
      ".inf + 1",
      ".nan + 1",
      ".small - .small",
      ".negzero + .negzero",
      ".negzero - 0",
      "0 - .negzero",
      ".u64 + 1",
      ".big_int + 0",
      ".big_int - 1",
      ".big_int | length",
      ".big_int | -. | tonumber",
      "0.1 + 0.2",
      "1e308 + 1e308",
      "-1e308 - 1e308",
      // strings
      ".s + .s + .s + .s + .s",
      ".s + \"\"",
      "\"\" + .s",
      ".uni + .bad_utf8",
      ".bad_utf8 + .bad_utf8_tail",
      ".bad_utf8_tail + .bad_utf8_mid",
      "(.s + .s) == \"strstr\"",
      "(.bad_utf8 + .s) | length",
      // arrays
      ".arr + .arr",
      ".arr - .arr",
      ".dup - .arr",
      ".arr - .dup",
      ".dup - .dup",
      ".nested - .nested",
      ".nan_arr - .nan_arr",
      ".nan_arr + .nan_arr",
      "(.nan_arr + .nan_arr) - .nan_arr",
      "(.arr + .dup) - .arr",
      "(.arr + .dup) - (.dup + .arr)",
      "(.arr - .dup) + (.dup - .arr)",
      ".bad_arr - .bad_arr",
      ".bad_arr + .bad_arr",
      "(.arr + .dup)[7]",
      "(.arr + .dup)[-1]",
      "(.arr + .dup)[100]",
      "(.arr + .dup)[1.5]",
      "(.arr + .dup).x",
      "(.arr + .dup)[\"x\"]",
      "(.arr + .dup)[3][0]",
      "(.arr + .dup) | length",
      "(.dup - .arr) | length",
      "(.arr + .dup) + 1",
      "1 - (.arr + .dup)",
      "(.dup - .arr) - 1",
      "(.long_arr + .long_arr) + 1",
      "(.empty_arr + .empty_arr) - 1",
      "(.arr + .dup) == (.arr + .dup)",
      "(.arr + .dup) < (.dup + .arr)",
      // identity: jq returns the left operand itself for `+ []`, `+ {}`, `+ null`
      "(.nan_arr + .empty_arr) == .nan_arr",
      "(.nan_arr + null) == .nan_arr",
      "(null + .nan_arr) == .nan_arr",
      "(.nan_arr - .empty_arr) == .nan_arr",
      "(.empty_arr + .nan_arr) == .nan_arr",
      "(.nan_arr + .nan_arr) == (.nan_arr + .nan_arr)",
      "(.nan_arr + .arr) | . == .",
      "(.nan_arr + .arr) | . != .",
      "((.nan_arr + .arr) | .) == (.nan_arr + .arr)",
      "(.a + .empty_obj) == .a",
      "$ctx.nan_arr - .nan_arr",
      ".nan_arr - $ctx.nan_arr",
      // objects
      ".merge_l + .merge_r",
      ".merge_r + .merge_l",
      "(.merge_l + .merge_r) + 1",
      "(.merge_r + .merge_l) - 1",
      "1 + (.merge_r + .merge_l)",
      "(.merge_l + .merge_r).a",
      "(.merge_l + .merge_r).b",
      "(.merge_l + .merge_r)[\"é\"]",
      "(.merge_l + .merge_r)[0]",
      "(.merge_l + .merge_r) | length",
      "(.merge_l + .merge_r) == (.merge_r + .merge_l)",
      "(.merge_l + .merge_r) + .merge_l",
      ".bad_obj + .merge_l",
      "(.bad_obj + .merge_l) - 1",
      "(.merge_l + .bad_obj) - 1",
      ".bad_obj + .bad_obj",
      "(.bad_obj + .bad_obj) | length",
      ".a + .a",
      ".a + .a == .a",
      ".objs[0] + .objs[1] + .objs[2]",
      "(.objs[0] + .objs[1]) - 1",
      "(.steps.legal + .steps.x).comment",
      ".empty_obj + .empty_obj",
      ".empty_obj - .empty_obj",
      // messages cut inside a character, or holding control characters
      ".uni_long + 1",
      "1 - .uni_long",
      ".ctrl_s + 1",
      "(.ctrl_s + .ctrl_s) - 1",
      ".dup - 1",
      ".nested + 1",
      ".objs + 1",
      ".tasks - 1",
      ".steps + 1",
      "(.arr + .nested) - .s",
      ".bad_obj - 1",
      ".bad_arr - 1",
  };
  const std::vector<json> all = Contexts();
  // Integers beyond 2^53 are read as jq reads them (doubles) once computed on.
  const json big = {{"big_int", 9007199254740993}, {"n", -9007199254740993}};
  EXPECT_GT(ExpectSameAsJq(sources, {all[0], all[3], all[5], all[6], all[8], big}), 800);
}

TEST(NativeExpressionTest, PipesAndBuiltinsMatchJq) {
  const std::vector<std::string> sources = {
      ". | length",
      ".|length",
      "length",
      "tonumber",
      ".s|length",
      ".arr | length",
      ".arr | length | tonumber",
      ".arr | length | length",
      ".n | length",
      ".neg | length",
      ".negzero | length",
      ".nan | length",
      ".inf | length",
      ".t | length",
      ".f|length",
      ".z | length",
      ".a | length",
      ".empty_obj | length",
      ".empty_arr | length",
      ".bad_obj | length",
      ".bad_utf8 | length",
      ".bad_utf8_tail | length",
      ".bad_utf8_mid | length",
      ".uni | length",
      ".long_s | length",
      ".ctrl_s | length",
      ".steps | length",
      "\"12\" | tonumber",
      "\" 12\" | tonumber",
      "\"1e3\" | tonumber",
      "\"abc\" | tonumber",
      "\"nan\" | tonumber",
      "\"\" | tonumber",
      "\"[1]\" | tonumber",
      "\"1 2\" | tonumber",
      "\"-0\"|tonumber",
      "\"0x10\" | tonumber",
      "\"Infinity\" | tonumber",
      "\"1e400\" | tonumber",
      "\"\\u0000\" | tonumber",
      "\"1\\u00002\" | tonumber",
      ".num_s | tonumber",
      ".num_ws | tonumber",
      ".bad_num_s | tonumber",
      ".bad_utf8 | tonumber",
      ".long_s | tonumber",
      ".ctrl_s | tonumber",
      ".n | tonumber",
      ".flt | tonumber",
      ".nan | tonumber",
      ".s | tonumber",
      ".arr | tonumber",
      ".a | tonumber",
      ".t | tonumber",
      ".z | tonumber",
      ".long_arr | tonumber",
      ".merge_l | tonumber",
      "(.num_s | tonumber) + 1",
      "(.params.limit | tonumber)",
      ".a | .b",
      ".a | .b | .c",
      ".a|.b.d|length",
      "(.arr | length) + 1",
      ".arr | length + 1",
      ".arr | length > 5",
      ".arr | length == 8 and true",
      "$ctx | length",
      ".a | $ctx.n",
      ".a | $ctx.a | .b",
      ".arr | .[0] + .[7]",
      ".n | -.",
      ".s | -.",
      ".n | . + 1 | . - 2",
      "length.a",
      "length[0]",
      ".a | length .x",
      "(.arr | length)",
      ".arr | (length)",
      "(.arr + .dup) | length",
      ".z // .arr | length",
      ".z | length // 5",
      ".t | length // 5",
      "$ctx.arr | length",
      ".images | length",
      ".a | . == $ctx.a",
      ".a | . == .",
      ".nan_arr | . == .",
      "(.nan_arr | .) == .nan_arr",
      ".n.x | length",
      ".s | length | tonumber | . - 3",
      ".n | tonumber | length",
      ". | . | .",
      "(. | .a) | .b",
      ".a | (.b | .c) | . + 1",
      "-(.arr | length)",
      "- .arr | length",
      ".n | -. | length",
      ".bad_arr | .[0] + .[1]",
      ".steps.legal | .comment // \"none\"",
  };
  EXPECT_GT(ExpectSameAsJq(sources, Contexts()), 800);
  EXPECT_GT(ExpectSameAsJq({". == $ctx", ". | $ctx.n", ".n | $ctx | length", "$ctx + ."},
                           {Contexts()[8], json(5)}, &Contexts()[8]),
            0);
}

// tonumber reads a string with jq's JSON parser, with its messages.
TEST(NativeExpressionTest, ToNumberMatchesJq) {
  std::vector<json> strings;
  for (const char* s : {"12",
                        " 12",
                        "12 ",
                        "\n12\r\n",
                        "\t1\t",
                        "1e3",
                        "1E3",
                        "+5",
                        "-5",
                        "-0",
                        ".5",
                        "5.",
                        "0x10",
                        "abc",
                        "nan",
                        "NaN",
                        "-nan",
                        "Infinity",
                        "-Infinity",
                        "inf",
                        "infinity",
                        "",
                        " ",
                        "1 2",
                        "[1]",
                        "{}",
                        "\"x\"",
                        "true",
                        "null",
                        "false",
                        "tru",
                        "nul",
                        "1e500",
                        "-1e500",
                        "1e-500",
                        "00012",
                        "1.5.3",
                        "12abc",
                        "\x1e"
                        "12",
                        "\xEF\xBB\xBF"
                        "12",
                        "12\xEF\xBB\xBF",
                        "é",
                        "a\xFF"
                        "b",
                        "12345678901234567890",
                        "123456789012345678901234567890",
                        "[1,",
                        "{\"a\":1}",
                        "\"abc",
                        "1,2",
                        "]",
                        "}",
                        ":",
                        ",",
                        "[",
                        "{\"a\"",
                        "abcdefghijklmnopqrstuvwxyz",
                        "1\n2",
                        "1\nx",
                        "\n\nx",
                        "--1",
                        "1-",
                        "0.1e",
                        "1e+",
                        "9007199254740993",
                        "4.9e-324",
                        "2.5e-324"}) {
    strings.emplace_back(s);
  }
  strings.emplace_back(std::string("12\0junk", 7));
  strings.emplace_back(std::string("\0", 1));
  strings.emplace_back(std::string(300, '9'));
  strings.emplace_back(std::string(300, '['));
  strings.emplace_back("[" + std::string(300, ' ') + "]");
  const std::vector<std::string> sources = {
      "tonumber", ". | tonumber", "tonumber + 1", "length",    ". + 1", "1 + .",
      ". - 1",    ". + .",        ". - .",        ". + \"x\"", "-.",    ". | length | tonumber",
  };
  EXPECT_GT(ExpectSameAsJq(sources, strings), 600);
}

// Numbers in messages print as jq prints them (shortest digits, jq's
// exponent rules), cut to 11 bytes.
TEST(NativeExpressionTest, NumbersInMessagesMatchJq) {
  std::vector<json> numbers = {0,         -0.0,
                               1e17,      1e16,
                               1e15,      0.1,
                               1.5e-7,    123456789012,
                               5e-324,    DBL_MAX,
                               -DBL_MAX,  1e-5,
                               0.0001,    0.00012,
                               1e22,      1e21,
                               100,       -1.5,
                               1.0 / 3,   2.0 / 3,
                               4.35,      9.2233720368547758e18,
                               INT64_MIN, 1.8446744073709552e19,
                               NAN,       INFINITY,
                               -INFINITY, 1e-300,
                               12e15,     0.3};
  std::mt19937_64 rng(99);
  for (int i = 0; i < 200; ++i) {
    numbers.emplace_back(
        std::ldexp(static_cast<double>(rng() % 100000000), static_cast<int>(rng() % 120) - 60));
    numbers.emplace_back(static_cast<double>(rng() % 100000) /
                         std::pow(10.0, static_cast<double>(rng() % 25)));
  }
  const std::vector<std::string> sources = {
      ". + \"a\"", "\"a\" - .", ". + 1", ". - 1", "-.", "length", "tonumber", ". - .", ". + .",
  };
  EXPECT_GT(ExpectSameAsJq(sources, numbers), 3000);
}

TEST(NativeExpressionTest, ParseRejectsWhatIsNotInTheSubset) {
  const std::vector<std::string> rejected = {
      "",
      " ",
      "# only a comment",
      ".a.b |",
      ".[]",
      ".a[]",
      ".a?",
      ".a.b?",
      ".[0]?",
      "$x",
      "$ENV",
      "$__loc__",
      "$ctx::a",
      "$",
      "$ and",
      ".a[1:2]",
      ".a[:1]",
      ".[.a]",
      ".[\"a\" + \"b\"]",
      ".[-\"a\"]",
      ".[--1]",
      "not",
      "empty",
      "error",
      "nulls",
      "true1",
      "foo::bar",
      "@base64",
      "\"\\(.a)\"",
      "\"a\\(1)b\"",
      "\"\\a\"",
      "\"\\u12\"",
      "\"\\u12x4\"",
      "\"\\ud800\"",
      "\"\\udc00\"",
      "\"\\ud800\\u0041\"",
      "\"unterminated",
      "\"a\\",
      "\"\xFF\"",
      "\"\xC0\x80\"",
      std::string("\"a\0b\"", 5),
      std::string(".a\0", 3),
      ".a.b\r",
      "\r.a",
      "\f.a",
      ".a,.b",
      "[.a]",
      "{a: 1}",
      "{}",
      "[]",
      "(",
      ")",
      "(.a",
      ".a)",
      "((.a)",
      ".a]",
      "[",
      ".a[",
      ".a[0",
      ".[0",
      ".a.[0]",
      ".a.",
      ".a..b",
      "..",
      "..a",
      ". .",
      ".a.1",
      ".a 1",
      "1 2",
      "\"a\" \"b\"",
      ".a .b .",
      "1 == 2 == 3",
      "1 < 2 < 3",
      "1 != 2 == 3",
      ".a = 1",
      ".a == = 1",
      ".a === 1",
      ".a |= 1",
      ".a //= 1",
      ".a -= 1",
      ".a += 1",
      ".a * 2",
      ".a + 2 * 3",
      "1 * -2",
      ".a |",
      "| .a",
      ".a || .b",
      ".a | | .b",
      "(.a |)",
      "length(1)",
      "length(.)",
      "tonumber(1)",
      ".a | not",
      ".a | keys",
      ".a | tostring",
      ".a | length::x",
      "lengths",
      ".a +",
      "+ .a",
      "+1",
      "1 + + 1",
      "1 +",
      "-",
      ".a -",
      "- -",
      "1 - - ",
      ".a ++ 1",
      ".a +- ",
      ".[1 + 1]",
      ".[-.a]",
      ".a | .b |= 1",
      "1 | 2 == 3 == 4",
      ".a - 1 == 2 == 3",
      "\"a\" | $x",
      ".a / 2",
      ".a % 2",
      "!.a",
      ".a ! 1",
      ".a and",
      "or .a",
      ".a // ",
      "// .a",
      ".a and and .b",
      "if . then 1 else 2 end",
      "try .a",
      ".a as $x | $x",
      "reduce .[] as $x (0; .)",
      "def f: 1; f",
      "label $f | 1",
      "1e",
      "1.e",
      "1e+",
      "e",
      "1a",
      "1and",
      "0x10",
      "1e400",
      "-1e400",
      "1e-400",
      "infinite",
      "nan",
      "true()",
      "null(1)",
      "?//",
      ".a?//.b",
      "__loc__",
      ".a::b",
      "@json \"x\"",
      "`",
      "'a'",
      ".a;",
      ";",
      "1.5.a",
      "1..a",
      ".5.a",
      "1.2.3",
      "...",
      "..5",
      ".e3",
      ".E5",
      ".a.e3",
      ".e+1",
      ".e-1x",
      ".a # a comment ends at \r\r",
  };
  for (const std::string& s : rejected) {
    EXPECT_FALSE(NativeExpression::Parse(s).has_value()) << "accepted: " << s;
  }
  // Deep nesting goes to jq (it bounds the recursion).
  EXPECT_FALSE(NativeExpression::Parse(std::string(1000, '(') + "1" + std::string(1000, ')')));
  EXPECT_TRUE(NativeExpression::Parse(std::string(20, '(') + "1" + std::string(20, ')')));
  EXPECT_FALSE(NativeExpression::Parse(std::string(1000, '-') + "1"));
  EXPECT_TRUE(NativeExpression::Parse(std::string(20, '-') + "1"));
  // Long `and` chains are lists, not deep trees.
  std::string chain = "true";
  for (int i = 0; i < 5000; ++i) chain += " and true";
  std::optional<NativeExpression> long_chain = NativeExpression::Parse(chain);
  ASSERT_TRUE(long_chain.has_value());
  EXPECT_EQ(*long_chain->Evaluate(json(nullptr), nullptr).value, json(true));
  // So are long sums and pipes.
  std::string sum = "0";
  std::string pipe = ".";
  for (int i = 0; i < 5000; ++i) {
    sum += i % 2 == 0 ? " + 2" : " - 1";
    pipe += " | .";
  }
  std::optional<NativeExpression> long_sum = NativeExpression::Parse(sum);
  ASSERT_TRUE(long_sum.has_value());
  EXPECT_EQ(*long_sum->Evaluate(json(nullptr), nullptr).value, json(2500));
  std::optional<NativeExpression> long_pipe = NativeExpression::Parse(pipe);
  ASSERT_TRUE(long_pipe.has_value());
  EXPECT_EQ(*long_pipe->Evaluate(json(7), nullptr).value, json(7));
}

// ---- random expressions ----

// Builds random expressions of the subset from the grammar, over paths that
// exist in the rich context (and some that do not).
class GrammarGenerator {
 public:
  explicit GrammarGenerator(uint32_t seed) : rng_(seed) {}

  std::string Expression(int depth = 0) {
    switch (Pick(depth < 3 ? 13 : 4)) {
      case 0:
      case 1:
      case 2:
        return Arith(depth);
      case 3:
        return Space() + Arith(depth) + Space() + Pick({"==", "!=", "<", "<=", ">", ">="}) +
               Space() + Arith(depth);
      case 4:
        return Expression(depth + 1) + " and " + Expression(depth + 1);
      case 5:
        return Expression(depth + 1) + " or " + Expression(depth + 1);
      case 6:
      case 7:
        return Expression(depth + 1) + Space() + "//" + Space() + Expression(depth + 1);
      case 8:
        return "(" + Expression(depth + 1) + ")";
      case 9:
        return "(" + Expression(depth + 1) + ")" + Steps(2);
      case 10:
        return Expression(depth + 1) + Space() + "|" + Space() + Expression(depth + 1);
      default:
        return Expression(depth + 1) + Space() + "|" + Space() +
               Pick({"length", "tonumber", ".", "-.", ". + 1", "$ctx.n", "length - 1"});
    }
  }

  // An operand of a comparison: a sum of terms, negated or not.
  std::string Arith(int depth) {
    switch (Pick(depth < 3 ? 8 : 5)) {
      case 0:
      case 1:
      case 2:
        return Postfix(depth);
      case 3:
        return "-" + Space() + Postfix(depth);
      case 4: {
        std::string out = Postfix(depth);
        for (size_t n = 1 + Pick(3); n > 0; --n) {
          out += Space() + Pick({"+", "-"}) + Space() + (Pick(4) == 0 ? "-" : "") + Postfix(depth);
        }
        return out;
      }
      case 5:
        return Arith(depth + 1) + Space() + Pick({"+", "-"}) + Space() + Arith(depth + 1);
      case 6:
        return "(" + Expression(depth + 1) + ")" + Space() + Pick({"+", "-"}) + Space() +
               Arith(depth + 1);
      default:
        return Arith(depth + 1) + Space() + Pick({"+", "-"}) + Space() + "(" +
               Expression(depth + 1) + ")";
    }
  }

 private:
  size_t Pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }
  std::string Pick(std::initializer_list<const char*> items) {
    return *(items.begin() + static_cast<std::ptrdiff_t>(Pick(items.size())));
  }
  std::string Space() { return Pick({"", " ", " ", "  ", "\t", "\n", " # c\n"}); }

  std::string Postfix(int depth) {
    switch (Pick(depth < 3 ? 9 : 8)) {
      case 0:
        return Pick({"null", "true", "false", "0", "1", "-1", "2.5", "1e3", "-0", "5", "4.0",
                     "length", "tonumber"});
      case 1:
        return Pick({"\"\"", "\"str\"", "\"STOPPED\"", "\"a\"", "\"é\"", "\"\\u00e9\"", "\"b\"",
                     "\"12\"", "\" 1e2 \""});
      case 2:
        return "$ctx" + Steps(3);
      case 3:
        return Pick({".", ". ", ".[0]", ". [\"a\"]", ". \"s\"", ".\"a\"", "(.)"});
      default:
        return Steps(4, true);
    }
  }

  // Up to `max` steps; `leading`: the first one starts the path from `.`.
  std::string Steps(size_t max, bool leading = false) {
    std::string out;
    const size_t n = Pick(max + 1) + (leading ? 1 : 0);
    for (size_t i = 0; i < n; ++i) {
      switch (Pick(6)) {
        case 0:
        case 1:
        case 2:
          out +=
              "." + Pick({"a",     "b",       "c",          "d",          "e",        "n",
                          "s",     "arr",     "objs",       "tasks",      "nested",   "steps",
                          "legal", "comment", "if",         "z",          "t",        "f",
                          "x",     "k",       "lastStatus", "containers", "exitCode", "missing",
                          "dup",   "merge_l", "merge_r",    "long_s",     "num_s",    "uni_long"});
          break;
        case 3:
          out += (leading && i == 0 ? "." : "") +
                 Pick({"[0]", "[1]", "[-1]", "[2]", "[-5]", "[7]", "[ 0 ]", "[1.5]"});
          break;
        case 4:
          out += (leading && i == 0 ? "." : "") + Pick({"[\"a\"]", "[\"k\"]", "[\"b\"]"});
          break;
        default:
          out += Pick({".\"a\"", ".\"a b\"", ". \"s\"", ".\"é\""});
          break;
      }
    }
    if (out.empty()) return leading ? "." : "";
    return out;
  }

  std::mt19937 rng_;
};

TEST(NativeExpressionTest, RandomExpressionsMatchJq) {
  GrammarGenerator gen(20240611);
  std::vector<std::string> sources;
  for (int i = 0; i < 3000; ++i) sources.push_back(gen.Expression());
  const std::vector<json> all = Contexts();
  EXPECT_GT(ExpectSameAsJq(sources, {all[0], all[3], all[6], all[8]}), 10000);
}

// Random token sequences, mostly not valid jq: whatever Parse accepts must
// compile in jq and evaluate alike.
TEST(NativeExpressionTest, RandomTokenSoupMatchesJq) {
  static const char* const kTokens[] = {
      ".",   ".a",     ".b",       ".if", ".and", "$ctx", "$",     "ctx",         "1",
      "-",   "0",      "1.5",      ".5",  "1.",   "e3",   "\"a\"", "\"\\u00e9\"", "\"\\(1)\"",
      "(",   ")",      "[",        "]",   "==",   "!=",   "<",     "<=",          ">",
      ">=",  "=",      "//",       "/",   "and",  "or",   "true",  "false",       "null",
      "not", "|",      "?",        ",",   " ",    " ",    " ",     "\n",          "#c\n",
      "\t",  ":",      "..",       "+",   "{",    "}",    "\r",    "e",           "\"",
      "|",   "length", "tonumber", "+=",  "|=",   "-",    "+",     "*",
  };
  std::mt19937 rng(7);
  std::vector<std::string> accepted;
  int tried = 0;
  while (accepted.size() < 2000 && tried < 2000000) {
    ++tried;
    std::string s;
    const size_t n = 1 + rng() % 7;
    for (size_t i = 0; i < n; ++i) s += kTokens[rng() % std::size(kTokens)];
    if (NativeExpression::Parse(s)) accepted.push_back(s);
  }
  ASSERT_EQ(accepted.size(), 2000u) << "tried " << tried;
  const std::vector<json> all = Contexts();
  EXPECT_GT(ExpectSameAsJq(accepted, {all[0], all[4], all[8]}), 5000);
}

// ---- the set ----

TEST(NativeExpressionTest, NativeOnlySetsNeverCompileJq) {
  ExpressionSet set;
  set.Add(".input.orderId");
  set.Add(".tasks[0].lastStatus == \"STOPPED\"");
  set.Add(".comment // \"none\"");
  set.Add(".steps.one.n + 1");
  set.Add(".input.images | length");
  set.Add("(.params.limit | tonumber)");
  ASSERT_THAT(set.Compile(), IsEmpty());
  EXPECT_EQ(set.jq_compile_count(), 0);
  EXPECT_EQ(*set.Evaluate(0, json{{"input", {{"orderId", "o-1"}}}}), "o-1");
  EXPECT_EQ(*set.Evaluate(2, json::object()), "none");
  Result<json> failed = set.Evaluate(1, json{{"tasks", 3}});
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, kExpressionErrorCode);
  EXPECT_EQ(failed.error().message, "Cannot index number with number");
  EXPECT_EQ(failed.error().context, "evaluating `.tasks[0].lastStatus == \"STOPPED\"`");
  EXPECT_EQ(*set.Evaluate(3, json{{"steps", {{"one", {{"n", 41}}}}}}), 42);
  EXPECT_EQ(*set.Evaluate(4, json{{"input", {{"images", {"a", "b"}}}}}), 2);
  EXPECT_EQ(*set.Evaluate(5, json{{"params", {{"limit", "25"}}}}), 25);
  EXPECT_EQ(set.Evaluate(3, json{{"steps", {{"one", {{"n", "x"}}}}}}).error().message,
            "string (\"x\") and number (1) cannot be added");
  EXPECT_EQ(set.Evaluate(5, json{{"params", {{"limit", "lots"}}}}).error().message,
            "Invalid numeric literal at EOF at line 1, column 4 (while parsing 'lots')");
}

TEST(NativeExpressionTest, TemplatesMixNativeAndJqParts) {
  auto build = [](ExpressionSet& set, std::vector<TemplateProgram>& programs) {
    for (std::string_view text :
         {"id=${ .input.id }, n=${ .input.n | . * 2 }, none=${ .input.x }, obj=${ .input.obj }",
          "${ .input.id } and ${ .input.id.x }", "${ .input.n | tostring } ${ .input.id.x }",
          "${ .input.obj }", "plain"}) {
      Result<Template> t = ParseTemplate(text);
      EXPECT_TRUE(t.ok()) << text;
      programs.push_back(set.AddTemplate(std::move(t).value()));
    }
    EXPECT_THAT(set.Compile(), IsEmpty());
  };
  ExpressionSet native;
  ExpressionSet jq(ExpressionSet::Options{.native = false});
  std::vector<TemplateProgram> native_programs, jq_programs;
  build(native, native_programs);
  build(jq, jq_programs);
  EXPECT_EQ(native.jq_compile_count(), 1);
  const json context = {{"input", {{"id", "x-1"}, {"obj", {{"k", "é"}}}, {"n", 2.5}}}};
  for (size_t i = 0; i < native_programs.size(); ++i) {
    EXPECT_EQ(Describe(native.Render(native_programs[i], context)),
              Describe(jq.Render(jq_programs[i], context)))
        << i;
  }
  EXPECT_EQ(*native.Render(native_programs[0], context),
            "id=x-1, n=5, none=null, obj={\"k\":\"é\"}");
}

json Nested(int depth) {
  json v = 1;
  for (int i = 0; i < depth; ++i) v = json::array({std::move(v)});
  return v;
}

// The intended differences: inputs are read only where the expression goes.
TEST(NativeExpressionTest, InputsAreReadOnlyWhereTheExpressionGoes) {
  ExpressionSet native;
  ExpressionSet jq(ExpressionSet::Options{.native = false});
  for (ExpressionSet* set : {&native, &jq}) {
    set->Add(".ok");
    set->Add(".deep");
    set->Add(".deep == 1");
    set->Add("$ctx.deep");
    set->Add(".big");
    ASSERT_THAT(set->Compile(), IsEmpty());
  }
  const json context = {{"ok", 1}, {"deep", Nested(kMaxValueDepth + 5)}, {"big", 9007199254740993}};
  // Not reached: native succeeds where jq rejects the whole context.
  EXPECT_EQ(*native.Evaluate(0, context), 1);
  EXPECT_THAT(Describe(jq.Evaluate(0, context)), HasSubstr("context: value nested deeper"));
  // Reached: the same error.
  for (int i : {1, 2, 3}) {
    EXPECT_EQ(Describe(native.Evaluate(i, context)), Describe(jq.Evaluate(i, context))) << i;
  }
  const json dot = {{"ok", 1}};
  EXPECT_EQ(Describe(native.Evaluate(3, dot, context)), Describe(jq.Evaluate(3, dot, context)));
  EXPECT_THAT(Describe(native.Evaluate(3, dot, context)), HasSubstr("$ctx: value nested deeper"));
  // A deep value that stays within the limit is fine both ways.
  const json shallow = {{"deep", Nested(kMaxValueDepth - 2)}};
  EXPECT_EQ(Describe(native.Evaluate(1, shallow)), Describe(jq.Evaluate(1, shallow)));
  // Integers beyond 2^53 come back exact natively (jq rounds them).
  EXPECT_EQ(*native.Evaluate(4, json{{"big", 9007199254740993}}), 9007199254740993);
  EXPECT_EQ(*jq.Evaluate(4, json{{"big", 9007199254740993}}), 9007199254740992);
  // In a template of several parts the error does not quote the expression,
  // as on the jq path.
  Result<Template> t = ParseTemplate("ok=${ .ok } deep=${ .deep }");
  ASSERT_TRUE(t.ok());
  ExpressionSet native_t;
  ExpressionSet jq_t(ExpressionSet::Options{.native = false});
  const TemplateProgram native_p = native_t.AddTemplate(*t);
  const TemplateProgram jq_p = jq_t.AddTemplate(*t);
  ASSERT_THAT(native_t.Compile(), IsEmpty());
  ASSERT_THAT(jq_t.Compile(), IsEmpty());
  EXPECT_EQ(Describe(native_t.Render(native_p, context)), Describe(jq_t.Render(jq_p, context)));
  EXPECT_EQ(native_t.Render(native_p, context).error().context, "");
  // Binary values fail only when reached.
  const json binary = {{"ok", 1}, {"deep", json::binary({1, 2})}};
  EXPECT_EQ(*native.Evaluate(0, binary), 1);
  EXPECT_EQ(Describe(native.Evaluate(1, binary)), Describe(jq.Evaluate(1, binary)));
}

TEST(NativeExpressionTest, ConcurrentEvaluations) {
  ExpressionSet set;
  set.Add(".input.n");
  set.Add(".input.n >= 3 and .input.s == \"x\"");
  ASSERT_THAT(set.Compile(), IsEmpty());
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        const json context = {{"input", {{"n", t}, {"s", "x"}}}};
        if (*set.Evaluate(0, context) != t || *set.Evaluate(1, context) != (t >= 3)) ++failures;
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST(NativeExpressionTest, Utf8RepairIsJqs) {
  EXPECT_EQ(ReplaceInvalidUtf8("abc"), std::nullopt);
  EXPECT_EQ(ReplaceInvalidUtf8("a\xFF"
                               "b"),
            "a\xEF\xBF\xBD"
            "b");
  // A sequence cut short by the end of the string is one bad character.
  EXPECT_EQ(ReplaceInvalidUtf8("x\xE2\x82"), "x\xEF\xBF\xBD");
  // Overlong and surrogate encodings are one bad character each.
  EXPECT_EQ(ReplaceInvalidUtf8("\xE0\x80\x80"), "\xEF\xBF\xBD");
  EXPECT_EQ(ReplaceInvalidUtf8("\xED\xA0\x80"), "\xEF\xBF\xBD");
  EXPECT_EQ(NumberFromJq(2.0), json(2));
  EXPECT_TRUE(NumberFromJq(-0.0).is_number_float());
  EXPECT_TRUE(NumberFromJq(NAN).is_null());
}

// ---- StepReads: which step results an expression can read ----------------

// StepReads of `source` as text: "*" for any step, else the names joined
// with ",".
std::string ReadsText(std::string_view source) {
  std::optional<NativeExpression> e = NativeExpression::Parse(source);
  if (!e) return "not native";
  std::optional<std::vector<std::string>> reads = e->StepReads();
  if (!reads) return "*";
  std::string text;
  for (const std::string& name : *reads) text += (text.empty() ? "" : ",") + name;
  return text;
}

struct ReadsCase {
  const char* source;
  const char* reads;
};

const ReadsCase kReadsCases[] = {
    // Paths from the context.
    {".steps.a", "a"},
    {".steps.a.b[0].c", "a"},
    {"$ctx.steps.b", "b"},
    {"$ctx.steps.b.x[-1]", "b"},
    {".steps[\"a b\"]", "a b"},
    {".\"steps\".\"c\"", "c"},
    {".[\"steps\"][\"d\"].e", "d"},
    {".input.x", ""},
    {".params.p", ""},
    {"$ctx.execution.name", ""},
    {".stepsx.a", ""},
    // The whole context, or all of .steps.
    {".", "*"},
    {"$ctx", "*"},
    {".steps", "*"},
    {"$ctx.steps", "*"},
    {".steps[0]", "*"},
    {"$ctx.steps[1]", "*"},
    {".[0]", "*"},
    {"(.steps).a", "*"},
    {"($ctx.steps).a", "*"},
    {"(. // null).steps.k", "*"},
    {".steps + null", "*"},
    {"$ctx + null", "*"},
    {"-.", "*"},
    // Literals, length and tonumber read no step.
    {"1", ""},
    {"\"text\"", ""},
    {"null", ""},
    {"true and false", ""},
    {"length", ""},
    {"tonumber", ""},
    {"length > 3", ""},
    // Pipes: on the right, `.` is the left side's value; $ctx is still the
    // context.
    {".steps.a | .b", "a"},
    {".steps.a | .steps.b", "a"},
    {".steps.a | .", "a"},
    {".steps.a | length", "a"},
    {".input | .steps.x", ""},
    {".input | .", ""},
    {".input | $ctx.steps.x", "x"},
    {".input | $ctx.steps.x | $ctx.steps.y.z", "x,y"},
    {".steps.a | $ctx", "*"},
    {".input | $ctx.steps", "*"},
    {". | .steps.a", "*"},
    {"$ctx | .steps.a", "*"},
    {".steps.a | (.b | $ctx.steps.c)", "a,c"},
    {".input | (.steps.q // $ctx.steps.r)", "r"},
    {"(.input | .x) + .steps.y", "y"},
    {"(.steps.a | .b).c", "a"},
    // Groups.
    {"(.steps.a)", "a"},
    {"(.steps.a).b", "a"},
    {"(.).steps.k", "k"},
    {"((.steps.a))", "a"},
    // `//`, comparisons, and, or, arithmetic, negation.
    {".steps.a // .steps.b", "a,b"},
    {".steps.a.x // \"none\"", "a"},
    {".steps.a.n == 1 and .steps.b.s != \"x\"", "a,b"},
    {".steps.a < $ctx.steps.b or .input.f", "a,b"},
    {"-.steps.n.v", "n"},
    {".steps.a + .steps.b - 1", "a,b"},
    {".steps.b + .steps.a + .steps.b", "a,b"},
    {".steps.a.count >= .params.max", "a"},
};

TEST(NativeExpressionTest, StepReadsFollowTheRules) {
  for (const ReadsCase& c : kReadsCases) {
    EXPECT_EQ(ReadsText(c.source), c.reads) << c.source;
  }
}

// What StepReads leaves out cannot change the value: each expression with a
// list of names gives the same value (or error) when every other step's
// result is taken out of the context, on contexts where .steps holds
// objects, a missing step and a non-object.
TEST(NativeExpressionTest, StepsNotListedDoNotChangeTheValue) {
  const json step_values = json::parse(R"({
    "a": {"b": [{"c": 1}], "n": 3, "x": "ax", "count": 4, "s": "y"},
    "b": {"s": "x", "n": 2},
    "c": 5, "d": {"e": [1, 2]}, "k": "kv", "n": {"v": 7}, "q": null,
    "r": "rv", "x": [1], "y": {"z": true}, "a b": 1
  })");
  const json inputs[] = {json::object(), json{{"x", 1}, {"steps", {{"x", 9}}}}, json{{"f", true}}};
  int checked = 0;
  for (const ReadsCase& c : kReadsCases) {
    std::optional<NativeExpression> e = NativeExpression::Parse(c.source);
    ASSERT_TRUE(e) << c.source;
    std::optional<std::vector<std::string>> reads = e->StepReads();
    if (!reads) continue;
    for (const json& input : inputs) {
      json full = {{"input", input}, {"params", {{"p", 1}, {"max", 3}}}, {"steps", step_values}};
      json trimmed = full;
      for (const auto& [name, value] : step_values.items()) {
        if (std::find(reads->begin(), reads->end(), name) == reads->end()) {
          trimmed["steps"].erase(name);
        }
      }
      NativeExpression::Outcome a = e->Evaluate(full, nullptr);
      NativeExpression::Outcome b = e->Evaluate(trimmed, nullptr);
      EXPECT_EQ(a.value, b.value) << c.source;
      EXPECT_EQ(a.error.message, b.error.message) << c.source;
      ++checked;
    }
  }
  EXPECT_GT(checked, 100);
}

}  // namespace
}  // namespace cairn::expr
