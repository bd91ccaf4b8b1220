#include "definition/flow.h"

#include <unordered_map>

namespace cairn {

ScopeFlow BuildScopeFlow(const std::vector<Step>& steps) {
  ScopeFlow flow;
  flow.steps = &steps;
  flow.out.resize(steps.size());
  std::unordered_map<std::string, int> index;
  for (size_t i = 0; i < steps.size(); ++i) {
    if (!steps[i].name.empty()) index.emplace(steps[i].name, static_cast<int>(i));
  }
  auto resolve = [&](const std::string& name) {
    if (name == "end") return kScopeEnd;
    auto it = index.find(name);
    return it == index.end() ? kUnresolved : it->second;
  };
  for (size_t i = 0; i < steps.size(); ++i) {
    const Step& s = steps[i];
    auto& out = flow.out[i];
    // Where normal completion leads.
    FlowEdge normal;
    if (s.next) {
      normal.to = resolve(*s.next);
      normal.target = *s.next;
      normal.path = PointerAppend(s.path, "next");
    } else {
      normal.to = i + 1 < steps.size() ? static_cast<int>(i + 1) : kScopeEnd;
    }
    switch (s.kind) {
      case StepKind::kFail:
        out.push_back({kScopeFail, EdgeKind::kNext, "", PointerAppend(s.path, "fail")});
        // With `if:`, a false condition skips the step: control goes on.
        if (!s.condition.is_null()) out.push_back(normal);
        break;
      case StepKind::kSucceed:
        out.push_back({kScopeEnd, EdgeKind::kNext, "", PointerAppend(s.path, "succeed")});
        if (!s.condition.is_null()) out.push_back(normal);
        break;
      case StepKind::kSwitch:
        for (const auto& c : s.cases) {
          if (c.next) {
            out.push_back({resolve(*c.next), EdgeKind::kCase, *c.next, PointerAppend(c.path, "next")});
          } else if (c.fail) {
            out.push_back({kScopeFail, EdgeKind::kCase, "", c.fail->path});
          } else if (c.has_succeed) {
            out.push_back({kScopeEnd, EdgeKind::kCase, "", PointerAppend(c.path, "succeed")});
          } else {
            FlowEdge e = normal;
            e.kind = EdgeKind::kCase;
            out.push_back(e);
          }
        }
        normal.kind = EdgeKind::kDefault;
        out.push_back(normal);
        break;
      default:
        out.push_back(normal);
        break;
    }
    for (const auto& c : s.catches) {
      out.push_back({resolve(c.next), EdgeKind::kCatch, c.next, PointerAppend(c.path, "next")});
    }
  }
  return flow;
}

std::vector<Scope> AllScopes(const WorkflowDefinition& def) {
  std::vector<Scope> scopes{{&def.steps, nullptr}};
  ForEachStep(def.steps, [&](const Step& s, const std::vector<const Step*>&) {
    for (const auto* list : ChildStepLists(s)) scopes.push_back({list, &s});
  });
  return scopes;
}

}  // namespace cairn
