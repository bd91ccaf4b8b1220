#include "engine/engine.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <deque>
#include <random>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "compile/operation_id.h"
#include "engine/input_schema.h"

namespace cairn::engine {

// Derived from the graph once per Engine, so that an invocation does not
// recompute it (an invocation may run a single step).
struct WorkflowPlan {
  // Pointers of the expression strings of the expression table and of their
  // ancestors: Render copies any other subtree literally without walking it
  // pointer by pointer.
  std::unordered_set<std::string> expression_pointers;
  // The params of the actions (and poll checks) that hold no expression,
  // with `$${` already unescaped, by the address of the params in the
  // definition: such a step only copies them.
  std::unordered_map<const nlohmann::json*, nlohmann::json> literal_params;
  // Directory of the workflow file (ActionRequest::workflow_dir).
  std::string workflow_dir;
  // By NodeId: 1 when an `await` reads the node's operation id (only those
  // nodes have their latest operation id remembered in the frame).
  std::vector<char> awaited;
  // By NodeId: the step's index among the steps that run in the same frame
  // (a scope that gets a frame of its own, with the case bodies of its
  // switches, which run in their switch's frame), and how many steps that
  // frame has: a frame counts visits in a vector instead of a map.
  std::vector<uint32_t> visit_slot;
  std::vector<uint32_t> frame_steps;
  // By NodeId: 1 when the step's result may be used: an expression may read
  // it (expr::ExpressionSet::StepReads), it may be the value of its scope
  // (the result of a group, branch, iteration, case or of the execution:
  // RunScope's `last` when the scope ends), or its `result:` is applied on
  // every run. Any other step's result is neither kept in `.steps` nor, on
  // replay, parsed from its recorded payload: in most workflows nothing
  // reads most results, and a replay of 10,000 steps spent a third of its
  // time parsing them.
  std::vector<char> result_needed;
  // The workflow's `input:` schema, compiled once; null when it has none.
  std::shared_ptr<const InputSchema> input_schema;
};

namespace {

// Kinds whose run applies the step's `result:` itself (before
// checkpointing); RunStep applies it to what the others produce.
bool ShapesItsOwnResult(StepKind kind) {
  return kind == StepKind::kAction || kind == StepKind::kPoll || kind == StepKind::kGroup ||
         kind == StepKind::kSet || kind == StepKind::kSucceed;
}

// Jitter of retry delays: not a secret, so one generator per thread, seeded
// once (a std::random_device per invocation cost more than a step).
std::mt19937_64& Rng() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return rng;
}

using nlohmann::json;
using protocol::Operation;
using protocol::OperationAction;
using protocol::OperationStatus;
using protocol::OperationUpdate;
namespace P = protocol;

using actions::WorkflowError;

enum class Flow { kDone, kFailed, kSuspended, kAborted };

struct Outcome {
  Flow flow = Flow::kDone;
  json value;
  WorkflowError error;
  int case_index = -1;          // switch: the case taken; -1 for none
  bool explicit_succeed = false;  // a succeed: (step or case) ended the scope
  bool skipped = false;           // `if:` was false: the step did not run

  static Outcome Done(json v) { return {Flow::kDone, std::move(v), {}}; }
  static Outcome Failed(WorkflowError e) { return {Flow::kFailed, nullptr, std::move(e)}; }
  static Outcome Suspended() { return {Flow::kSuspended, nullptr, {}}; }
  static Outcome Aborted() { return {Flow::kAborted, nullptr, {}}; }
};

// Where a scope runs: its operations' parent, its evaluation context, and
// how many times each of its steps has run (loops give new operation ids).
//
// All frames of an invocation share one context object, owned by the root:
// an inner scope (a group, a branch, an iteration) sees what its enclosing
// scopes see, adds its own steps' results to `.steps` and takes them out
// again when it ends, and puts back the enclosing scope's `.error`. Copying
// the context instead would copy every earlier step's result into each
// inner scope. Step names are unique in a workflow (validation), so an
// inner step never replaces an enclosing scope's result.
class Frame {
 public:
  explicit Frame(json& root_ctx) : ctx(root_ctx) {}
  Frame(std::string parent, Frame& enclosing)
      : parent_id(std::move(parent)), ctx(enclosing.ctx), outer(&enclosing) {
    if (auto it = ctx.find("error"); it != ctx.end()) saved_error_ = *it;
  }
  ~Frame() {
    if (!outer) return;
    if (!added_.empty()) {
      json& steps = ctx["steps"];
      for (const std::string* name : added_) steps.erase(*name);
    }
    if (saved_error_) {
      ctx["error"] = std::move(*saved_error_);
    } else {
      ctx.erase("error");
    }
  }
  Frame(const Frame&) = delete;
  Frame& operator=(const Frame&) = delete;

  // Records `value` as the result of the step `name` in `.steps`.
  void SetStep(const std::string& name, json value) {
    json& steps = ctx["steps"];
    auto it = steps.find(name);
    if (it != steps.end()) {
      *it = std::move(value);
      return;
    }
    steps.emplace(name, std::move(value));
    if (outer) added_.push_back(&name);
  }

  std::string parent_id;  // id of the enclosing CONTEXT operation; "" at top level
  json& ctx;
  // How many times each step run in this frame has run, by the step's
  // WorkflowPlan::visit_slot; sized on first use.
  std::vector<uint64_t> visits;
  // node → id of its latest run, for the nodes an `await` reads only
  // (WorkflowPlan::awaited).
  std::unordered_map<NodeId, std::string> last_operation;
  Frame* outer = nullptr;  // enclosing frame, for await

 private:
  std::vector<const std::string*> added_;  // names this frame added to .steps
  std::optional<json> saved_error_;        // the enclosing scope's .error
};

P::OperationType ToProtocol(OperationType t) {
  switch (t) {
    case OperationType::kStep: return P::OperationType::kStep;
    case OperationType::kWait: return P::OperationType::kWait;
    case OperationType::kCallback: return P::OperationType::kCallback;
    case OperationType::kContext: return P::OperationType::kContext;
    case OperationType::kChainedInvoke: return P::OperationType::kChainedInvoke;
    case OperationType::kNone: break;
  }
  return P::OperationType::kStep;
}

json ParsePayload(const std::optional<std::string>& payload) {
  if (!payload || payload->empty()) return nullptr;
  json v = json::parse(*payload, nullptr, /*allow_exceptions=*/false);
  return v.is_discarded() ? json(*payload) : v;
}

json ErrorJson(const WorkflowError& e) {
  return {{"error", e.name}, {"message", e.message}, {"data", e.data}};
}

P::ErrorObject ToErrorObject(const WorkflowError& e) {
  P::ErrorObject o;
  o.type = e.name;
  o.message = e.message;
  if (!e.data.is_null()) o.data = e.data.dump();
  return o;
}

WorkflowError FromErrorObject(const std::optional<P::ErrorObject>& o) {
  if (!o) return {"Cairn.Unknown", "the operation failed without an error", nullptr};
  return {o->type, o->message, o->data ? ParsePayload(o->data) : json()};
}

bool Truthy(const json& v) { return !(v.is_null() || (v.is_boolean() && !v.get<bool>())); }

// LANGUAGE.md › Errors: exact names, `all`, and prefixes written with a
// trailing `*` (`DynamoDB.*`, `HTTP.5*`). An empty list matches everything.
bool ErrorMatches(const std::vector<std::string>& patterns, const std::string& name) {
  if (patterns.empty()) return true;
  for (const auto& p : patterns) {
    if (p == "all" || p == name) return true;
    if (!p.empty() && p.back() == '*' && name.compare(0, p.size() - 1, p, 0, p.size() - 1) == 0) {
      return true;
    }
  }
  return false;
}

std::string AsText(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

int64_t CeilSeconds(int64_t millis) { return std::max<int64_t>(1, (millis + 999) / 1000); }

// Sets `ctx[key]` for the guard's lifetime, then puts back what was there
// (the key's earlier value, or no key). A step adds `.attempt` or
// `.callback` to its frame's context this way instead of copying the whole
// context, which holds every earlier step's result.
// REQUIRES: `ctx` is an object and outlives the guard; nothing else adds or
// removes `key` meanwhile.
class ScopedKey {
 public:
  ScopedKey(json& ctx, const char* key, json value) : ctx_(ctx), key_(key) {
    auto it = ctx_.find(key_);
    if (it != ctx_.end()) {
      had_ = true;
      saved_ = std::move(*it);
      *it = std::move(value);
    } else {
      ctx_[key_] = std::move(value);
    }
  }
  ~ScopedKey() {
    if (had_) {
      ctx_[key_] = std::move(saved_);
    } else {
      ctx_.erase(key_);
    }
  }
  ScopedKey(const ScopedKey&) = delete;
  ScopedKey& operator=(const ScopedKey&) = delete;

 private:
  json& ctx_;
  const char* key_;
  bool had_ = false;
  json saved_;
};

// `value` as a literal (no expression under it): strings with `$${`
// unescaped to `${`, everything else as is.
json Unescaped(const json& value) {
  if (value.is_string()) {
    const auto& s = value.get_ref<const std::string&>();
    if (s.find("$${") == std::string::npos) return value;
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s.compare(i, 3, "$${") == 0) {
        out += "${";
        i += 2;
      } else {
        out += s[i];
      }
    }
    return json(out);
  }
  if (value.is_object()) {
    json out = json::object();
    for (const auto& [k, v] : value.items()) out[k] = Unescaped(v);
    return out;
  }
  if (value.is_array()) {
    json out = json::array();
    for (const json& v : value) out.push_back(Unescaped(v));
    return out;
  }
  return value;
}

// The recorded operations of an invocation by id: open addressing with
// linear probing over a power-of-two array of slots that hold the id's hash
// next to the operation, at most half full. An invocation indexes every
// recorded operation once and looks each up about once; a node-based map
// spent that time allocating nodes and following pointers.
// The operations are not owned: each must outlive the index. Entry pointers
// are valid until the next Insert or Reserve.
class OperationIndex {
 public:
  struct Entry {
    const Operation* op = nullptr;  // null: a free slot
    uint64_t hash = 0;
    bool unseen = false;  // see Run::Record
  };

  void Reserve(size_t n) {
    if (n * 2 > slots_.size()) Rehash(n * 2);
  }

  // The entry of `id`, or nullptr.
  Entry* Find(std::string_view id) {
    if (slots_.empty()) return nullptr;
    const uint64_t h = Hash(id);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      Entry& e = slots_[i];
      if (!e.op) return nullptr;
      if (e.hash == h && e.op->id == id) return &e;
    }
  }

  // The entry of op.id, and whether it is new (then it holds `op`, not
  // unseen); an entry that was there is returned as it is.
  std::pair<Entry*, bool> Insert(const Operation& op) {
    if ((size_ + 1) * 2 > slots_.size()) Rehash(std::max<size_t>(32, slots_.size() * 2));
    const uint64_t h = Hash(op.id);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      Entry& e = slots_[i];
      if (!e.op) {
        e = Entry{&op, h, false};
        ++size_;
        return {&e, true};
      }
      if (e.hash == h && e.op->id == op.id) return {&e, false};
    }
  }

  template <typename Fn>
  bool AnyOf(Fn fn) const {
    for (const Entry& e : slots_) {
      if (e.op && fn(*e.op)) return true;
    }
    return false;
  }

 private:
  static uint64_t Hash(std::string_view id) { return std::hash<std::string_view>{}(id); }

  // To at least `min_slots` slots (rounded up to a power of two).
  void Rehash(size_t min_slots) {
    size_t n = 32;
    while (n < min_slots) n *= 2;
    std::vector<Entry> old = std::exchange(slots_, std::vector<Entry>(n));
    mask_ = n - 1;
    for (const Entry& e : old) {
      if (!e.op) continue;
      size_t i = e.hash & mask_;
      while (slots_[i].op) i = (i + 1) & mask_;
      slots_[i] = e;
    }
  }

  std::vector<Entry> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

// WorkflowPlan::result_needed. Conservative: every result is needed when an
// expression may read any step (or the workflow has no expression table).
void MarkNeededResults(const StepGraph& graph, const expr::ExpressionTable* table,
                       std::vector<char>& needed) {
  const std::optional<std::vector<std::string>> reads =
      table && table->set ? table->set->StepReads() : std::nullopt;
  needed.assign(graph.nodes().size(), reads ? 0 : 1);
  if (!reads) return;
  auto need = [&](NodeId id) { needed[static_cast<size_t>(id)] = 1; };
  // Leaves the scope: the scope's result is then that of RunScope's `last`.
  auto leaves = [](const GraphEdge& e) {
    return e.kind != GraphEdgeKind::kEnter &&
           (e.exit != ScopeExit::kNone || e.to == kSucceededNode || e.to == kFailedNode);
  };
  std::vector<NodeId> failing_out;  // steps with a catch edge that leaves the scope
  for (const GraphNode& node : graph.nodes()) {
    if (!node.step || node.synthetic()) continue;
    if (std::binary_search(reads->begin(), reads->end(), node.name)) need(node.id);
    if (node.step->result && !ShapesItsOwnResult(node.kind)) need(node.id);
    for (EdgeId e : node.out) {
      const GraphEdge& edge = graph.edge(e);
      if (!leaves(edge)) continue;
      need(node.id);
      if (edge.kind == GraphEdgeKind::kCatch) failing_out.push_back(node.id);
    }
  }
  // A step that fails into a catch edge leaving its scope does not become
  // `last`: the scope's value is that of the step that completed before it,
  // one that leads to it in the same scope (directly, or through steps that
  // failed into a catch edge too).
  std::vector<char> visited(graph.nodes().size(), 0);
  while (!failing_out.empty()) {
    const GraphNode& node = graph.node(failing_out.back());
    failing_out.pop_back();
    if (visited[static_cast<size_t>(node.id)]) continue;
    visited[static_cast<size_t>(node.id)] = 1;
    for (EdgeId e : node.in) {
      const GraphEdge& edge = graph.edge(e);
      if (edge.kind == GraphEdgeKind::kEnter || leaves(edge)) continue;
      if (graph.node(edge.from).scope != node.scope) continue;
      if (edge.kind == GraphEdgeKind::kCatch) {
        failing_out.push_back(edge.from);
      } else {
        need(edge.from);
      }
    }
  }
}

std::shared_ptr<const WorkflowPlan> MakePlan(const StepGraph& graph) {
  auto plan = std::make_shared<WorkflowPlan>();
  const expr::ExpressionTable* table = graph.expressions().get();
  if (table) {
    for (const auto& entry : table->templates) {
      const std::string& key = entry.first;
      for (size_t pos = key.find('/', 1); pos != std::string::npos; pos = key.find('/', pos + 1)) {
        plan->expression_pointers.insert(key.substr(0, pos));
      }
      plan->expression_pointers.insert(key);
    }
    if (!table->templates.empty()) plan->expression_pointers.insert("");
  }
  auto literal = [&](const ActionSpec& a) {
    // An object or array params value holds an expression exactly when its
    // pointer is an ancestor of an expression string; a string value when it
    // is in the table.
    bool has_expression = a.params.is_string()
                              ? table && table->Find(a.path) != nullptr
                              : plan->expression_pointers.contains(a.path);
    if (!has_expression) plan->literal_params.emplace(&a.params, Unescaped(a.params));
  };
  plan->awaited.assign(graph.nodes().size(), 0);
  plan->visit_slot.assign(graph.nodes().size(), 0);
  plan->frame_steps.assign(graph.nodes().size(), 0);
  // The scope whose frame runs the steps of `scope`.
  auto frame_scope = [&](ScopeId scope) {
    while (scope != kNoScope && graph.scope(scope).kind == ScopeKind::kCaseBody) {
      scope = graph.node(graph.scope(scope).owner).scope;
    }
    return scope;
  };
  std::unordered_map<ScopeId, uint32_t> steps_in_frame;
  for (const GraphNode& node : graph.nodes()) {
    if (node.scope == kNoScope) continue;
    plan->visit_slot[static_cast<size_t>(node.id)] = steps_in_frame[frame_scope(node.scope)]++;
  }
  for (const GraphNode& node : graph.nodes()) {
    if (node.scope == kNoScope) continue;
    plan->frame_steps[static_cast<size_t>(node.id)] = steps_in_frame[frame_scope(node.scope)];
  }
  for (const GraphNode& node : graph.nodes()) {
    if (node.kind == StepKind::kAwait && node.operation.reads >= 0 &&
        static_cast<size_t>(node.operation.reads) < plan->awaited.size()) {
      plan->awaited[static_cast<size_t>(node.operation.reads)] = 1;
    }
    if (!node.step || node.synthetic()) continue;
    if (node.kind == StepKind::kAction) literal(node.step->action);
    if (node.kind == StepKind::kPoll) literal(node.step->poll.check);
  }
  MarkNeededResults(graph, table, plan->result_needed);
  const std::string& file = graph.definition().file();
  auto slash = file.rfind('/');
  plan->workflow_dir = slash == std::string::npos ? "." : file.substr(0, slash);
  if (!graph.definition().input_schema.is_null()) {
    plan->input_schema = std::make_shared<const InputSchema>(graph.definition().input_schema);
  }
  return plan;
}

class Run {
 public:
  // REQUIRES: `invocation` outlives the Run (its first page of operations is
  // used in place).
  Run(const StepGraph& graph, const WorkflowPlan& plan, const P::Invocation& invocation,
      backend::CheckpointClient& client, actions::ActionRunner* actions,
      const EngineOptions& options)
      : g_(graph),
        plan_(plan),
        def_(graph.definition()),
        table_(*graph.expressions()),
        arn_(invocation.durable_execution_arn),
        token_(invocation.checkpoint_token),
        client_(client),
        actions_(actions),
        options_(options),
        next_marker_(invocation.initial_state.next_marker),
        first_page_(invocation.initial_state.operations) {
    pending_.reserve(4);
  }

  Result<P::InvocationOutput> Go() {
    if (!LoadRemainingPages()) return *invocation_error_;
    if (!execution_) return Fatal("Cairn.InvalidInvocation", "the invocation has no EXECUTION operation");
    start_not_durable_ = client_.StartIsNotDurable(arn_);
    json input = ParsePayload(execution_->input_payload);
    if (plan_.input_schema) {
      auto checked = plan_.input_schema->Check(std::move(input));
      if (!checked.ok()) return Fatal("Cairn.InvalidInput", checked.error().message);
      input = std::move(*checked);
    }
    json root_ctx = {{"input", std::move(input)},
                     {"params", options_.params},
                     {"execution", ExecutionContext()},
                     {"steps", json::object()}};
    Frame root(root_ctx);
    Outcome o = RunScope(kRootScope, root);
    // With end_in_last_checkpoint, a successful end's last flush waits for
    // the output (below), so that both share one checkpoint.
    const bool end_in_flush = options_.end_in_last_checkpoint && o.flow == Flow::kDone &&
                              !aborted() && !stopped_;
    if (o.flow != Flow::kAborted && !end_in_flush) Flush();
    if (invocation_error_) return *invocation_error_;
    if (stopped_ && !execution_error_ && o.flow == Flow::kSuspended && !HasPendingOperation()) {
      return MakeError(kDeadlineError, "the invocation stopped before its deadline with nothing "
                                       "pending; everything done so far is checkpointed");
    }
    if (execution_error_) return Failed(*execution_error_);
    switch (o.flow) {
      case Flow::kDone: {
        json output = o.value;
        if (!(o.explicit_succeed && !o.value.is_null()) && def_.has_output) {
          auto rendered = Render(def_.output, "/output", root.ctx);
          if (!rendered.ok()) return Failed(ExpressionError(rendered.error()));
          output = std::move(*rendered);
        }
        P::InvocationOutput out;
        out.status = P::InvocationStatus::kSucceeded;
        out.result = output.dump();
        if (end_in_flush) {
          if (execution_ && out.result->size() <= protocol::kMaxOperationPayloadBytes) {
            OperationUpdate end;
            end.id = execution_->id;
            end.type = P::OperationType::kExecution;
            end.action = OperationAction::kSucceed;
            end.payload = *out.result;
            pending_.push_back(std::move(end));
          }
          if (!Flush()) {
            if (invocation_error_) return *invocation_error_;
            return Failed(*execution_error_);
          }
        }
        return out;
      }
      case Flow::kFailed:
        return Failed(o.error);
      case Flow::kSuspended:
      case Flow::kAborted:
        break;
    }
    return P::InvocationOutput{P::InvocationStatus::kPending, std::nullopt, std::nullopt};
  }

 private:
  // ---- the protocol side ----

  // The invocation carries the first page of operations; GetState gives the
  // rest (PROTOCOL.md: page while NextMarker is non-empty). All pages are
  // fetched before any is indexed, so that the index is sized once.
  bool LoadRemainingPages() {
    size_t total = first_page_.size();
    std::string marker = next_marker_;
    while (!marker.empty()) {
      auto page = client_.GetState(arn_, token_, marker);
      if (!page.ok()) {
        invocation_error_ = page.error();
        return false;
      }
      total += page->operations.size();
      owned_.push_back(std::move(page->operations));
      marker = page->next_marker;
    }
    ops_.Reserve(total + 16);
    for (const auto& op : first_page_) Record(op, /*from_state=*/true);
    for (const auto& page : owned_) {
      for (const auto& op : page) Record(op, /*from_state=*/true);
    }
    return true;
  }

  P::InvocationOutput Failed(const WorkflowError& e) {
    return P::InvocationOutput{P::InvocationStatus::kFailed, std::nullopt, ToErrorObject(e)};
  }
  P::InvocationOutput Fatal(std::string name, std::string message) {
    return Failed(WorkflowError{std::move(name), std::move(message), nullptr});
  }

  json ExecutionContext() const {
    std::string name;
    if (auto parts = P::ParseExecutionArn(arn_)) name = parts->name;
    json started = nullptr;
    if (execution_ && execution_->start_timestamp) {
      started = P::FormatIso8601(*execution_->start_timestamp);
    }
    return {{"name", name}, {"id", arn_}, {"startedAt", started}};
  }

  void Queue(OperationUpdate u) { pending_.push_back(std::move(u)); }

  // Indexes `op` under its id, replacing an earlier version. `op` must stay
  // where it is for the Run's lifetime (in the invocation's first page, or
  // in owned_); the earlier version stays alive too, so a pointer to it that
  // a caller still holds remains valid. An operation from the execution's
  // state (`from_state`) is one that replay has to reach before the engine
  // reports live work (replaying()); an operation a checkpoint returned
  // keeps the mark of the version it replaces, or none.
  void Record(const Operation& op, bool from_state) {
    if (op.type == P::OperationType::kExecution && from_state) execution_ = &op;
    bool unseen = from_state && op.type != P::OperationType::kExecution;
    OperationIndex::Entry* entry = ops_.Insert(op).first;
    entry->op = &op;
    if (unseen && !entry->unseen) {
      entry->unseen = true;
      ++unseen_count_;
    }
  }

  // Sends the queued updates. On failure the invocation is aborted: a stale
  // token or a transient error fails the invocation (it is re-invoked); a
  // permanent rejection fails the execution.
  bool Flush(bool even_if_empty = false) {
    if (aborted()) return false;
    if (pending_.empty() && !even_if_empty) return true;
    P::CheckpointRequest request{token_, std::nullopt, std::move(pending_)};
    pending_.clear();
    pending_.reserve(4);
    auto r = client_.Checkpoint(arn_, request);
    if (!r.ok()) {
      if (backend::ClassifyError(r.error()) == backend::ErrorClass::kPermanent) {
        execution_error_ = WorkflowError{"Cairn.CheckpointRejected", r.error().message, nullptr};
      } else {
        invocation_error_ = r.error();
      }
      return false;
    }
    start_not_durable_ = false;
    if (r->checkpoint_token) token_ = *r->checkpoint_token;
    if (!r->new_state.operations.empty()) {
      for (const auto& op : owned_.emplace_back(std::move(r->new_state.operations))) Record(op, false);
    }
    return true;
  }

  // After the success of a step of the root scope, with
  // end_in_last_checkpoint: the checkpoint is left for the next step's start
  // (RunScope) or, when nothing follows, for the execution's end (Go), so
  // that the last step and the end share one. Durability before the next
  // step starts is kept. Elsewhere, Flush.
  bool FlushOrDefer(const std::string& parent_id) {
    if (options_.end_in_last_checkpoint && parent_id.empty()) {
      deferred_ = true;
      return !aborted();
    }
    return Flush();
  }

  // Before anything that acts outside the process: while the execution's
  // start is not durable (CheckpointClient::StartIsNotDurable), checkpoints
  // what is queued, or nothing, so that the start is. False: aborted.
  bool DurableBeforeEffects() { return !start_not_durable_ || Flush(/*even_if_empty=*/true); }

  bool aborted() const { return invocation_error_.has_value() || execution_error_.has_value(); }

  // True when the service would accept PENDING (PROTOCOL.md › Invocation).
  bool HasPendingOperation() const {
    return ops_.AnyOf([](const Operation& op) {
      return op.type == P::OperationType::kStep ? op.status == OperationStatus::kPending
             : op.type == P::OperationType::kWait || op.type == P::OperationType::kCallback ||
                     op.type == P::OperationType::kChainedInvoke
                 ? op.status == OperationStatus::kStarted
                 : false;
    });
  }

  // The recorded operation `id`, or nullptr. A recorded operation of another
  // type, subtype or name fails the execution (non-determinism).
  const Operation* Find(const std::string& id, OperationType type, const std::string& sub_type,
                        const std::string& name) {
    OperationIndex::Entry* entry = ops_.Find(id);
    if (!entry) return nullptr;
    if (entry->unseen) {
      entry->unseen = false;
      --unseen_count_;
    }
    const Operation& op = *entry->op;
    bool same = op.type == ToProtocol(type) && op.sub_type.value_or("") == sub_type &&
                op.name.value_or("") == name;
    if (!same) {
      execution_error_ = WorkflowError{
          "Cairn.NonDeterministic",
          "operation " + id + " was recorded as " + std::string(P::ToString(op.type)) + " " +
              op.sub_type.value_or("") + " '" + op.name.value_or("") + "' but the workflow now runs " +
              OperationTypeName(type) + " " + sub_type + " '" + name +
              "' there: the workflow changed while this execution was in flight",
          nullptr};
      return nullptr;
    }
    return &op;
  }

  bool replaying() const { return unseen_count_ > 0; }

  void Emit(StepEvent::Kind kind, const std::string& step, const std::string& id, int attempt = 0,
            int64_t duration_ms = 0, std::string detail = {}) {
    if (!options_.on_event || replaying()) return;
    options_.on_event(StepEvent{kind, step, id, attempt, duration_ms, std::move(detail)});
  }

  OperationUpdate Update(const std::string& id, const std::string& parent_id,
                         const std::string& name, OperationType type, const std::string& sub_type,
                         OperationAction action) const {
    OperationUpdate u;
    u.id = id;
    if (!parent_id.empty()) u.parent_id = parent_id;
    if (!name.empty()) u.name = name;
    u.type = ToProtocol(type);
    u.sub_type = sub_type;
    u.action = action;
    return u;
  }

  // ---- expressions ----

  // The value written at `pointer` (the JSON value `value` of the document)
  // with every expression evaluated against `ctx` (`.` and $ctx), or, when
  // `var_ctx` is given, with `.` = `ctx` and $ctx = *var_ctx (expressions
  // over a raw result: `result:`, `poll.until`).
  Result<json> Render(const json& value, const std::string& pointer, const json& ctx,
                      const json* var_ctx = nullptr) const {
    if (value.is_string()) {
      if (const auto* program = table_.Find(pointer)) {
        return var_ctx ? table_.set->Render(*program, ctx, *var_ctx)
                       : table_.set->Render(*program, ctx);
      }
      return Unescaped(value);
    }
    if ((value.is_object() || value.is_array()) && !plan_.expression_pointers.contains(pointer)) {
      return Unescaped(value);
    }
    if (value.is_object()) {
      json out = json::object();
      for (const auto& [k, v] : value.items()) {
        auto r = Render(v, PointerAppend(pointer, k), ctx, var_ctx);
        if (!r.ok()) return r;
        out[k] = std::move(*r);
      }
      return out;
    }
    if (value.is_array()) {
      json out = json::array();
      for (size_t i = 0; i < value.size(); ++i) {
        auto r = Render(value[i], PointerAppend(pointer, i), ctx, var_ctx);
        if (!r.ok()) return r;
        out.push_back(std::move(*r));
      }
      return out;
    }
    return value;
  }

  // The params of `action` when they hold no expression (unescaped, ready to
  // copy), else nullptr: they need Render.
  const json* LiteralParams(const ActionSpec& action) const {
    auto it = plan_.literal_params.find(&action.params);
    return it == plan_.literal_params.end() ? nullptr : &it->second;
  }

  // An expression that failed. jq's `error({error: "Name", message, data})`
  // raises the workflow error Name (LANGUAGE.md › Errors: how a compute step
  // or any expression fails on purpose); every other failure is
  // Cairn.Expression.
  static WorkflowError ExpressionError(const Error& e) {
    json raised = json::parse(e.message, nullptr, /*allow_exceptions=*/false);
    if (raised.is_object() && raised.contains("error") && raised["error"].is_string() &&
        !raised["error"].get_ref<const std::string&>().empty()) {
      WorkflowError named{raised["error"].get<std::string>(), "", nullptr};
      if (raised.contains("message")) named.message = AsText(raised["message"]);
      if (raised.contains("data")) named.data = raised["data"];
      return named;
    }
    return WorkflowError{"Cairn.Expression", e.ToString(), nullptr};
  }

  static actions::ActionOutcome ExpressionFailure(const Error& e) {
    return actions::ActionOutcome{false, nullptr, ExpressionError(e)};
  }

  // The Name of `node`'s operation: its `label:` rendered in the frame (null
  // or empty: no Name), else the step name.
  Result<std::string> OperationName(const GraphNode& node, const Frame& f) const {
    const Step& s = *node.step;
    if (!s.has_label) return node.operation.name;
    if (s.label.is_null()) return std::string();
    auto v = Render(s.label, s.label_path, f.ctx);
    if (!v.ok()) return v.error();
    return v->is_null() ? std::string() : AsText(*v);
  }

  // ---- scopes ----

  Outcome RunScope(ScopeId scope, Frame& f) {
    NodeId current = g_.ScopeEntry(scope);
    // The step whose result is the scope's value so far (the last one that
    // completed), read back from .steps at the end instead of copied at
    // every step. Step names are unique in a workflow (validation), so no
    // other step writes that entry of this frame's .steps meanwhile.
    const GraphNode* last = nullptr;
    bool explicit_succeed = false;
    while (true) {
      const GraphNode& node = g_.node(current);
      // A deferred success becomes durable before the next step starts.
      if (deferred_) {
        deferred_ = false;
        if (!Flush()) return Outcome::Aborted();
      }
      Outcome o = RunStep(node, f);
      if (o.flow == Flow::kSuspended || o.flow == Flow::kAborted) return o;
      const GraphEdge* edge = nullptr;
      if (o.flow == Flow::kFailed) {
        for (EdgeId e : node.out) {
          const GraphEdge& ge = g_.edge(e);
          if (ge.kind == GraphEdgeKind::kCatch &&
              ErrorMatches(node.step->catches[ge.index].errors, o.error.name)) {
            edge = &ge;
            break;
          }
        }
        if (!edge || node.kind == StepKind::kFail) return o;
        f.ctx["error"] = ErrorJson(o.error);
      } else {
        last = &node;
        explicit_succeed = o.explicit_succeed;
        // A result that nothing can use is not kept (WorkflowPlan::result_needed).
        if (ResultNeeded(node)) {
          f.SetStep(node.name, std::move(o.value));
        }
        edge = PickEdge(node, o.case_index, o.skipped);
      }
      if (edge->exit == ScopeExit::kEnd || edge->to == kSucceededNode) {
        // MarkNeededResults keeps the result of every step that can be
        // `last` here: the step that took this edge, or, after a catch edge,
        // a step that led to the one that failed.
        assert(!last || ResultNeeded(*last));
        Outcome done = Outcome::Done(last ? f.ctx["steps"][last->name] : json());
        done.explicit_succeed = explicit_succeed;
        return done;
      }
      current = edge->to;
    }
  }

  // Where control goes after `node` completed. A `fail:` or `succeed:`
  // skipped by its `if:` takes its second kNext edge (BuildScopeFlow: the
  // first one leaves the scope).
  const GraphEdge* PickEdge(const GraphNode& node, int case_index, bool skipped) const {
    if (skipped && (node.kind == StepKind::kFail || node.kind == StepKind::kSucceed)) {
      int seen = 0;
      for (EdgeId e : node.out) {
        const GraphEdge& ge = g_.edge(e);
        if (ge.kind == GraphEdgeKind::kNext && ++seen == 2) return &ge;
      }
    }
    const GraphEdge* fallback = nullptr;
    for (EdgeId e : node.out) {
      const GraphEdge& ge = g_.edge(e);
      if (node.kind == StepKind::kSwitch) {
        if (case_index >= 0 && ge.kind == GraphEdgeKind::kCase && ge.index == case_index) return &ge;
        if (case_index < 0 && ge.kind == GraphEdgeKind::kDefault) return &ge;
      } else if (ge.kind == GraphEdgeKind::kNext) {
        return &ge;
      }
      if (ge.kind == GraphEdgeKind::kNext) fallback = &ge;
    }
    return fallback;
  }

  // Runs the step and applies its `result:` to what kinds that do not
  // shape their result themselves (actions and poll do, before
  // checkpointing) produce.
  Outcome RunStep(const GraphNode& node, Frame& f) {
    Outcome o = RunStepKind(node, f);
    const Step& s = *node.step;
    if (o.flow != Flow::kDone || !s.result || ShapesItsOwnResult(node.kind) || o.skipped) return o;
    auto shaped = Render(json(*s.result), PointerAppend(s.path, "result"), o.value, &f.ctx);
    if (!shaped.ok()) return Outcome::Failed(ExpressionError(shaped.error()));
    o.value = std::move(*shaped);
    return o;
  }

  Outcome RunStepKind(const GraphNode& node, Frame& f) {
    const Step& s = *node.step;
    const size_t n = static_cast<size_t>(node.id);
    const size_t slot = plan_.visit_slot[n];
    if (slot >= f.visits.size()) f.visits.resize(std::max<size_t>(plan_.frame_steps[n], slot + 1));
    uint64_t visit = f.visits[slot]++;
    std::string id = OperationId(f.parent_id, node.name, visit);
    if (plan_.awaited[static_cast<size_t>(node.id)]) f.last_operation[node.id] = id;
    if (stopped_ || (options_.should_stop && options_.should_stop())) {
      stopped_ = true;
      return Outcome::Suspended();
    }
    if (!s.condition.is_null()) {
      auto c = Render(s.condition, PointerAppend(s.path, "if"), f.ctx);
      if (!c.ok()) return Outcome::Failed(ExpressionError(c.error()));
      if (!Truthy(*c)) {
        Outcome skipped = Outcome::Done(nullptr);
        skipped.skipped = true;
        return skipped;
      }
    }
    if (s.log && !replaying()) {
      auto msg = Render(json(*s.log), PointerAppend(s.path, "log"), f.ctx);
      Emit(StepEvent::Kind::kLog, node.name, id, 0, 0, msg.ok() ? AsText(*msg) : *s.log);
    }
    switch (node.kind) {
      case StepKind::kAction:
        if (s.wait_for_callback) {
          return RetryContext(node, f, id, [&](const std::string& aid) {
            return RunWaitForCallback(node, f, aid);
          });
        }
      {
        auto name = OperationName(node, f);
        if (!name.ok()) return Outcome::Failed(ExpressionError(name.error()));
        return RunAction(node, id, f.parent_id, *name, s.action, f.ctx, ResultNeeded(node));
      }
      case StepKind::kWaitForCallback:
        return RetryContext(node, f, id, [&](const std::string& aid) {
          return RunWaitForCallback(node, f, aid);
        });
      case StepKind::kWait:
        return RunWait(node, f, id);
      case StepKind::kCallback:
        return RunCallback(node, f, id);
      case StepKind::kAwait:
        return RunAwait(node, f);
      case StepKind::kPoll:
        return RunPoll(node, f, id);
      case StepKind::kSet: {
        auto v = Render(s.set_value, PointerAppend(s.path, "set"), f.ctx);
        if (!v.ok()) return Outcome::Failed(ExpressionError(v.error()));
        return Outcome::Done(std::move(*v));
      }
      case StepKind::kSwitch:
        return RunSwitch(node, f);
      case StepKind::kGroup:
        return RetryContext(node, f, id,
                            [&](const std::string& aid) { return RunGroup(node, f, aid); });
      case StepKind::kParallel:
      case StepKind::kMap:
        return RetryContext(node, f, id,
                            [&](const std::string& aid) { return RunBatch(node, f, aid); });
      case StepKind::kSucceed: {
        auto v = Render(s.succeed_value, PointerAppend(s.path, "succeed"), f.ctx);
        if (!v.ok()) return Outcome::Failed(ExpressionError(v.error()));
        Outcome o = Outcome::Done(std::move(*v));
        o.explicit_succeed = true;
        return o;
      }
      case StepKind::kFail:
        return Outcome::Failed(RenderFail(s.fail, f.ctx));
      case StepKind::kInvalid:
        break;
    }
    return Outcome::Failed({"Cairn.Internal", "step '" + node.name + "' has no kind", nullptr});
  }

  WorkflowError RenderFail(const FailSpec& spec, const json& ctx) const {
    WorkflowError e{"Cairn.Failed", "", nullptr};
    auto name = Render(spec.error, PointerAppend(spec.path, "error"), ctx);
    if (name.ok() && !name->is_null()) e.name = AsText(*name);
    if (!spec.cause.is_null()) {
      auto cause = Render(spec.cause, PointerAppend(spec.path, "cause"), ctx);
      e.message = cause.ok() ? AsText(*cause) : cause.error().ToString();
    }
    return e;
  }

  // ---- retries ----

  const RetrySpec* RetryPolicyOf(const Step& s) const {
    if (s.retry) return &*s.retry;
    if (s.kind == StepKind::kAction && def_.retry_defaults) return &*def_.retry_defaults;
    return nullptr;
  }

  // Seconds before attempt `attempt + 1`, or nullopt when no retry is due.
  std::optional<int64_t> RetryDelay(const RetrySpec* policy, const WorkflowError& e, int attempt) {
    if (!policy || attempt >= policy->max_attempts || !ErrorMatches(policy->errors, e.name)) {
      return std::nullopt;
    }
    double base = policy->interval.value ? static_cast<double>(policy->interval.value->millis) : 1000;
    double delay = base * std::pow(policy->backoff, attempt - 1);
    if (policy->max_delay.value) delay = std::min(delay, static_cast<double>(policy->max_delay.value->millis));
    delay = std::min(delay, static_cast<double>(P::kMaxDelaySeconds) * 1000);
    if (policy->jitter == Jitter::kFull) {
      delay = std::uniform_real_distribution<double>(0, delay)(Rng());
    } else if (policy->jitter == Jitter::kEqual) {
      delay = delay / 2 + std::uniform_real_distribution<double>(0, delay / 2)(Rng());
    }
    return CeilSeconds(static_cast<int64_t>(delay));
  }

  // ---- retries of steps that run a CONTEXT ----

  // `retry:` on a group, parallel, map or waitForCallback step. A CONTEXT
  // cannot RETRY (PROTOCOL.md), so each attempt is a CONTEXT of its own: the
  // first under the step's id `id` (as without retry), attempt n > 1 under
  // OperationId(id, "attempt", n), whose children therefore get new ids too
  // and run afresh. Between attempts a WAIT operation OperationId(id,
  // "retry", n) (subtype Wait, named after the step) holds the retry delay.
  // Replay is deterministic: a recorded WAIT means the retry was decided;
  // without one the decision is taken from the recorded error of attempt n.
  // A waitForCallback step's submitter action retries as a STEP with the same
  // policy, so only the callback's errors (Callback.*) re-run the context:
  // a new callback, and the submitter again.
  template <typename Body>
  Outcome RetryContext(const GraphNode& node, Frame& f, const std::string& id, Body body) {
    const Step& s = *node.step;
    const RetrySpec* policy = s.retry ? &*s.retry : nullptr;
    const bool callback_only = node.kind == StepKind::kAction || node.kind == StepKind::kWaitForCallback;
    for (int attempt = 1;; ++attempt) {
      Outcome o = body(attempt == 1 ? id : OperationId(id, "attempt", static_cast<uint64_t>(attempt)));
      if (o.flow != Flow::kFailed || !policy) return o;
      if (callback_only && o.error.name.rfind("Callback.", 0) != 0) return o;
      const std::string wait_id = OperationId(id, "retry", static_cast<uint64_t>(attempt));
      const Operation* wait = Find(wait_id, OperationType::kWait, kSubTypeWait, node.name);
      if (aborted()) return Outcome::Aborted();
      if (wait) {
        if (wait->status == OperationStatus::kStarted) return Outcome::Suspended();
        continue;  // the delay is over: next attempt
      }
      auto delay = RetryDelay(policy, o.error, attempt);
      if (!delay) return o;
      OperationUpdate u = Update(wait_id, f.parent_id, node.name, OperationType::kWait, kSubTypeWait,
                                 OperationAction::kStart);
      u.wait_seconds = *delay;
      Queue(std::move(u));
      if (!Flush()) return Outcome::Aborted();
      Emit(StepEvent::Kind::kRetrying, node.name, id, attempt, 0,
           o.error.name + ": " + o.error.message + " (next attempt in " + std::to_string(*delay) + "s)");
      return Outcome::Suspended();
    }
  }

  // ---- steps with a STEP operation ----

  // A recorded result as the value of `node`: null, without parsing it, when
  // nothing uses the value (WorkflowPlan::result_needed).
  json RecordedValue(const GraphNode& node, const std::optional<std::string>& payload) const {
    return ResultNeeded(node) ? ParsePayload(payload) : json();
  }

  bool ResultNeeded(const GraphNode& node) const {
    return plan_.result_needed[static_cast<size_t>(node.id)] != 0;
  }

  // Where a recorded STEP stands: settled (succeeded, failed, or waiting for
  // its next attempt), or not: then `*attempt` is the attempt to run now. A
  // success whose value is not needed is not parsed (null).
  static std::optional<Outcome> ReplayStep(const Operation* op, bool value_needed, int* attempt) {
    *attempt = 1;
    if (!op) return std::nullopt;
    switch (op->status) {
      case OperationStatus::kSucceeded:
        return Outcome::Done(value_needed ? ParsePayload(op->result) : json());
      case OperationStatus::kPending: return Outcome::Suspended();
      case OperationStatus::kReady:
      case OperationStatus::kStarted: *attempt = op->attempt.value_or(0) + 1; return std::nullopt;
      default: return Outcome::Failed(FromErrorObject(op->error));
    }
  }

  // One STEP operation that runs `action` (an action step, or the submitter
  // of a WaitForCallback context), with retries. `value_needed`: whether a
  // recorded success is parsed (ReplayStep).
  Outcome RunAction(const GraphNode& node, const std::string& id, const std::string& parent_id, const std::string& name,
                    const ActionSpec& action, json& ctx, bool value_needed) {
    const Step& s = *node.step;
    const Operation* op = Find(id, OperationType::kStep, kSubTypeStep, name);
    if (aborted()) return Outcome::Aborted();
    int attempt = 1;
    if (auto settled = ReplayStep(op, value_needed, &attempt)) return *settled;
    bool was_started = op && op->status == OperationStatus::kStarted;
    int64_t t0 = options_.clock->MonotonicNanos();
    actions::ActionOutcome outcome;
    if (was_started && s.semantics == Semantics::kAtMostOncePerRetry) {
      outcome = actions::ActionOutcome::Failure(
          "Cairn.Interrupted",
          "attempt " + std::to_string(attempt) +
              " was interrupted while running; atMostOncePerRetry forbids running it again");
    } else {
      Result<json> params = [&]() -> Result<json> {
        if (const json* literal = LiteralParams(action)) return *literal;
        ScopedKey with_attempt(ctx, "attempt", attempt);
        return Render(action.params, action.path, ctx);
      }();
      if (!was_started) {
        Queue(Update(id, parent_id, name, OperationType::kStep, kSubTypeStep, OperationAction::kStart));
      }
      if (s.semantics == Semantics::kAtMostOncePerRetry && !Flush()) return Outcome::Aborted();
      Emit(StepEvent::Kind::kStarted, node.name, id, attempt);
      if (!params.ok()) {
        outcome = ExpressionFailure(params.error());
      } else if (action.type == kComputeAction) {
        outcome = actions::ActionOutcome::Success(std::move(*params));
      } else if (!DurableBeforeEffects()) {
        return Outcome::Aborted();
      } else {
        actions::ActionRequest request;
        request.type = action.type;
        request.params = std::move(*params);
        request.operation_id = id;
        request.attempt = attempt;
        request.timeout = s.timeout.value;
        request.workflow_dir = plan_.workflow_dir;
        request.execution_arn = arn_;
        outcome = actions_->Run(request);
      }
    }
    int64_t ms = (options_.clock->MonotonicNanos() - t0) / 1'000'000;
    if (outcome.ok) {
      json value = std::move(outcome.result);
      if (s.result) {
        Result<json> shaped = [&] {
          ScopedKey with_attempt(ctx, "attempt", attempt);
          return Render(json(*s.result), PointerAppend(s.path, "result"), value, &ctx);
        }();
        if (!shaped.ok()) {
          outcome = actions::ActionOutcome::Failure("Cairn.Expression", shaped.error().ToString());
        } else {
          value = std::move(*shaped);
        }
      }
      if (outcome.ok) {
        std::string payload = value.dump();
        if (payload.size() <= P::kMaxOperationPayloadBytes) {
          OperationUpdate u = Update(id, parent_id, name, OperationType::kStep, kSubTypeStep,
                                     OperationAction::kSucceed);
          u.payload = std::move(payload);
          Queue(std::move(u));
          if (!FlushOrDefer(parent_id)) return Outcome::Aborted();
          Emit(StepEvent::Kind::kSucceeded, node.name, id, attempt, ms);
          return Outcome::Done(std::move(value));
        }
        outcome = actions::ActionOutcome::Failure(
            "Cairn.PayloadTooLarge",
            "the result of step '" + node.name + "' is " + std::to_string(payload.size()) +
                " bytes; a checkpointed result may be at most " +
                std::to_string(P::kMaxOperationPayloadBytes) +
                " bytes (use `result:` to keep only what later steps need)");
      }
    }
    return FailAttempt(node, id, parent_id, name, kSubTypeStep, outcome.error, attempt, ms);
  }

  // A failed attempt of a STEP: RETRY when the policy allows, else FAIL.
  Outcome FailAttempt(const GraphNode& node, const std::string& id, const std::string& parent_id,
                      const std::string& name, const std::string& sub_type,
                      const WorkflowError& error, int attempt, int64_t ms) {
    auto delay = RetryDelay(RetryPolicyOf(*node.step), error, attempt);
    OperationUpdate u = Update(id, parent_id, name, OperationType::kStep, sub_type,
                               delay ? OperationAction::kRetry : OperationAction::kFail);
    u.error = ToErrorObject(error);
    if (delay) u.next_attempt_delay_seconds = *delay;
    Queue(std::move(u));
    if (!Flush()) return Outcome::Aborted();
    if (delay) {
      Emit(StepEvent::Kind::kRetrying, node.name, id, attempt, ms,
           error.name + ": " + error.message + " (next attempt in " + std::to_string(*delay) + "s)");
      return Outcome::Suspended();
    }
    Emit(StepEvent::Kind::kFailed, node.name, id, attempt, ms, error.name + ": " + error.message);
    return Outcome::Failed(error);
  }

  // ---- waits and callbacks ----

  Outcome RunWait(const GraphNode& node, Frame& f, const std::string& id) {
    const Step& s = *node.step;
    auto op_name = OperationName(node, f);
    if (!op_name.ok()) return Outcome::Failed(ExpressionError(op_name.error()));
    const std::string& name = *op_name;
    const Operation* op = Find(id, OperationType::kWait, kSubTypeWait, name);
    if (aborted()) return Outcome::Aborted();
    if (op) {
      if (op->status == OperationStatus::kStarted) return Outcome::Suspended();
      return Outcome::Done(nullptr);
    }
    int64_t seconds = 0;
    if (s.wait.duration.value) {
      seconds = CeilSeconds(s.wait.duration.value->millis);
    } else {
      const std::string& ptr = s.wait.duration.present() ? s.wait.duration.path : s.wait.until_path;
      const json& raw = s.wait.duration.present() ? s.wait.duration.raw : s.wait.until;
      auto v = Render(raw, ptr, f.ctx);
      if (!v.ok()) return Outcome::Failed(ExpressionError(v.error()));
      if (s.wait.duration.present()) {
        Result<Duration> d = v->is_number() ? DurationFromSeconds(v->get<double>())
                             : v->is_string() ? ParseDuration(v->get<std::string>())
                                              : Result<Duration>(MakeError("duration", "not a duration"));
        if (!d.ok()) return Outcome::Failed({"Cairn.InvalidWait", d.error().message, *v});
        seconds = CeilSeconds(d->millis);
      } else {
        auto until = P::TimestampFromJson(*v);
        if (!until.ok()) return Outcome::Failed({"Cairn.InvalidWait", until.error().message, *v});
        seconds = CeilSeconds(*until - options_.clock->NowMillis());
      }
    }
    seconds = std::min(seconds, P::kMaxDelaySeconds);
    OperationUpdate u = Update(id, f.parent_id, name, OperationType::kWait,
                               kSubTypeWait, OperationAction::kStart);
    u.wait_seconds = seconds;
    Queue(std::move(u));
    if (!Flush()) return Outcome::Aborted();
    Emit(StepEvent::Kind::kWaiting, node.name, id, 0, 0, std::to_string(seconds) + "s");
    return Outcome::Suspended();
  }

  void AddCallbackOptions(OperationUpdate& u, const CallbackSpec& spec) const {
    if (spec.timeout.value) u.callback_timeout_seconds = CeilSeconds(spec.timeout.value->millis);
    if (spec.heartbeat.value) {
      u.callback_heartbeat_timeout_seconds = CeilSeconds(spec.heartbeat.value->millis);
    }
  }

  static WorkflowError CallbackError(const Operation& op) {
    if (op.status == OperationStatus::kTimedOut) {
      WorkflowError e = FromErrorObject(op.error);
      if (e.name != "Callback.Heartbeat") e.name = "Callback.Timeout";
      if (e.message.empty()) e.message = "the callback was not completed in time";
      return e;
    }
    json data = nullptr;
    if (op.error) {
      data = {{"errorType", op.error->type}, {"errorMessage", op.error->message},
              {"errorData", op.error->data ? ParsePayload(op.error->data) : json()}};
    }
    // As the SDKs' CallbackError: the sender's message; its ErrorType is in
    // data.errorType.
    std::string message = op.error && !op.error->message.empty() ? op.error->message
                          : op.error && !op.error->type.empty() ? op.error->type
                                                                 : "the callback was failed";
    return WorkflowError{"Callback.Failed", message, data};
  }

  // `callback:` creates a callback and goes on; its value is {id}.
  Outcome RunCallback(const GraphNode& node, Frame& f, const std::string& id) {
    const Step& s = *node.step;
    const std::string name = CallbackName(node, f);
    const Operation* op = Find(id, OperationType::kCallback, kSubTypeCallback, name);
    if (aborted()) return Outcome::Aborted();
    if (!op) {
      OperationUpdate u = Update(id, f.parent_id, name, OperationType::kCallback, kSubTypeCallback,
                                 OperationAction::kStart);
      AddCallbackOptions(u, s.callback);
      Queue(std::move(u));
      if (!Flush()) return Outcome::Aborted();
      op = Find(id, OperationType::kCallback, kSubTypeCallback, name);
      if (!op || !op->callback_id) return Protocol("the service made no CallbackId for " + id);
      Emit(StepEvent::Kind::kCallbackWaiting, node.name, id, 0, 0, *op->callback_id);
    }
    return Outcome::Done(json{{"id", op->callback_id.value_or("")}});
  }

  // The Name of a `callback:` step's operation: its `name:` (rendered), else
  // the step name.
  std::string CallbackName(const GraphNode& node, const Frame& f) {
    const Step& s = *node.step;
    if (s.has_label) {
      auto labelled = OperationName(node, f);
      return labelled.ok() ? *labelled : node.operation.name;
    }
    std::string ptr = PointerAppend(PointerAppend(s.path, "callback"), "name");
    const json& root = def_.document.root();
    json::json_pointer jp(ptr);
    if (!root.contains(jp)) return node.operation.name;
    auto v = Render(root.at(jp), ptr, f.ctx);
    return v.ok() ? AsText(*v) : node.operation.name;
  }

  Outcome Protocol(std::string message) {
    invocation_error_ = MakeError("engine", std::move(message));
    return Outcome::Aborted();
  }

  Outcome RunAwait(const GraphNode& node, Frame& f) {
    NodeId source = node.operation.reads;
    std::string cb_id;
    for (Frame* fr = &f; fr && cb_id.empty(); fr = fr->outer) {
      auto it = fr->last_operation.find(source);
      if (it != fr->last_operation.end()) cb_id = it->second;
    }
    const OperationIndex::Entry* entry = cb_id.empty() ? nullptr : ops_.Find(cb_id);
    if (!entry) {
      return Outcome::Failed({"Cairn.CallbackNotCreated",
                              "await '" + g_.node(source).name + "': the callback was not created",
                              nullptr});
    }
    const Operation& op = *entry->op;
    if (op.status == OperationStatus::kStarted) return Outcome::Suspended();
    if (op.status == OperationStatus::kSucceeded) {
      return Outcome::Done(RecordedValue(node, op.result));
    }
    return Outcome::Failed(CallbackError(op));
  }

  // An action with waitForCallback (the action is the submitter), or a
  // waitForCallback step alone: a WaitForCallback CONTEXT holding the CALLBACK
  // (and the submitter STEP).
  Outcome RunWaitForCallback(const GraphNode& node, Frame& f, const std::string& id) {
    const Step& s = *node.step;
    auto op_name = OperationName(node, f);
    if (!op_name.ok()) return Outcome::Failed(ExpressionError(op_name.error()));
    const std::string& name = *op_name;
    const Operation* ctx_op = Find(id, OperationType::kContext, kSubTypeWaitForCallback, name);
    if (aborted()) return Outcome::Aborted();
    if (ctx_op && ctx_op->status == OperationStatus::kSucceeded) {
      return Outcome::Done(RecordedValue(node, ctx_op->result));
    }
    if (ctx_op && ctx_op->status != OperationStatus::kStarted) {
      return Outcome::Failed(FromErrorObject(ctx_op->error));
    }
    const ChildOperation* cb_child = nullptr;
    const ChildOperation* sub_child = nullptr;
    for (const auto& c : node.operation.children) {
      if (c.role == ChildRole::kCallback) cb_child = &c;
      if (c.role == ChildRole::kSubmitter) sub_child = &c;
    }
    std::string cb_id = ChildOperationId(id, *cb_child);
    if (!ctx_op) {
      Queue(Update(id, f.parent_id, name, OperationType::kContext, kSubTypeWaitForCallback,
                   OperationAction::kStart));
    }
    const Operation* cb = Find(cb_id, OperationType::kCallback, kSubTypeCallback, "");
    if (aborted()) return Outcome::Aborted();
    const CallbackSpec& spec = s.wait_for_callback ? *s.wait_for_callback : s.callback;
    if (!cb) {
      OperationUpdate u =
          Update(cb_id, id, "", OperationType::kCallback, kSubTypeCallback, OperationAction::kStart);
      AddCallbackOptions(u, spec);
      Queue(std::move(u));
      if (!Flush()) return Outcome::Aborted();
      cb = Find(cb_id, OperationType::kCallback, kSubTypeCallback, "");
      if (!cb || !cb->callback_id) return Protocol("the service made no CallbackId for " + cb_id);
    }
    json submitted;
    if (sub_child) {
      std::string sub_id = ChildOperationId(id, *sub_child);
      Outcome sub = [&] {
        ScopedKey with_callback(f.ctx, "callback", {{"id", cb->callback_id.value_or("")}});
        // The submitter's value is the context's `submitted`: always needed.
        return RunAction(node, sub_id, id, "", s.action, f.ctx, /*value_needed=*/true);
      }();
      if (sub.flow == Flow::kSuspended || sub.flow == Flow::kAborted) return sub;
      if (sub.flow == Flow::kFailed) return CloseContext(node, f, id, name, kSubTypeWaitForCallback, sub);
      submitted = std::move(sub.value);
    }
    cb = Find(cb_id, OperationType::kCallback, kSubTypeCallback, "");
    if (!cb) return Protocol("callback " + cb_id + " disappeared");
    if (cb->status == OperationStatus::kStarted) {
      Emit(StepEvent::Kind::kCallbackWaiting, node.name, id, 0, 0, cb->callback_id.value_or(""));
      return Outcome::Suspended();
    }
    if (cb->status == OperationStatus::kSucceeded) {
      json result = ParsePayload(cb->result);
      json value = sub_child ? json{{"result", std::move(result)}, {"submitted", std::move(submitted)}}
                             : std::move(result);
      return CloseContext(node, f, id, name, kSubTypeWaitForCallback, Outcome::Done(std::move(value)));
    }
    return CloseContext(node, f, id, name, kSubTypeWaitForCallback,
                        Outcome::Failed(CallbackError(*cb)));
  }

  // Records the end of a CONTEXT operation with the outcome of its body.
  Outcome CloseContext(const GraphNode& node, Frame& f, const std::string& id,
                       const std::string& name, const std::string& sub_type, Outcome o,
                       const std::string& parent_override = {}, bool use_override = false) {
    const std::string& parent = use_override ? parent_override : f.parent_id;
    if (o.flow == Flow::kDone) {
      std::string payload = o.value.dump();
      if (payload.size() > P::kMaxOperationPayloadBytes) {
        o = Outcome::Failed({"Cairn.PayloadTooLarge",
                             "the result of '" + node.name + "' is " + std::to_string(payload.size()) +
                                 " bytes; at most " + std::to_string(P::kMaxOperationPayloadBytes) +
                                 " can be checkpointed",
                             nullptr});
      } else {
        OperationUpdate u = Update(id, parent, name, OperationType::kContext, sub_type,
                                   OperationAction::kSucceed);
        u.payload = std::move(payload);
        Queue(std::move(u));
        if (!FlushOrDefer(parent)) return Outcome::Aborted();
        return o;
      }
    }
    OperationUpdate u =
        Update(id, parent, name, OperationType::kContext, sub_type, OperationAction::kFail);
    u.error = ToErrorObject(o.error);
    Queue(std::move(u));
    if (!Flush()) return Outcome::Aborted();
    return o;
  }

  // ---- poll ----

  Outcome RunPoll(const GraphNode& node, Frame& f, const std::string& id) {
    const Step& s = *node.step;
    const PollSpec& p = s.poll;
    auto op_name = OperationName(node, f);
    if (!op_name.ok()) return Outcome::Failed(ExpressionError(op_name.error()));
    const std::string& name = *op_name;
    const Operation* op = Find(id, OperationType::kStep, kSubTypeWaitForCondition, name);
    if (aborted()) return Outcome::Aborted();
    int attempt = 1;
    if (auto settled = ReplayStep(op, ResultNeeded(node), &attempt)) return *settled;
    int64_t now = options_.clock->NowMillis();
    int64_t started = op && op->start_timestamp ? *op->start_timestamp : now;
    if (!op || op->status != OperationStatus::kStarted) {
      Queue(Update(id, f.parent_id, name, OperationType::kStep, kSubTypeWaitForCondition,
                   OperationAction::kStart));
    }
    Emit(StepEvent::Kind::kStarted, node.name, id, attempt);
    int64_t t0 = options_.clock->MonotonicNanos();
    // The frame's context with .attempt until this function returns (it is
    // the context of the check, of `until` and of `result:`).
    ScopedKey with_attempt(f.ctx, "attempt", attempt);
    const json& ctx = f.ctx;
    const json* literal = LiteralParams(p.check);
    auto params = literal ? Result<json>(*literal) : Render(p.check.params, p.check.path, ctx);
    if (params.ok() && p.check.type != kComputeAction && !DurableBeforeEffects()) {
      return Outcome::Aborted();
    }
    actions::ActionOutcome outcome =
        !params.ok() ? ExpressionFailure(params.error())
        : p.check.type == kComputeAction
            ? actions::ActionOutcome::Success(std::move(*params))
            : actions_->Run(actions::ActionRequest{p.check.type, std::move(*params), id, attempt,
                                                   s.timeout.value, plan_.workflow_dir, arn_});
    int64_t ms = (options_.clock->MonotonicNanos() - t0) / 1'000'000;
    if (!outcome.ok) {
      return FailAttempt(node, id, f.parent_id, name, kSubTypeWaitForCondition, outcome.error,
                         attempt, ms);
    }
    // `.` is this check's result; $ctx the step's context with .attempt.
    auto done = Render(p.until, p.until_path, outcome.result, &ctx);
    if (!done.ok()) {
      return FailAttempt(node, id, f.parent_id, name, kSubTypeWaitForCondition,
                         ExpressionError(done.error()), attempt, ms);
    }
    json value = std::move(outcome.result);
    if (Truthy(*done)) {
      if (s.result) {
        auto shaped = Render(json(*s.result), PointerAppend(s.path, "result"), value, &ctx);
        if (!shaped.ok()) {
          return FailAttempt(node, id, f.parent_id, name, kSubTypeWaitForCondition,
                             ExpressionError(shaped.error()), attempt, ms);
        }
        value = std::move(*shaped);
      }
      OperationUpdate u = Update(id, f.parent_id, name, OperationType::kStep,
                                 kSubTypeWaitForCondition, OperationAction::kSucceed);
      u.payload = value.dump();
      Queue(std::move(u));
      if (!Flush()) return Outcome::Aborted();
      Emit(StepEvent::Kind::kSucceeded, node.name, id, attempt, ms);
      return Outcome::Done(std::move(value));
    }
    // Not yet: schedule the next check, unless out of attempts or time.
    double interval = p.interval.value ? static_cast<double>(p.interval.value->millis) : 5000;
    double delay = interval * std::pow(p.backoff_rate, attempt - 1);
    if (p.backoff_max.value) delay = std::min(delay, static_cast<double>(p.backoff_max.value->millis));
    int64_t delay_s = CeilSeconds(static_cast<int64_t>(std::min(delay, 1e12)));
    std::optional<int64_t> max_attempts;
    if (p.max_attempts.is_number_integer()) max_attempts = p.max_attempts.get<int64_t>();
    bool out_of_attempts = max_attempts && attempt >= *max_attempts;
    bool out_of_time = p.timeout.value && now + delay_s * 1000 - started > p.timeout.value->millis;
    if (out_of_attempts || out_of_time) {
      WorkflowError e{"Cairn.Timeout",
                      out_of_attempts ? "the condition was not met after " + std::to_string(attempt) + " checks"
                                      : "the condition was not met within " + p.timeout.value->ToString(),
                      value};
      OperationUpdate u = Update(id, f.parent_id, name, OperationType::kStep,
                                 kSubTypeWaitForCondition, OperationAction::kFail);
      u.error = ToErrorObject(e);
      Queue(std::move(u));
      if (!Flush()) return Outcome::Aborted();
      Emit(StepEvent::Kind::kFailed, node.name, id, attempt, ms, e.message);
      return Outcome::Failed(e);
    }
    OperationUpdate u = Update(id, f.parent_id, name, OperationType::kStep, kSubTypeWaitForCondition,
                               OperationAction::kRetry);
    u.payload = value.dump();
    u.next_attempt_delay_seconds = delay_s;
    Queue(std::move(u));
    if (!Flush()) return Outcome::Aborted();
    Emit(StepEvent::Kind::kRetrying, node.name, id, attempt, ms,
         "condition not met; next check in " + std::to_string(delay_s) + "s");
    return Outcome::Suspended();
  }

  // ---- switch and group ----

  Outcome RunSwitch(const GraphNode& node, Frame& f) {
    const Step& s = *node.step;
    for (size_t i = 0; i < s.cases.size(); ++i) {
      const SwitchCase& c = s.cases[i];
      auto cond = Render(c.condition, PointerAppend(c.path, "if"), f.ctx);
      if (!cond.ok()) return Outcome::Failed(ExpressionError(cond.error()));
      if (!Truthy(*cond)) continue;
      if (c.fail) return Outcome::Failed(RenderFail(*c.fail, f.ctx));
      Outcome o = Outcome::Done(nullptr);
      if (c.has_succeed) {
        auto v = Render(c.succeed, PointerAppend(c.path, "succeed"), f.ctx);
        if (!v.ok()) return Outcome::Failed(ExpressionError(v.error()));
        o = Outcome::Done(std::move(*v));
        o.explicit_succeed = true;
      } else if (c.has_steps) {
        // A case body runs in the switch's frame: same parent, same context.
        for (ScopeId sc : node.child_scopes) {
          const GraphScope& scope = g_.scope(sc);
          if (scope.kind == ScopeKind::kCaseBody && scope.index == static_cast<int>(i)) {
            o = RunScope(sc, f);
            break;
          }
        }
        if (o.flow != Flow::kDone) return o;
        o.explicit_succeed = false;
      }
      o.case_index = static_cast<int>(i);
      return o;
    }
    return Outcome::Done(nullptr);
  }

  Outcome RunGroup(const GraphNode& node, Frame& f, const std::string& id) {
    auto op_name = OperationName(node, f);
    if (!op_name.ok()) return Outcome::Failed(ExpressionError(op_name.error()));
    const std::string& name = *op_name;
    const std::string& sub_type = node.operation.sub_type;
    const Operation* op = Find(id, OperationType::kContext, sub_type, name);
    if (aborted()) return Outcome::Aborted();
    if (op && op->status == OperationStatus::kSucceeded) {
      return Outcome::Done(RecordedValue(node, op->result));
    }
    if (op && op->status != OperationStatus::kStarted) return Outcome::Failed(FromErrorObject(op->error));
    if (!op) Queue(Update(id, f.parent_id, name, OperationType::kContext, sub_type, OperationAction::kStart));
    Outcome o;
    {
      Frame inner(id, f);
      o = RunScope(node.child_scopes.at(0), inner);
    }
    if (o.flow == Flow::kSuspended || o.flow == Flow::kAborted) return o;
    o.explicit_succeed = false;
    if (o.flow == Flow::kDone && node.step->result) {
      // The group's `result:` decides what its CONTEXT records.
      auto shaped = Render(json(*node.step->result), PointerAppend(node.step->path, "result"),
                           o.value, &f.ctx);
      if (shaped.ok()) {
        o.value = std::move(*shaped);
      } else {
        o = Outcome::Failed(ExpressionError(shaped.error()));
      }
    }
    return CloseContext(node, f, id, name, sub_type, std::move(o));
  }

  // ---- parallel and map ----

  std::optional<double> PolicyNumber(const json& raw, const std::string& pointer, const json& ctx,
                                     WorkflowError* error) const {
    if (raw.is_null()) return std::nullopt;
    auto v = Render(raw, pointer, ctx);
    if (!v.ok() || !v->is_number()) {
      *error = {"Cairn.InvalidPolicy", pointer + ": expected a number", v.ok() ? *v : json()};
      return std::nullopt;
    }
    return v->get<double>();
  }

  Outcome RunBatch(const GraphNode& node, Frame& f, const std::string& id) {
    const Step& s = *node.step;
    const bool is_map = node.kind == StepKind::kMap;
    auto op_name = OperationName(node, f);
    if (!op_name.ok()) return Outcome::Failed(ExpressionError(op_name.error()));
    const std::string& name = *op_name;
    const std::string& sub_type = node.operation.sub_type;
    const Operation* op = Find(id, OperationType::kContext, sub_type, name);
    if (aborted()) return Outcome::Aborted();
    bool has_tolerance = !s.policy.tolerated_failure_count.is_null() ||
                         !s.policy.tolerated_failure_percentage.is_null();
    if (op && op->status == OperationStatus::kSucceeded) {
      return FromBatch(ParsePayload(op->result), has_tolerance);
    }
    if (op && op->status != OperationStatus::kStarted) return Outcome::Failed(FromErrorObject(op->error));

    std::string kind_path = PointerAppend(s.path, is_map ? "map" : "parallel");
    WorkflowError policy_error;
    auto max_conc = PolicyNumber(s.policy.max_concurrency, PointerAppend(kind_path, "maxConcurrency"), f.ctx, &policy_error);
    auto tol_count = PolicyNumber(s.policy.tolerated_failure_count, PointerAppend(kind_path, "toleratedFailureCount"), f.ctx, &policy_error);
    auto tol_pct = PolicyNumber(s.policy.tolerated_failure_percentage, PointerAppend(kind_path, "toleratedFailurePercentage"), f.ctx, &policy_error);
    auto min_ok = PolicyNumber(s.policy.min_successful, PointerAppend(kind_path, "minSuccessful"), f.ctx, &policy_error);
    if (!policy_error.name.empty()) return Outcome::Failed(policy_error);
    if (max_conc && *max_conc < 1) {
      return Outcome::Failed({"Cairn.InvalidPolicy", "maxConcurrency must be at least 1", *max_conc});
    }

    json items = json::array();
    size_t total = s.branches.size();
    if (is_map) {
      auto v = Render(s.map_items, s.map_items_path, f.ctx);
      if (!v.ok()) return Outcome::Failed(ExpressionError(v.error()));
      if (!v->is_array()) {
        return Outcome::Failed({"Cairn.InvalidItems", "map items must be a list, got " + v->dump(), *v});
      }
      items = std::move(*v);
      total = items.size();
    }
    // Names of the map iterations (`itemLabel:`), decided before anything starts.
    std::vector<std::string> item_names(is_map ? total : 0);
    if (is_map && !s.map_item_label.is_null()) {
      for (size_t i = 0; i < total; ++i) {
        ScopedKey item(f.ctx, "item", items[i]);
        ScopedKey index(f.ctx, "index", i);
        auto v = Render(s.map_item_label, s.map_item_label_path, f.ctx);
        if (!v.ok()) return Outcome::Failed(ExpressionError(v.error()));
        item_names[i] = v->is_null() ? std::string() : AsText(*v);
      }
    }
    if (!op) Queue(Update(id, f.parent_id, name, OperationType::kContext, sub_type, OperationAction::kStart));

    struct Unit {
      std::string status = "NOT_STARTED";
      json result;
      WorkflowError error;
    };
    std::vector<Unit> units(total);
    size_t succeeded = 0, failed = 0, waiting = 0;
    std::string reason;
    for (size_t i = 0; i < total && reason.empty(); ++i) {
      const ChildOperation& child = node.operation.children.at(is_map ? 0 : i);
      std::string cid = ChildOperationId(id, child, i);
      const std::string& child_name = is_map ? item_names[i] : child.name;
      const Operation* cop = Find(cid, OperationType::kContext, child.sub_type, child_name);
      if (aborted()) return Outcome::Aborted();
      Outcome o;
      if (cop && cop->status == OperationStatus::kSucceeded) {
        o = Outcome::Done(ParsePayload(cop->result));
      } else if (cop && cop->status != OperationStatus::kStarted) {
        o = Outcome::Failed(FromErrorObject(cop->error));
      } else {
        if (max_conc && waiting >= static_cast<size_t>(*max_conc)) continue;  // next invocation
        if (!cop) {
          Queue(Update(cid, id, child_name, OperationType::kContext, child.sub_type,
                       OperationAction::kStart));
        }
        {
          Frame inner(cid, f);
          std::optional<ScopedKey> item, index;
          if (is_map) {
            item.emplace(f.ctx, "item", items[i]);
            index.emplace(f.ctx, "index", i);
          }
          o = RunScope(child.scope, inner);
        }
        if (o.flow == Flow::kAborted) return o;
        if (o.flow == Flow::kSuspended) {
          units[i].status = "STARTED";
          ++waiting;
          continue;
        }
        o.explicit_succeed = false;
        o = CloseContext(node, f, cid, child_name, child.sub_type, std::move(o), id, true);
        if (o.flow == Flow::kAborted) return o;
      }
      if (o.flow == Flow::kDone) {
        units[i] = {"SUCCEEDED", std::move(o.value), {}};
        ++succeeded;
      } else {
        units[i] = {"FAILED", nullptr, std::move(o.error)};
        ++failed;
      }
      size_t completed = succeeded + failed;
      if (tol_count && static_cast<double>(failed) > *tol_count) reason = "FAILURE_TOLERANCE_EXCEEDED";
      if (tol_pct && total > 0 && 100.0 * static_cast<double>(failed) / static_cast<double>(total) > *tol_pct) {
        reason = "FAILURE_TOLERANCE_EXCEEDED";
      }
      if (reason.empty() && min_ok && static_cast<double>(succeeded) >= *min_ok) reason = "MIN_SUCCESSFUL_REACHED";
      (void)completed;
    }
    if (reason.empty()) {
      if (succeeded + failed < total) return Outcome::Suspended();
      reason = "ALL_COMPLETED";
    }
    json results = is_map ? json::array() : json::object();
    json list = json::array();
    for (size_t i = 0; i < total; ++i) {
      json entry = {{"index", i}, {"status", units[i].status}};
      if (!is_map) entry["name"] = s.branches[i].name;
      if (units[i].status == "SUCCEEDED") entry["result"] = units[i].result;
      if (units[i].status == "FAILED") entry["error"] = ErrorJson(units[i].error);
      list.push_back(std::move(entry));
      if (is_map) {
        results.push_back(units[i].result);
      } else {
        results[s.branches[i].name] = units[i].result;
      }
    }
    json batch = {{"results", std::move(results)},
                  {"items", std::move(list)},
                  {"completionReason", reason},
                  {"status", failed > 0 ? "FAILED" : "SUCCEEDED"},
                  {"successCount", succeeded},
                  {"failureCount", failed},
                  {"totalCount", succeeded + failed}};
    Outcome closed = CloseContext(node, f, id, name, sub_type, Outcome::Done(batch));
    if (closed.flow != Flow::kDone) return closed;
    return FromBatch(std::move(batch), has_tolerance);
  }

  // The step's outcome from its batch result: it fails with the first
  // failure when the tolerance was exceeded, or when no tolerance was set and
  // anything failed.
  static Outcome FromBatch(json batch, bool has_tolerance) {
    bool fails = batch.value("completionReason", "") == "FAILURE_TOLERANCE_EXCEEDED" ||
                 (!has_tolerance && batch.value("failureCount", 0) > 0);
    if (!fails) return Outcome::Done(std::move(batch));
    WorkflowError e{"Cairn.BatchFailed", "a branch or item failed", nullptr};
    for (const auto& item : batch["items"]) {
      if (item.value("status", "") == "FAILED") {
        e.name = item["error"].value("error", e.name);
        e.message = item["error"].value("message", e.message);
        break;
      }
    }
    e.data = std::move(batch);
    return Outcome::Failed(std::move(e));
  }

  const StepGraph& g_;
  const WorkflowPlan& plan_;
  const WorkflowDefinition& def_;
  const expr::ExpressionTable& table_;
  std::string arn_;
  std::string token_;
  backend::CheckpointClient& client_;
  actions::ActionRunner* actions_;
  const EngineOptions& options_;
  std::string next_marker_;
  const std::vector<Operation>& first_page_;  // the invocation's, used in place

  // The recorded operations by id (Record): the invocation's first page in
  // place, the operations of later pages and of checkpoint answers in the
  // vectors of owned_, never changed once added (moving a vector into the
  // deque moves no operation). `unseen` marks an operation of the state
  // that replay has not reached yet; unseen_count_ counts them.
  const Operation* execution_ = nullptr;
  std::deque<std::vector<Operation>> owned_;
  OperationIndex ops_;
  size_t unseen_count_ = 0;
  std::vector<OperationUpdate> pending_;
  bool deferred_ = false;  // see FlushOrDefer
  bool start_not_durable_ = false;  // see DurableBeforeEffects
  std::optional<Error> invocation_error_;
  std::optional<WorkflowError> execution_error_;
  bool stopped_ = false;  // should_stop said so: no step starts any more
};

}  // namespace

Engine::Engine(std::shared_ptr<const StepGraph> graph, actions::ActionRunner* actions,
               EngineOptions options)
    : graph_(std::move(graph)),
      actions_(actions),
      options_(std::move(options)),
      plan_(MakePlan(*graph_)) {}

Result<protocol::InvocationOutput> Engine::Invoke(const protocol::Invocation& invocation,
                                                  backend::CheckpointClient& client) {
  Run run(*graph_, *plan_, invocation, client, actions_, options_);
  return run.Go();
}

Result<json> ResolveParams(const WorkflowDefinition& def,
                           const std::function<const char*(const char*)>& lookup_env) {
  json params = json::object();
  for (const auto& p : def.params) {
    if (!p.env) {
      params[p.name] = p.value;
      continue;
    }
    const char* raw = lookup_env(p.env->c_str());
    if (!raw) {
      if (!p.has_default) {
        return MakeError("params", "the environment variable " + *p.env + " is not set",
                         "param '" + p.name + "'");
      }
      params[p.name] = p.value;
      continue;
    }
    auto convert = [&](const std::string& text) -> Result<json> {
      if (p.type == "string") return json(text);
      if (p.type == "json") {
        json v = json::parse(text, nullptr, false);
        if (v.is_discarded()) return MakeError("params", *p.env + " is not valid JSON", "param '" + p.name + "'");
        return v;
      }
      if (p.type == "boolean") {
        if (text == "true") return json(true);
        if (text == "false") return json(false);
        return MakeError("params", *p.env + "='" + text + "' is not true or false", "param '" + p.name + "'");
      }
      json v = json::parse(text, nullptr, false);
      if (v.is_discarded() || !v.is_number() || (p.type == "integer" && !v.is_number_integer())) {
        return MakeError("params", *p.env + "='" + text + "' is not " + (p.type == "integer" ? "an integer" : "a number"),
                         "param '" + p.name + "'");
      }
      return v;
    };
    std::string text = raw;
    if (p.split) {
      json list = json::array();
      size_t start = 0;
      while (start <= text.size()) {
        size_t end = p.split->empty() ? std::string::npos : text.find(*p.split, start);
        std::string part = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
        if (!part.empty()) {
          auto v = convert(part);
          if (!v.ok()) return v.error();
          list.push_back(std::move(*v));
        }
        if (end == std::string::npos) break;
        start = end + p.split->size();
      }
      params[p.name] = std::move(list);
    } else {
      auto v = convert(text);
      if (!v.ok()) return v.error();
      params[p.name] = std::move(*v);
    }
  }
  return params;
}

}  // namespace cairn::engine
