// Prints what compiling expressions costs: one jq_compile per expression
// versus one combined jq_compile for a whole set, and what an evaluation
// costs, through jq and natively (native_expression.h). Times are CPU time of this thread, so a
// busy machine does not skew them. Usage: expr_compile_cost [repetitions]
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "expr/expression_set.h"

namespace {

double CpuMilliseconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
}

// Expressions of the kind workflows hold.
std::string Expression(int i) {
  switch (i % 5) {
    case 0:
      return ".input.order.id";
    case 1:
      return ".steps.s" + std::to_string(i) + ".result.items | map(.price) | add";
    case 2:
      return "{id: .input.id, n: " + std::to_string(i) + ", at: .execution.startedAt}";
    case 3:
      return "if .attempt > " + std::to_string(i % 3) + " then \"slow\" else \"fast\" end";
    default:
      return "\"task-\\(.input.id)-\\(.index // 0)\"";
  }
}

// All through jq, which is what these figures measure.
constexpr cairn::expr::ExpressionSet::Options kJqOnly{.native = false};

// Milliseconds to build and compile a set of `n` expressions.
double CompileSet(int n, int first = 0) {
  const double start = CpuMilliseconds();
  cairn::expr::ExpressionSet set(kJqOnly);
  for (int i = 0; i < n; ++i) set.Add(Expression(first + i));
  if (!set.Compile().empty()) std::abort();
  return CpuMilliseconds() - start;
}

}  // namespace

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::atoi(argv[1]) : 10;

  double one = 0;
  for (int r = 0; r < reps; ++r) one += CompileSet(1);
  one /= reps;

  const double separate_start = CpuMilliseconds();
  for (int i = 0; i < 50; ++i) CompileSet(1, i);
  const double separate = CpuMilliseconds() - separate_start;

  double combined50 = 0;
  for (int r = 0; r < reps; ++r) combined50 += CompileSet(50);
  combined50 /= reps;

  double combined200 = 0;
  for (int r = 0; r < reps; ++r) combined200 += CompileSet(200);
  combined200 /= reps;

  const double combined1000 = CompileSet(1000);

  const double broken_start = CpuMilliseconds();
  cairn::expr::ExpressionSet broken(kJqOnly);
  for (int i = 0; i < 50; ++i) broken.Add(i % 10 == 0 ? ".a | | .b" : Expression(i));
  const size_t issues = broken.Compile().size();
  const double broken_ms = CpuMilliseconds() - broken_start;

  cairn::expr::ExpressionSet set(kJqOnly);
  for (int i = 0; i < 50; ++i) set.Add(Expression(i));
  if (!set.Compile().empty()) std::abort();
  const nlohmann::json context = {{"input", {{"id", "o-1"}, {"order", {{"id", 7}}}}},
                                  {"execution", {{"startedAt", "2025-01-01T00:00:00Z"}}},
                                  {"attempt", 1},
                                  {"steps", nlohmann::json::object()}};
  const int evaluations = 20000;
  const double eval_start = CpuMilliseconds();
  for (int k = 0; k < evaluations; ++k) {
    if (!set.Evaluate(k % 5 == 1 ? 0 : k % 50, context).ok()) std::abort();
  }
  const double per_eval_us = (CpuMilliseconds() - eval_start) * 1000 / evaluations;

  // A path and a comparison, natively and through jq.
  auto per_eval = [&](const cairn::expr::ExpressionSet::Options& options) {
    cairn::expr::ExpressionSet paths(options);
    paths.Add(".input.order.id");
    paths.Add(".execution.startedAt != null and .attempt >= 1");
    if (!paths.Compile().empty()) std::abort();
    const double begin = CpuMilliseconds();
    for (int k = 0; k < evaluations; ++k) {
      if (!paths.Evaluate(k % 2, context).ok()) std::abort();
    }
    return std::pair((CpuMilliseconds() - begin) * 1000 / evaluations, paths.jq_compile_count());
  };
  const auto [native_us, native_compiles] = per_eval({});
  const auto [jq_us, jq_compiles] = per_eval(kJqOnly);

  std::printf("one expression, one jq_compile:        %8.2f ms\n", one);
  std::printf("50 expressions, 50 jq_compiles:        %8.2f ms\n", separate);
  std::printf("50 expressions, one combined compile:  %8.2f ms\n", combined50);
  std::printf("200 expressions, one combined compile: %8.2f ms\n", combined200);
  std::printf("1000 expressions, one combined compile:%8.2f ms\n", combined1000);
  std::printf("50 expressions, 5 syntax errors:       %8.2f ms (%zu issues, %d jq_compiles)\n",
              broken_ms, issues, broken.jq_compile_count());
  std::printf("evaluate (small context):              %8.2f us\n", per_eval_us);
  std::printf("path/comparison, native:               %8.2f us (%d jq_compiles)\n", native_us,
              native_compiles);
  std::printf("path/comparison, through jq:           %8.2f us (%d jq_compiles)\n", jq_us,
              jq_compiles);
  return 0;
}
