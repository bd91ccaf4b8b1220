// Control flow within one scope (a list of steps: the workflow's steps, a
// parallel branch, a map or group body, a switch case's steps).
//
// This is the one place that decides where control goes after a step, so the
// validator (reachability, termination, definitely-run analysis) and the
// compiler (graph edges) agree. Rules (LANGUAGE.md):
//  * after a step: its `next` (a step of the same scope, or `end`), else the
//    following step, else the end of the scope;
//  * `fail:` goes to kScopeFail; `succeed:` to kScopeEnd (with `if:`, a
//    second kNext edge is where a skipped one goes on);
//  * switch: each case's `next`/`fail`/`succeed`; a case with `steps` runs
//    them and then continues like the switch itself; no true case continues
//    like the switch itself (kDefault);
//  * catch handlers: an edge per handler to its `next` (the step failed, so
//    its own result is not set on that edge).
// A nested scope ends by returning to its enclosing step.
#pragma once

#include <string>
#include <vector>

#include "definition/workflow_definition.h"

namespace cairn {

inline constexpr int kScopeEnd = -1;    // end of the scope (of the execution at top level)
inline constexpr int kScopeFail = -2;   // an explicit fail
inline constexpr int kUnresolved = -3;  // target names no step of this scope

enum class EdgeKind {
  kNext,     // normal completion (explicit next, or fall through)
  kCase,     // a switch case was taken
  kDefault,  // no switch case was true
  kCatch,    // a catch handler
};

struct FlowEdge {
  int to = kScopeEnd;    // index into the scope's steps, or one of the constants above
  EdgeKind kind = EdgeKind::kNext;
  std::string target;    // the name written (for kUnresolved diagnostics); empty for fall through
  std::string path;      // JSON pointer of where the edge was written (the next/catch entry)
};

struct ScopeFlow {
  const std::vector<Step>* steps = nullptr;
  std::vector<std::vector<FlowEdge>> out;  // out[i]: edges leaving steps[i]
};

// Resolves the edges of one scope. Does not descend into nested scopes.
ScopeFlow BuildScopeFlow(const std::vector<Step>& steps);

// Every scope of a workflow with the step that encloses it (nullptr for the
// top level), in document order.
struct Scope {
  const std::vector<Step>* steps;
  const Step* owner;
};
std::vector<Scope> AllScopes(const WorkflowDefinition& def);

}  // namespace cairn
