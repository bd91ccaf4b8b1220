#include "validate/flow_analysis.h"

#include <deque>

#include "core/strings.h"

namespace cairn::validate {

StepSet::StepSet(size_t size, bool full) : words_((size + 63) / 64, full ? ~uint64_t{0} : 0) {}

bool StepSet::IntersectWith(const StepSet& other) {
  bool changed = false;
  for (size_t i = 0; i < words_.size(); ++i) {
    uint64_t w = words_[i] & other.words_[i];
    changed |= w != words_[i];
    words_[i] = w;
  }
  return changed;
}

FlowAnalysis::FlowAnalysis(const WorkflowDefinition& def) : def_(def) {
  ForEachStep(def.steps, [&](const Step& s, const std::vector<const Step*>&) {
    int id = static_cast<int>(facts_.size());
    ids_.emplace(&s, id);
    StepFacts f;
    f.step = &s;
    facts_.push_back(std::move(f));
    if (!s.name.empty() && by_name_.emplace(s.name, id).second) names_.push_back(s.name);
  });
  for (auto& f : facts_) f.definitely_run = StepSet(facts_.size(), true);
  at_end_ = StepSet(facts_.size(), true);

  scopes_ = AllScopes(def);
  flows_.reserve(scopes_.size());
  for (size_t s = 0; s < scopes_.size(); ++s) {
    flows_.push_back(BuildScopeFlow(*scopes_[s].steps));
    ResolveTargets(static_cast<int>(s));
    int owner = scopes_[s].owner == nullptr ? -1 : IdOf(*scopes_[s].owner);
    scope_owner_.push_back(owner);
    const auto& steps = *scopes_[s].steps;
    for (size_t i = 0; i < steps.size(); ++i) {
      StepFacts& f = facts_[IdOf(steps[i])];
      f.scope = static_cast<int>(s);
      f.index = static_cast<int>(i);
      f.owner = owner;
      f.in_map_body =
          owner >= 0 && (facts_[owner].step->kind == StepKind::kMap || facts_[owner].in_map_body);
    }
  }
  // AllScopes lists a scope after the scope of its owner, so the owner's
  // facts are final when its nested scopes are analyzed.
  for (size_t s = 0; s < scopes_.size(); ++s) AnalyzeScope(static_cast<int>(s));
}

int FlowAnalysis::IdOf(const Step& step) const {
  auto it = ids_.find(&step);
  return it == ids_.end() ? -1 : it->second;
}

int FlowAnalysis::Find(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? -1 : it->second;
}

std::vector<std::string> FlowAnalysis::ScopeNames(int scope) const {
  std::vector<std::string> names;
  for (const Step& s : *scopes_[scope].steps) {
    if (!s.name.empty()) names.push_back(s.name);
  }
  return names;
}

void FlowAnalysis::ResolveTargets(int scope) {
  const auto& steps = *scopes_[scope].steps;
  std::vector<std::string> names;
  std::unordered_map<std::string_view, int> index;
  for (size_t i = 0; i < steps.size(); ++i) {
    if (steps[i].name.empty()) continue;
    names.push_back(steps[i].name);
    index.emplace(steps[i].name, static_cast<int>(i));
  }
  auto& targets = targets_.emplace_back();
  for (const auto& edges : flows_[scope].out) {
    auto& out = targets.emplace_back();
    for (const FlowEdge& e : edges) {
      int to = e.to;
      if (to == kUnresolved && !e.target.empty()) {
        auto it = index.find(ClosestMatch(e.target, names));
        if (it != index.end()) to = it->second;
      }
      out.push_back(to);
    }
  }
}

bool FlowAnalysis::EndsWithOwnOutput(const FlowEdge& edge) const {
  constexpr std::string_view kSucceed = "/succeed";
  const std::string& p = edge.path;
  if (p.size() < kSucceed.size() ||
      p.compare(p.size() - kSucceed.size(), kSucceed.size(), kSucceed) != 0) {
    return false;
  }
  const auto& root = def_.document.root();
  nlohmann::json::json_pointer pointer(p);
  return root.contains(pointer) && !root.at(pointer).is_null();
}

bool FlowAnalysis::Encloses(int ancestor, int id) const {
  for (int o = facts_[id].owner; o >= 0; o = facts_[o].owner) {
    if (o == ancestor) return true;
  }
  return false;
}

void FlowAnalysis::AnalyzeScope(int scope) {
  const auto& steps = *scopes_[scope].steps;
  if (steps.empty()) return;
  const int owner = scope_owner_[scope];
  const bool owner_reachable = owner < 0 || facts_[owner].reachable;
  std::vector<int> id(steps.size());
  for (size_t i = 0; i < steps.size(); ++i) id[i] = IdOf(steps[i]);
  std::vector<bool> visited(steps.size(), false);

  StepFacts& first = facts_[id[0]];
  first.definitely_run = owner < 0 ? StepSet(facts_.size(), false) : facts_[owner].definitely_run;
  first.may_have_error = owner >= 0 && facts_[owner].may_have_error;
  first.reachable = owner_reachable;
  visited[0] = true;

  std::deque<int> work{0};
  while (!work.empty()) {
    const int i = work.front();
    work.pop_front();
    const StepFacts& from = facts_[id[i]];
    StepSet after = from.definitely_run;  // the step completed normally
    after.Add(id[i]);
    const auto& edges = flows_[scope].out[i];
    for (size_t k = 0; k < edges.size(); ++k) {
      const FlowEdge& edge = edges[k];
      const bool is_catch = edge.kind == EdgeKind::kCatch;
      const StepSet& out = is_catch ? from.definitely_run : after;
      const bool error = is_catch || from.may_have_error;
      const int to = targets_[scope][i][k];
      if (to == kScopeEnd && owner < 0 && !EndsWithOwnOutput(edge)) at_end_.IntersectWith(out);
      if (to < 0) continue;
      StepFacts& next = facts_[id[to]];
      bool changed = false;
      if (!visited[to]) {
        visited[to] = true;
        next.definitely_run = out;
        next.reachable = owner_reachable;
        next.may_have_error = error;
        changed = true;
      } else {
        changed = next.definitely_run.IntersectWith(out);
        if (error && !next.may_have_error) {
          next.may_have_error = true;
          changed = true;
        }
      }
      if (changed) work.push_back(to);
    }
  }
}

}  // namespace cairn::validate
