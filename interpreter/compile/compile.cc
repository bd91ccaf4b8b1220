#include "compile/compile.h"

#include <cassert>
#include <string_view>
#include <utility>

#include "compile/operation_id.h"
#include "definition/flow.h"

namespace cairn {
namespace {

Error CompileError(std::string message, std::string path) {
  return MakeError("compile", std::move(message), std::move(path));
}

// The protocol's Name: at most 256 bytes, printable (no control characters).
bool IsOperationName(std::string_view name) {
  if (name.empty() || name.size() > kMaxOperationNameLength) return false;
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

// Whether a lambda.invoke is a CHAINED_INVOKE: only a literal `durable: true`.
Result<bool> IsDurableInvoke(const ActionSpec& action) {
  if (action.type != "lambda.invoke" || !action.params.is_object() ||
      !action.params.contains("durable")) {
    return false;
  }
  const nlohmann::json& durable = action.params.at("durable");
  if (durable.is_boolean()) return durable.get<bool>();
  return CompileError(
      "`durable` must be true or false: it decides the durable operation type, which is fixed "
      "when the workflow is compiled, so it cannot be an expression",
      PointerAppend(action.path, "durable"));
}

GraphEdgeKind ToGraphEdgeKind(EdgeKind kind) {
  switch (kind) {
    case EdgeKind::kNext:
      return GraphEdgeKind::kNext;
    case EdgeKind::kCase:
      return GraphEdgeKind::kCase;
    case EdgeKind::kDefault:
      return GraphEdgeKind::kDefault;
    case EdgeKind::kCatch:
      return GraphEdgeKind::kCatch;
  }
  return GraphEdgeKind::kNext;
}

}  // namespace

// Builds a StepGraph in four passes: nodes and scopes (document order,
// parents before children), durable operations, edges, back-edges.
class StepGraphBuilder {
 public:
  StepGraphBuilder(std::shared_ptr<const WorkflowDefinition> definition,
                   std::shared_ptr<const expr::ExpressionTable> expressions)
      : graph_(new StepGraph()) {
    graph_->definition_ = std::move(definition);
    graph_->expressions_ = std::move(expressions);
  }

  Result<std::shared_ptr<const StepGraph>> Build() {
    const WorkflowDefinition& def = *graph_->definition_;
    AddNode(NodeRole::kStart, "start", nullptr, kNoNode, kNoScope);
    AddNode(NodeRole::kSucceeded, "succeeded", nullptr, kNoNode, kNoScope);
    AddNode(NodeRole::kFailed, "failed", nullptr, kNoNode, kNoScope);
    if (Status s = AddScope(def.steps, ScopeKind::kRoot, kNoNode, -1, "", "/steps", 0); !s) {
      return s.error();
    }
    for (auto& node : graph_->nodes_) {
      if (node.synthetic()) continue;
      if (Status s = MapOperation(&node); !s) return s.error();
    }
    GraphEdge start;
    start.from = kStartNode;
    start.to = graph_->scopes_[kRootScope].entry;
    AddEdge(std::move(start));
    for (size_t i = 0; i < graph_->scopes_.size(); ++i) {
      if (Status s = AddScopeEdges(static_cast<ScopeId>(i)); !s) return s.error();
    }
    MarkBackEdges();
    return std::shared_ptr<const StepGraph>(std::move(graph_));
  }

 private:
  NodeId AddNode(NodeRole role, std::string name, const Step* step, NodeId parent, ScopeId scope) {
    GraphNode node;
    node.id = static_cast<NodeId>(graph_->nodes_.size());
    node.role = role;
    node.name = std::move(name);
    node.step = step;
    node.kind = step == nullptr ? StepKind::kInvalid : step->kind;
    node.parent = parent;
    node.scope = scope;
    graph_->nodes_.push_back(std::move(node));
    return graph_->nodes_.back().id;
  }

  // Adds the scope, then each of its steps followed by the step's own child
  // scopes. Recursion depth is bounded by the document's (kMaxDocumentDepth).
  Status AddScope(const std::vector<Step>& steps, ScopeKind kind, NodeId owner, int index,
                  std::string name, std::string path, int depth) {
    assert(depth <= kMaxDocumentDepth);
    if (steps.empty()) return CompileError("a step list is empty", path);
    ScopeId id = static_cast<ScopeId>(graph_->scopes_.size());
    GraphScope scope;
    scope.id = id;
    scope.kind = kind;
    scope.owner = owner;
    scope.index = index;
    scope.name = std::move(name);
    scope.path = std::move(path);
    graph_->scopes_.push_back(std::move(scope));
    scope_steps_.push_back(&steps);
    if (owner != kNoNode) graph_->nodes_[owner].child_scopes.push_back(id);

    for (const Step& step : steps) {
      if (step.name.empty()) return CompileError("a step has no name", step.path);
      if (step.kind == StepKind::kInvalid) {
        return CompileError("step '" + step.name + "' does not have exactly one kind", step.path);
      }
      if (!IsOperationName(step.name)) {
        return CompileError("step name is not a valid operation Name (1..256 printable bytes)",
                            step.path);
      }
      NodeId n = AddNode(NodeRole::kStep, step.name, &step, owner, id);
      if (!graph_->by_name_.emplace(step.name, n).second) {
        return CompileError("step name '" + step.name + "' is used twice", step.path);
      }
      graph_->by_path_.emplace(step.path, n);
      graph_->scopes_[id].nodes.push_back(n);
      if (owner != kNoNode) graph_->nodes_[owner].children.push_back(n);
      if (Status s = AddChildScopes(step, n, depth + 1); !s) return s;
    }
    graph_->scopes_[id].entry = graph_->scopes_[id].nodes.front();
    return {};
  }

  Status AddChildScopes(const Step& step, NodeId n, int depth) {
    Status s;
    switch (step.kind) {
      case StepKind::kSwitch:
        for (size_t i = 0; i < step.cases.size() && s; ++i) {
          const SwitchCase& c = step.cases[i];
          if (!c.has_steps) continue;
          s = AddScope(c.steps, ScopeKind::kCaseBody, n, static_cast<int>(i), "", c.steps_path,
                       depth);
        }
        break;
      case StepKind::kParallel:
        if (step.branches.empty()) {
          return CompileError("parallel step '" + step.name + "' has no branches", step.path);
        }
        for (size_t i = 0; i < step.branches.size() && s; ++i) {
          const Branch& b = step.branches[i];
          if (!IsOperationName(b.name)) {
            return CompileError(
                "branch name is not a valid operation Name (1..256 printable bytes)", b.path);
          }
          s = AddScope(b.steps, ScopeKind::kBranch, n, static_cast<int>(i), b.name, b.path, depth);
        }
        break;
      case StepKind::kMap:
        s = AddScope(step.steps, ScopeKind::kMapBody, n, -1, "", step.steps_path, depth);
        break;
      case StepKind::kGroup:
        s = AddScope(step.steps, ScopeKind::kGroupBody, n, -1, "", step.steps_path, depth);
        break;
      default:
        break;
    }
    if (s) assert(graph_->nodes_[n].child_scopes.size() == ChildStepLists(step).size());
    return s;
  }

  Status MapOperation(GraphNode* node) {
    const WorkflowDefinition& def = *graph_->definition_;
    const Step& step = *node->step;
    DurableOperation& op = node->operation;
    auto set = [&](OperationType type, const char* sub_type) {
      op.type = type;
      op.sub_type = sub_type;
      op.name = step.name;
    };
    auto child = [](ChildRole role, OperationType type, const char* sub_type, std::string key,
                    std::string name, ScopeId scope) {
      return ChildOperation{role, type, sub_type, std::move(key), std::move(name), scope};
    };
    const bool retries = step.retry.has_value() || def.retry_defaults.has_value();
    switch (step.kind) {
      case StepKind::kAction: {
        Result<bool> durable = IsDurableInvoke(step.action);
        if (!durable) return durable.error();
        if (*durable) {
          if (step.wait_for_callback) {
            return CompileError(
                "a durable lambda.invoke cannot submit a waitForCallback: the submitter is a STEP",
                step.path);
          }
          if (step.retry) {
            return CompileError(
                "a durable lambda.invoke cannot have retry: CHAINED_INVOKE has no RETRY",
                step.retry->path);
          }
          set(OperationType::kChainedInvoke, kSubTypeChainedInvoke);
        } else if (step.wait_for_callback) {
          set(OperationType::kContext, kSubTypeWaitForCallback);
          op.children.push_back(child(ChildRole::kCallback, OperationType::kCallback,
                                      kSubTypeCallback, kCallbackChildKey, "", kNoScope));
          op.children.push_back(child(ChildRole::kSubmitter, OperationType::kStep, kSubTypeStep,
                                      kSubmitterChildKey, "", kNoScope));
          op.step_retries = retries;
        } else {
          set(OperationType::kStep, kSubTypeStep);
          op.step_retries = retries;
        }
        break;
      }
      case StepKind::kWait:
        set(OperationType::kWait, kSubTypeWait);
        break;
      case StepKind::kWaitForCallback:
        set(OperationType::kContext, kSubTypeWaitForCallback);
        op.children.push_back(child(ChildRole::kCallback, OperationType::kCallback,
                                    kSubTypeCallback, kCallbackChildKey, "", kNoScope));
        break;
      case StepKind::kCallback:
        set(OperationType::kCallback, kSubTypeCallback);
        break;
      case StepKind::kAwait: {
        const GraphNode* target = graph_->FindNode(step.await_target);
        if (target == nullptr || target->kind != StepKind::kCallback) {
          return CompileError("await target '" + step.await_target + "' is not a callback step",
                              PointerAppend(step.path, "await"));
        }
        op.reads = target->id;
        break;
      }
      case StepKind::kPoll: {
        Result<bool> durable = IsDurableInvoke(step.poll.check);
        if (!durable) return durable.error();
        if (*durable) {
          return CompileError("a poll check cannot be a durable lambda.invoke",
                              step.poll.check.path);
        }
        set(OperationType::kStep, kSubTypeWaitForCondition);
        op.step_retries = true;
        break;
      }
      case StepKind::kParallel:
        set(OperationType::kContext, kSubTypeParallel);
        for (ScopeId s : node->child_scopes) {
          const GraphScope& scope = graph_->scopes_[s];
          op.children.push_back(child(ChildRole::kBranch, OperationType::kContext,
                                      kSubTypeParallelBranch, scope.name, scope.name, s));
        }
        break;
      case StepKind::kMap:
        set(OperationType::kContext, kSubTypeMap);
        op.children.push_back(child(ChildRole::kIteration, OperationType::kContext,
                                    kSubTypeMapIteration, "", "", node->child_scopes.front()));
        break;
      case StepKind::kGroup:
        set(OperationType::kContext, kSubTypeRunInChildContext);
        break;
      case StepKind::kSet:
      case StepKind::kSwitch:
      case StepKind::kSucceed:
      case StepKind::kFail:
        break;
      case StepKind::kInvalid:
        assert(false && "rejected when the node was added");
        break;
    }
    assert(op.sub_type.size() <= kMaxSubTypeLength);
    return {};
  }

  EdgeId AddEdge(GraphEdge edge) {
    edge.id = static_cast<EdgeId>(graph_->edges_.size());
    graph_->nodes_[edge.from].out.push_back(edge.id);
    graph_->nodes_[edge.to].in.push_back(edge.id);
    graph_->edges_.push_back(std::move(edge));
    return graph_->edges_.back().id;
  }

  // kEnter edges of each step, then its control flow as BuildScopeFlow
  // resolves it.
  Status AddScopeEdges(ScopeId id) {
    const GraphScope& scope = graph_->scopes_[id];
    const ScopeFlow flow = BuildScopeFlow(*scope_steps_[id]);
    assert(flow.out.size() == scope.nodes.size());
    const bool root = scope.owner == kNoNode;
    for (size_t i = 0; i < scope.nodes.size(); ++i) {
      const NodeId from = scope.nodes[i];
      const Step& step = *graph_->nodes_[from].step;
      for (ScopeId child : graph_->nodes_[from].child_scopes) {
        GraphEdge e;
        e.from = from;
        e.to = graph_->scopes_[child].entry;
        e.kind = GraphEdgeKind::kEnter;
        e.scope = child;
        e.path = graph_->scopes_[child].path;
        if (graph_->scopes_[child].kind == ScopeKind::kCaseBody) {
          e.condition = PointerAppend(step.cases[graph_->scopes_[child].index].path, "if");
        }
        AddEdge(std::move(e));
      }
      int cases = 0;
      int catches = 0;
      for (const FlowEdge& f : flow.out[i]) {
        GraphEdge e;
        e.from = from;
        e.kind = ToGraphEdgeKind(f.kind);
        e.path = f.path;
        if (f.to >= 0) {
          e.to = scope.nodes[f.to];
        } else if (f.to == kScopeEnd) {
          e.to = root ? kSucceededNode : scope.owner;
          e.exit = ScopeExit::kEnd;
        } else if (f.to == kScopeFail) {
          e.to = root ? kFailedNode : scope.owner;
          e.exit = ScopeExit::kFail;
        } else {
          assert(f.to == kUnresolved);
          return CompileError("'" + f.target + "' names no step of this scope", f.path);
        }
        if (e.kind == GraphEdgeKind::kCase) {
          e.index = cases++;
          e.condition = PointerAppend(step.cases[e.index].path, "if");
        }
        if (e.kind == GraphEdgeKind::kCatch) e.index = catches++;
        AddEdge(std::move(e));
      }
      assert(static_cast<size_t>(cases) ==
             (step.kind == StepKind::kSwitch ? step.cases.size() : 0));
      assert(static_cast<size_t>(catches) == step.catches.size());
    }
    return {};
  }

  // Iterative depth-first search from kStartNode, then from any node it did
  // not reach (unreachable steps), following out edges in order. An edge to
  // a node still on the stack is a back-edge. Edges that leave a scope
  // return to the owner, which is always on the stack; they are not loops.
  void MarkBackEdges() {
    enum class Color { kWhite, kGray, kBlack };
    std::vector<Color> color(graph_->nodes_.size(), Color::kWhite);
    std::vector<std::pair<NodeId, size_t>> stack;  // node, next out-edge position
    for (size_t root = 0; root < graph_->nodes_.size(); ++root) {
      if (color[root] != Color::kWhite) continue;
      color[root] = Color::kGray;
      stack.emplace_back(static_cast<NodeId>(root), 0);
      while (!stack.empty()) {
        auto& [n, pos] = stack.back();
        const auto& out = graph_->nodes_[n].out;
        if (pos == out.size()) {
          color[n] = Color::kBlack;
          stack.pop_back();
          continue;
        }
        GraphEdge& e = graph_->edges_[out[pos++]];
        if (e.exit != ScopeExit::kNone) continue;
        if (color[e.to] == Color::kGray) {
          e.back_edge = true;
        } else if (color[e.to] == Color::kWhite) {
          color[e.to] = Color::kGray;
          stack.emplace_back(e.to, 0);
        }
      }
    }
  }

  std::shared_ptr<StepGraph> graph_;
  std::vector<const std::vector<Step>*> scope_steps_;  // by ScopeId
};

Result<std::shared_ptr<const StepGraph>> CompileWorkflow(
    std::shared_ptr<const WorkflowDefinition> definition,
    std::shared_ptr<const expr::ExpressionTable> expressions) {
  assert(definition != nullptr);
  return StepGraphBuilder(std::move(definition), std::move(expressions)).Build();
}

}  // namespace cairn
