#include "compile/step_graph.h"

#include <cassert>

#include "compile/operation_id.h"

namespace cairn {

const char* OperationTypeName(OperationType type) {
  switch (type) {
    case OperationType::kNone:
      return "NONE";
    case OperationType::kStep:
      return "STEP";
    case OperationType::kWait:
      return "WAIT";
    case OperationType::kCallback:
      return "CALLBACK";
    case OperationType::kContext:
      return "CONTEXT";
    case OperationType::kChainedInvoke:
      return "CHAINED_INVOKE";
  }
  return "NONE";
}

const std::string& GraphNode::path() const {
  static const std::string kEmpty;
  return step == nullptr ? kEmpty : step->path;
}

const GraphNode& StepGraph::node(NodeId id) const {
  assert(id >= 0 && static_cast<size_t>(id) < nodes_.size());
  return nodes_[id];
}

const GraphEdge& StepGraph::edge(EdgeId id) const {
  assert(id >= 0 && static_cast<size_t>(id) < edges_.size());
  return edges_[id];
}

const GraphScope& StepGraph::scope(ScopeId id) const {
  assert(id >= 0 && static_cast<size_t>(id) < scopes_.size());
  return scopes_[id];
}

const GraphNode* StepGraph::FindNode(std::string_view name) const {
  auto it = by_name_.find(std::string(name));
  return it == by_name_.end() ? nullptr : &nodes_[it->second];
}

const GraphNode* StepGraph::FindNodeByPointer(std::string_view pointer) const {
  std::string p(pointer);
  while (!p.empty()) {
    auto it = by_path_.find(p);
    if (it != by_path_.end()) return &nodes_[it->second];
    size_t slash = p.rfind('/');
    if (slash == std::string::npos) break;
    p.resize(slash);
  }
  return nullptr;
}

std::string ChildOperationId(std::string_view parent_id, const ChildOperation& child, size_t item) {
  if (child.role == ChildRole::kIteration) {
    return OperationId(parent_id, std::to_string(item), 0);
  }
  return OperationId(parent_id, child.key, 0);
}

std::string FirstVisitOperationId(const StepGraph& graph, NodeId id) {
  assert(!graph.node(id).synthetic());
  // Outermost first: the node and the owners of its enclosing scopes.
  std::vector<NodeId> chain;
  for (NodeId n = id; n != kNoNode; n = graph.node(n).parent) chain.insert(chain.begin(), n);
  std::string parent_id;  // the top level has no parent operation
  std::string own_id;
  for (size_t i = 0; i < chain.size(); ++i) {
    const GraphNode& n = graph.node(chain[i]);
    const GraphScope& scope = graph.scope(n.scope);
    switch (scope.kind) {
      case ScopeKind::kRoot:
      case ScopeKind::kCaseBody:  // a switch has no operation: its parent is the children's
        break;
      case ScopeKind::kGroupBody:
        parent_id = own_id;
        break;
      case ScopeKind::kBranch:
      case ScopeKind::kMapBody: {
        const GraphNode& owner = graph.node(scope.owner);
        const ChildOperation* context = nullptr;
        for (const auto& c : owner.operation.children) {
          if (c.scope == scope.id) context = &c;
        }
        assert(context != nullptr);
        parent_id = ChildOperationId(own_id, *context, 0);
        break;
      }
    }
    own_id = OperationId(parent_id, n.name, 0);
  }
  return own_id;
}

}  // namespace cairn
