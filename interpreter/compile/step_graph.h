// StepGraph: the compiled, immutable form of a workflow.
//
// Built only by CompileWorkflow (compile.h) from a WorkflowDefinition that
// validated without errors: the one bridge between the symbolic tree and
// what the engine runs (STYLE.md, habit 2). It holds:
//  * one GraphNode per step, plus three synthetic nodes: kStartNode (the
//    execution starts), kSucceededNode and kFailedNode (it ends);
//  * the durable operation of every node, decided here once (ARCHITECTURE.md,
//    "Durable mapping of nodes");
//  * edges: the control flow of each scope exactly as BuildScopeFlow
//    (definition/flow.h) resolves it, plus structural kEnter edges from a
//    parallel/map/group/switch node into the first step of each child scope;
//    loop back-edges are marked;
//  * scopes (the top level, parallel branches, map and group bodies, switch
//    case bodies) and lookups by step name and JSON pointer.
//
// Ownership: the graph owns the definition (shared_ptr), so the Step
// pointers of its nodes stay valid as long as the graph does. It also shares
// the workflow's ExpressionTable (validation compiled it; compile never
// compiles jq again); expressions are referred to by the JSON pointer of the
// string value that holds them (ExpressionTable::Find), e.g. a case edge's
// `condition` or "<step path>/if".
//
// Thread-safety: immutable after construction; every method is const and
// may be called from any number of threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "definition/workflow_definition.h"
#include "expr/expression_table.h"

namespace cairn {

using NodeId = int32_t;
using EdgeId = int32_t;
using ScopeId = int32_t;

inline constexpr NodeId kNoNode = -1;
inline constexpr ScopeId kNoScope = -1;
inline constexpr NodeId kStartNode = 0;
inline constexpr NodeId kSucceededNode = 1;
inline constexpr NodeId kFailedNode = 2;
inline constexpr ScopeId kRootScope = 0;

// The durable operation types of the protocol (PROTOCOL.md); kNone for nodes
// that are deterministic on replay and checkpoint nothing of their own.
enum class OperationType { kNone, kStep, kWait, kCallback, kContext, kChainedInvoke };

// "STEP", "WAIT", "CALLBACK", "CONTEXT", "CHAINED_INVOKE"; "NONE" for kNone.
const char* OperationTypeName(OperationType type);

// SubType strings, exactly as the AWS durable execution SDKs write them
// (confirmed against shared/conformance/ histories and the SDKs' enums).
inline constexpr char kSubTypeStep[] = "Step";
inline constexpr char kSubTypeWait[] = "Wait";
inline constexpr char kSubTypeCallback[] = "Callback";
inline constexpr char kSubTypeWaitForCallback[] = "WaitForCallback";
inline constexpr char kSubTypeWaitForCondition[] = "WaitForCondition";
inline constexpr char kSubTypeParallel[] = "Parallel";
inline constexpr char kSubTypeParallelBranch[] = "ParallelBranch";
inline constexpr char kSubTypeMap[] = "Map";
inline constexpr char kSubTypeMapIteration[] = "MapIteration";
inline constexpr char kSubTypeRunInChildContext[] = "RunInChildContext";
inline constexpr char kSubTypeChainedInvoke[] = "ChainedInvoke";

// Keys of the fixed children of a WaitForCallback context (see ChildOperationId).
inline constexpr char kCallbackChildKey[] = "callback";
inline constexpr char kSubmitterChildKey[] = "submitter";

enum class ChildRole {
  kCallback,   // the CALLBACK of a WaitForCallback context
  kSubmitter,  // the STEP that runs the action with the callback id
  kBranch,     // one CONTEXT per parallel branch
  kIteration,  // one CONTEXT per map item (a template: repeated at run time)
};

// An operation that a node's CONTEXT operation holds.
struct ChildOperation {
  ChildRole role = ChildRole::kCallback;
  OperationType type = OperationType::kNone;
  std::string sub_type;
  // Hashed into the child's id: kCallbackChildKey, kSubmitterChildKey, the
  // branch name; empty for kIteration, whose key is the item index.
  std::string key;
  // The operation's Name: the branch name for kBranch; empty otherwise (the
  // SDKs name neither the callback and submitter nor map iterations).
  std::string name;
  ScopeId scope = kNoScope;  // kBranch, kIteration: the scope the context runs
};

// The durable operation(s) of one node.
struct DurableOperation {
  OperationType type = OperationType::kNone;
  std::string sub_type;                  // empty for kNone
  std::string name;                      // the operation's Name: the step name; empty for kNone
  std::vector<ChildOperation> children;  // branches in the order of Step::branches
  // RETRY updates go to a STEP: the node's own (action, poll) or its
  // kSubmitter child. True for an action with `retry:` or under the
  // workflow's `retryDefaults`, and for every poll (its attempts are RETRYs).
  // Never for a CHAINED_INVOKE (the protocol has no RETRY for it). `retry:`
  // on a step whose operation is not a STEP (group, parallel, map, wait,
  // callback) has no STEP to retry and is not reflected here.
  bool step_retries = false;
  // kAwait: the `callback:` node whose CALLBACK operation it waits for.
  NodeId reads = kNoNode;

  bool has_operation() const { return type != OperationType::kNone; }
};

enum class NodeRole { kStep, kStart, kSucceeded, kFailed };

enum class ScopeKind {
  kRoot,       // the workflow's steps
  kBranch,     // a parallel branch
  kMapBody,    // the steps run per map item
  kGroupBody,  // a group's steps
  kCaseBody,   // a switch case's steps
};

struct GraphScope {
  ScopeId id = kNoScope;
  ScopeKind kind = ScopeKind::kRoot;
  NodeId owner = kNoNode;     // the parallel/map/group/switch node; kNoNode for kRoot
  int index = -1;             // kBranch: branch index; kCaseBody: case index
  std::string name;           // kBranch: the branch name
  std::string path;           // JSON pointer of the step list
  NodeId entry = kNoNode;     // the first step
  std::vector<NodeId> nodes;  // the scope's steps in document order
};

enum class GraphEdgeKind {
  kNext,     // normal completion (explicit next, fall through, end of scope)
  kCase,     // switch case `index` was taken; for a case with steps, where
             // control goes once those steps have completed
  kDefault,  // no switch case was true
  kCatch,    // catch handler `index` of the step matched the error
  kEnter,    // structural: owner → first step of its child scope `scope`
};

// Whether an edge leaves its scope, and how. An edge that leaves a nested
// scope goes back to the scope's owner; one that leaves the top level goes
// to kSucceededNode or kFailedNode.
enum class ScopeExit { kNone, kEnd, kFail };

struct GraphEdge {
  EdgeId id = -1;
  NodeId from = kNoNode;
  NodeId to = kNoNode;
  GraphEdgeKind kind = GraphEdgeKind::kNext;
  ScopeExit exit = ScopeExit::kNone;
  int index = -1;            // kCase: index into step->cases; kCatch: into step->catches
  ScopeId scope = kNoScope;  // kEnter: the scope entered
  // A loop: `to` is an ancestor of `from` in a depth-first search from
  // kStartNode (edges that leave a scope are never back-edges).
  bool back_edge = false;
  // Where the edge was written (a next, a catch entry, a case's next/fail);
  // for kEnter the child step list; empty for fall through.
  std::string path;
  // kCase, and kEnter into a case body: the JSON pointer of the case's `if`
  // value (an expression in StepGraph::expressions(), or a literal boolean).
  std::string condition;
};

struct GraphNode {
  NodeId id = kNoNode;
  NodeRole role = NodeRole::kStep;
  // The step name; "start", "succeeded" or "failed" for synthetic nodes.
  std::string name;
  const Step* step = nullptr;          // into StepGraph::definition(); nullptr if synthetic
  StepKind kind = StepKind::kInvalid;  // kInvalid for synthetic nodes
  NodeId parent = kNoNode;             // the enclosing parallel/map/group/switch node
  ScopeId scope = kNoScope;            // kNoScope for synthetic nodes
  DurableOperation operation;
  std::vector<ScopeId> child_scopes;  // scopes this node owns, in document order
  std::vector<NodeId> children;       // the nodes of child_scopes, in document order
  std::vector<EdgeId> out;            // kEnter edges first, then in BuildScopeFlow order
  std::vector<EdgeId> in;

  bool synthetic() const { return role != NodeRole::kStep; }
  // The JSON pointer of the step; empty for synthetic nodes.
  const std::string& path() const;
};

class StepGraph {
 public:
  StepGraph(const StepGraph&) = delete;
  StepGraph& operator=(const StepGraph&) = delete;

  const WorkflowDefinition& definition() const { return *definition_; }
  // May be null when the graph was compiled without expressions (tests,
  // rendering); the engine requires them.
  const std::shared_ptr<const expr::ExpressionTable>& expressions() const { return expressions_; }

  // Nodes are indexed by NodeId, edges by EdgeId, scopes by ScopeId.
  const std::vector<GraphNode>& nodes() const { return nodes_; }
  const std::vector<GraphEdge>& edges() const { return edges_; }
  const std::vector<GraphScope>& scopes() const { return scopes_; }
  // REQUIRES: a valid id.
  const GraphNode& node(NodeId id) const;
  const GraphEdge& edge(EdgeId id) const;
  const GraphScope& scope(ScopeId id) const;

  // The step named `name`, or nullptr.
  const GraphNode* FindNode(std::string_view name) const;
  // The step whose JSON pointer is `pointer`, else the innermost step that
  // contains it ("/steps/2/retry/interval" → the step at "/steps/2"), or
  // nullptr when no step contains it.
  const GraphNode* FindNodeByPointer(std::string_view pointer) const;
  // The first step of `scope`.
  NodeId ScopeEntry(ScopeId scope) const { return this->scope(scope).entry; }
  // The steps directly inside `id`'s child scopes, in document order.
  const std::vector<NodeId>& Children(NodeId id) const { return node(id).children; }

 private:
  friend class StepGraphBuilder;  // compile.cc
  StepGraph() = default;

  std::shared_ptr<const WorkflowDefinition> definition_;
  std::shared_ptr<const expr::ExpressionTable> expressions_;
  std::vector<GraphNode> nodes_;
  std::vector<GraphEdge> edges_;
  std::vector<GraphScope> scopes_;
  std::unordered_map<std::string, NodeId> by_name_;
  std::unordered_map<std::string, NodeId> by_path_;
};

// The id of `child` inside the CONTEXT operation `parent_id`:
// OperationId(parent_id, child.key, 0), with the decimal `item` index as the
// key of a kIteration child (`item` is ignored for the other roles).
std::string ChildOperationId(std::string_view parent_id, const ChildOperation& child,
                             size_t item = 0);

// The operation id of `id` on the first run of everything: visit 0 of the
// node and of every enclosing step, item 0 of every enclosing map. For
// display (`cairn graph`) and tests; the engine derives ids from the live
// parent id and visit count. A node without an operation gets the id it
// would have (its children in a switch case body use the switch's parent).
// REQUIRES: `id` is a step node.
std::string FirstVisitOperationId(const StepGraph& graph, NodeId id);

}  // namespace cairn
