// FlowAnalysis: facts about control flow that several checks share, computed
// once per workflow over the edges of definition/flow.h (the one
// interpretation of `next`, switch cases and catch handlers).
//
// Every step gets a global id (ForEachStep order: document order, parents
// before their children). For each step:
//  * reachable: some path from the start of the workflow leads to it;
//  * definitely_run: the steps whose result is set on EVERY path to it (a
//    must-analysis: a normal edge adds the step it leaves, a catch edge does
//    not; a nested scope starts with what its enclosing step saw; results of
//    steps inside a nested scope are not visible after it; a step skipped by
//    `if:` still counts as run, its result is null);
//  * may_have_error: SOME path to it took a catch edge, so `.error` can be set.
//
// A `next` or catch target that names no step of its scope is followed to
// the closest step name when there is one (a likely typo), so one typo does
// not also make the rest of the scope look unreachable.
//
// Thread-safety: immutable after construction. The definition must outlive it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "definition/flow.h"
#include "definition/workflow_definition.h"

namespace cairn::validate {

// A set of global step ids.
class StepSet {
 public:
  StepSet() = default;
  StepSet(size_t size, bool full);

  bool Has(int id) const { return (words_[id / 64] >> (id % 64)) & 1u; }
  void Add(int id) { words_[id / 64] |= uint64_t{1} << (id % 64); }
  // this := this ∩ other; returns true when this changed.
  bool IntersectWith(const StepSet& other);

 private:
  std::vector<uint64_t> words_;
};

struct StepFacts {
  const Step* step = nullptr;
  int scope = 0;             // index into FlowAnalysis::scopes()
  int index = 0;             // position in the scope's step list
  int owner = -1;            // global id of the enclosing step; -1 at the top level
  bool in_map_body = false;  // inside the steps of a `map:` (at any depth)
  bool reachable = false;
  bool may_have_error = false;
  StepSet definitely_run;
};

class FlowAnalysis {
 public:
  explicit FlowAnalysis(const WorkflowDefinition& def);
  FlowAnalysis(const FlowAnalysis&) = delete;
  FlowAnalysis& operator=(const FlowAnalysis&) = delete;

  size_t size() const { return facts_.size(); }
  const StepFacts& facts(int id) const { return facts_[id]; }
  const Step& step(int id) const { return *facts_[id].step; }
  // Global id of a step of the definition; -1 for a step not in it.
  int IdOf(const Step& step) const;
  // Global id of the first step (in document order) with this name; -1 if none.
  int Find(std::string_view name) const;
  // Every distinct non-empty step name, in document order.
  const std::vector<std::string>& names() const { return names_; }

  const std::vector<Scope>& scopes() const { return scopes_; }
  const ScopeFlow& flow(int scope) const { return flows_[scope]; }
  // Global id of the step enclosing a scope; -1 for the top level.
  int ScopeOwner(int scope) const { return scope_owner_[scope]; }
  // The names of the steps of a scope (for "did you mean").
  std::vector<std::string> ScopeNames(int scope) const;
  // Where each edge of flow(scope).out[index] leads: its target, or for an
  // unresolved target the closest step name of the scope (a likely typo);
  // kUnresolved when there is none.
  const std::vector<int>& Targets(int scope, int index) const { return targets_[scope][index]; }

  // Steps whose results are set on every path that ends the workflow
  // successfully and evaluates `output:` (a `succeed:` with a value of its
  // own does not), i.e. what `output:` can read.
  const StepSet& definitely_run_at_end() const { return at_end_; }

  // True when `ancestor` encloses step `id` (at any depth).
  bool Encloses(int ancestor, int id) const;

 private:
  void ResolveTargets(int scope);
  void AnalyzeScope(int scope);
  // True for the edge of a `succeed: <value>` (the value replaces `output:`).
  bool EndsWithOwnOutput(const FlowEdge& edge) const;

  const WorkflowDefinition& def_;
  std::vector<StepFacts> facts_;
  std::unordered_map<const Step*, int> ids_;
  std::unordered_map<std::string_view, int> by_name_;
  std::vector<std::string> names_;
  std::vector<Scope> scopes_;
  std::vector<ScopeFlow> flows_;
  std::vector<std::vector<std::vector<int>>> targets_;  // [scope][step][edge]
  std::vector<int> scope_owner_;
  StepSet at_end_;
};

}  // namespace cairn::validate
