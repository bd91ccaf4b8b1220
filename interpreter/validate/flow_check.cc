// CRN030–CRN033: `next`/catch targets, unreachable steps, paths that never end.
// All control flow comes from definition/flow.h (through FlowAnalysis).
#include <algorithm>

#include "core/strings.h"
#include "validate/checks.h"

namespace cairn::validate {
namespace {

// "the top-level steps", "branch `b` of step `p`", "the steps of step `m`".
std::string DescribeScope(const FlowAnalysis& flow, int scope) {
  const int owner = flow.ScopeOwner(scope);
  if (owner < 0) return "the workflow's top-level steps";
  const Step& s = flow.step(owner);
  const auto* steps = flow.scopes()[scope].steps;
  for (const Branch& b : s.branches) {
    if (&b.steps == steps) return "branch " + Quote(b.name) + " of " + StepLabel(s);
  }
  for (size_t i = 0; i < s.cases.size(); ++i) {
    if (&s.cases[i].steps == steps) return "case " + std::to_string(i + 1) + " of " + StepLabel(s);
  }
  if (s.kind == StepKind::kMap) return "the per-item steps of " + StepLabel(s);
  return "the steps of " + StepLabel(s);
}

std::string EdgeWords(const FlowEdge& e) {
  if (e.kind == EdgeKind::kCatch) return "catch target " + Quote(e.target);
  return Quote("next: " + e.target);
}

// True when `id` is inside a nested scope of some step of `scope`.
bool NestedIn(const FlowAnalysis& flow, int id, int scope) {
  for (int o = flow.facts(id).owner; o >= 0; o = flow.facts(o).owner) {
    if (flow.facts(o).scope == scope) return true;
  }
  return false;
}

void CheckTargets(const CheckContext& ctx, int scope, bool* guessable) {
  const FlowAnalysis& flow = ctx.flow;
  const ScopeFlow& sf = flow.flow(scope);
  for (size_t i = 0; i < sf.out.size(); ++i) {
    for (size_t k = 0; k < sf.out[i].size(); ++k) {
      const FlowEdge& e = sf.out[i][k];
      if (e.to != kUnresolved || e.target.empty()) continue;
      if (flow.Targets(scope, static_cast<int>(i))[k] == kUnresolved) *guessable = false;
      const int elsewhere = flow.Find(e.target);
      if (elsewhere >= 0) {
        const int there = flow.facts(elsewhere).scope;
        const std::string move = NestedIn(flow, elsewhere, scope)
                                     ? " jumps into " + DescribeScope(flow, there)
                                     : " jumps out of " + DescribeScope(flow, scope);
        ctx.Error("CRN031", e.path, EdgeWords(e) + move,
                  "`next` and catch targets must be steps of the same list; a branch, map, group "
                  "or case is left by reaching its end (or with `succeed`/`fail`), and the steps "
                  "after its step then run");
        continue;
      }
      std::vector<std::string> names = flow.ScopeNames(scope);
      std::string hint = DidYouMean(e.target, names);
      if (hint.empty()) {
        hint = "the steps here are " + JoinAnd(names) + "; `next: end` finishes the execution";
      }
      ctx.Error("CRN030", e.path, EdgeWords(e) + " names no step", hint);
    }
  }
}

// Marks in `seen` the steps reachable from `from` (included) that are not
// marked yet and satisfy `keep`; returns them in the order found.
template <typename Keep>
std::vector<int> Explore(const FlowAnalysis& flow, int scope, int from, std::vector<bool>* seen,
                         Keep keep) {
  std::vector<int> found{from};
  (*seen)[from] = true;
  for (size_t n = 0; n < found.size(); ++n) {
    for (int to : flow.Targets(scope, found[n])) {
      if (to >= 0 && !(*seen)[to] && keep(to)) {
        (*seen)[to] = true;
        found.push_back(to);
      }
    }
  }
  return found;
}

// Why control does not fall from steps[i-1] into steps[i].
std::string WhyNotAfterPrevious(const std::vector<Step>& steps, int i) {
  if (i == 0) return {};
  const Step& prev = steps[i - 1];
  const std::string label = StepLabel(prev);
  if (prev.kind == StepKind::kFail) return "the step before it, " + label + ", fails";
  if (prev.kind == StepKind::kSucceed) return "the step before it, " + label + ", succeeds";
  if (prev.next && *prev.next == "end") {
    return "the step before it, " + label + ", ends with `next: end`";
  }
  if (prev.next) return "the step before it, " + label + ", continues at " + Quote(*prev.next);
  return {};
}

void CheckUnreachable(const CheckContext& ctx, int scope) {
  const FlowAnalysis& flow = ctx.flow;
  const auto& steps = *flow.scopes()[scope].steps;
  auto reachable = [&](int i) { return flow.facts(flow.IdOf(steps[i])).reachable; };
  std::vector<bool> covered(steps.size(), false);
  for (size_t i = 0; i < steps.size(); ++i) {
    if (reachable(static_cast<int>(i)) || covered[i]) continue;
    // The unreachable steps reached only through this one are named, not reported.
    std::vector<int> run =
        Explore(flow, scope, static_cast<int>(i), &covered, [&](int j) { return !reachable(j); });
    std::vector<std::string> also;
    for (size_t n = 1; n < run.size(); ++n) {
      if (!steps[run[n]].name.empty()) also.push_back(steps[run[n]].name);
    }
    std::string message =
        StepLabel(steps[i]) + " can never run: no path from the start of " +
        (flow.ScopeOwner(scope) < 0 ? "the workflow" : DescribeScope(flow, scope)) + " leads to it";
    if (!also.empty()) message += " (nor to " + JoinAnd(also) + ", reached only through it)";
    std::string why = WhyNotAfterPrevious(steps, static_cast<int>(i));
    std::string hint = (why.empty() ? std::string() : why + "; ") +
                       "remove the step, or lead to it with a `next:`, a catch or a switch case";
    ctx.Error("CRN032", steps[i].path, std::move(message), std::move(hint));
  }
}

// Strongly connected components of the steps marked in `in` (Tarjan,
// iterative): component[i] for each marked step, -1 otherwise.
std::vector<int> Components(const FlowAnalysis& flow, int scope, const std::vector<bool>& in,
                            std::vector<bool>* cyclic) {
  const size_t n = in.size();
  std::vector<int> component(n, -1), index(n, -1), low(n, 0);
  std::vector<bool> on_stack(n, false);
  std::vector<int> stack;
  int next_index = 0;
  int count = 0;
  struct Frame {
    int v;
    size_t edge;
  };
  for (size_t root = 0; root < n; ++root) {
    if (!in[root] || index[root] >= 0) continue;
    std::vector<Frame> call{{static_cast<int>(root), 0}};
    index[root] = low[root] = next_index++;
    stack.push_back(static_cast<int>(root));
    on_stack[root] = true;
    while (!call.empty()) {
      Frame& f = call.back();
      const auto& targets = flow.Targets(scope, f.v);
      if (f.edge < targets.size()) {
        const int w = targets[f.edge++];
        if (w < 0 || !in[w]) continue;
        if (index[w] < 0) {
          index[w] = low[w] = next_index++;
          stack.push_back(w);
          on_stack[w] = true;
          call.push_back({w, 0});
        } else if (on_stack[w]) {
          low[f.v] = std::min(low[f.v], index[w]);
        }
        continue;
      }
      const int v = f.v;
      call.pop_back();
      if (!call.empty()) low[call.back().v] = std::min(low[call.back().v], low[v]);
      if (low[v] != index[v]) continue;
      size_t size = 0;
      bool self_loop = false;
      for (int t : flow.Targets(scope, v)) self_loop |= t == v;
      int w = -1;
      do {
        w = stack.back();
        stack.pop_back();
        on_stack[w] = false;
        component[w] = count;
        ++size;
      } while (w != v);
      cyclic->push_back(size > 1 || self_loop);
      ++count;
    }
  }
  return component;
}

void CheckTermination(const CheckContext& ctx, int scope) {
  const FlowAnalysis& flow = ctx.flow;
  const auto& steps = *flow.scopes()[scope].steps;
  const size_t n = steps.size();
  // can_end[i]: some path from steps[i] reaches the end of the scope or a
  // `fail` (an unresolved target counts as an end: CRN030 reports it).
  std::vector<std::vector<int>> predecessors(n);
  std::vector<int> ends;
  for (size_t i = 0; i < n; ++i) {
    bool ends_here = false;
    for (int to : flow.Targets(scope, static_cast<int>(i))) {
      if (to < 0) {
        ends_here = true;
      } else {
        predecessors[to].push_back(static_cast<int>(i));
      }
    }
    if (ends_here) ends.push_back(static_cast<int>(i));
  }
  std::vector<bool> can_end(n, false);
  for (int e : ends) can_end[e] = true;
  for (size_t k = 0; k < ends.size(); ++k) {
    for (int p : predecessors[ends[k]]) {
      if (!can_end[p]) {
        can_end[p] = true;
        ends.push_back(p);
      }
    }
  }
  std::vector<bool> stuck(n, false);  // reachable, and no path ends
  bool any = false;
  for (size_t i = 0; i < n; ++i) {
    stuck[i] = !can_end[i] && flow.facts(flow.IdOf(steps[i])).reachable;
    any |= stuck[i];
  }
  if (!any) return;
  // Each loop is reported once, at its first step in the file, naming the
  // steps that loop (not the steps that only lead into it).
  std::vector<bool> cyclic;
  const std::vector<int> component = Components(flow, scope, stuck, &cyclic);
  std::vector<bool> reported(cyclic.size(), false);
  for (size_t i = 0; i < n; ++i) {
    if (!stuck[i] || !cyclic[component[i]] || reported[component[i]]) continue;
    reported[component[i]] = true;
    std::vector<std::string> members;
    for (size_t j = 0; j < n; ++j) {
      if (component[j] == component[i] && !steps[j].name.empty()) members.push_back(steps[j].name);
    }
    std::string message =
        members.size() <= 1
            ? StepLabel(steps[i]) + " loops back to itself forever: no path leads out"
            : "steps " + JoinAnd(members) + " loop forever: no path leads out of them";
    ctx.Error("CRN033", steps[i].path, std::move(message),
              "give the loop an exit: a switch case that goes past it (or `next: end`), a "
              "`fail:`, or a catch that leads out");
  }
}

}  // namespace

void CheckFlow(const CheckContext& ctx) {
  const FlowAnalysis& flow = ctx.flow;
  for (size_t s = 0; s < flow.scopes().size(); ++s) {
    const int scope = static_cast<int>(s);
    bool guessable = true;
    CheckTargets(ctx, scope, &guessable);
    const int owner = flow.ScopeOwner(scope);
    if (owner >= 0 && !flow.facts(owner).reachable) continue;  // reported at the owner
    // A target that cannot be guessed may have been meant for any step:
    // calling the others unreachable would only repeat CRN030/CRN031.
    if (guessable) CheckUnreachable(ctx, scope);
    CheckTermination(ctx, scope);
  }
}

}  // namespace cairn::validate
