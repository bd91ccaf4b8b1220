#include "backend/local/local_durable_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <string_view>
#include <thread>

#include "backend/local/id_index.h"
#include "backend/local/kill_points.h"
#include "backend/local/operation_state_machine.h"
#include "backend/local/random_ids.h"

namespace cairn::backend::local {

using protocol::CheckpointRequest;
using protocol::CheckpointResponse;
using protocol::ErrorObject;
using protocol::ExecutionStatus;
using protocol::InvocationOutput;
using protocol::InvocationStatus;
using protocol::Operation;
using protocol::OperationStatus;
using protocol::OperationType;
using protocol::Timestamp;

namespace {

// Lambda's limit on an invocation's payload and response.
constexpr size_t kMaxInvocationPayloadBytes = 6'291'456;
constexpr size_t kMaxCallbackIdLength = 1024;
constexpr size_t kMaxPageItems = 1000;

bool IsNameToken(const std::string& s) { return IsValidOperationId(s); }

bool IsCallbackId(const std::string& id) {
  if (id.empty() || id.size() > kMaxCallbackIdLength) return false;
  size_t i = 0;
  for (; i < id.size() && id[i] != '='; ++i) {
    char c = id[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/';
    if (!ok) return false;
  }
  if (i == 0) return false;
  size_t pad = id.size() - i;
  if (pad > 2) return false;
  for (; i < id.size(); ++i) {
    if (id[i] != '=') return false;
  }
  return true;
}

Error Retryable(const Error& e) {
  return MakeError(std::string(kRetryableError), e.ToString(), "local durable service");
}

Error NotFound(const std::string& arn) {
  return MakeError(std::string(kNotFoundError), "Durable execution not found: " + arn);
}

Error CallbackTimeout(const std::string& message) {
  return MakeError(std::string(kCallbackTimeoutError), message);
}

bool IsPendingWork(const Operation& op) {
  switch (op.type) {
    case OperationType::kStep:
      return op.status == OperationStatus::kPending || op.status == OperationStatus::kReady;
    case OperationType::kWait:
    case OperationType::kCallback:
    case OperationType::kChainedInvoke:
      return op.status == OperationStatus::kStarted;
    default:
      return false;
  }
}

// The Id of an operation, for IdIndex.
const std::string& OperationIdOf(const Operation& op) { return op.id; }

Result<int64_t> ParseMarker(const std::string& marker) {
  if (marker.empty()) return int64_t{0};
  int64_t v = 0;
  for (char c : marker) {
    if (c < '0' || c > '9' || v > (INT64_MAX - 9) / 10) {
      return InvalidRequestError("Invalid Marker '" + marker.substr(0, 64) + "'");
    }
    v = v * 10 + (c - '0');
  }
  return v;
}

// The timer of an execution's ExecutionTimeout. Kept in memory only: it
// follows from the execution's row (Recover makes it again for every running
// execution), so a start and an end write no timer row — two pages fewer
// for each.
TimerRecord ExecutionDeadline(const ExecutionRecord& r) {
  return {{r.arn, "", TimerKind::kExecutionTimeout},
          r.start_timestamp + r.execution_timeout_seconds * 1000};
}

}  // namespace

// An execution that is running (or was, while an invocation of it finishes),
// cached with its operations. Guarded by mu (except the flags set before it
// is published).
struct LocalDurableService::LiveExecution {
  std::mutex mu;
  bool loaded = false;
  // Removed from live_: holders must look the execution up again.
  bool evicted = false;
  ExecutionRecord record;
  // Creation order; the EXECUTION operation is not here. A deque: appending
  // never moves the operations already held (nor invalidates pointers to
  // them), which a vector's regrowth did on every doubling.
  std::deque<Operation> ops;
  IdIndex index;  // positions in `ops` by Id
  // Operations changed since the last state delivered to the invocation, as
  // positions in `ops` (kExecutionPosition: the EXECUTION operation), in the
  // order they changed; `dirty_flags` marks the positions listed.
  static constexpr size_t kExecutionPosition = SIZE_MAX;
  std::vector<size_t> dirty;
  std::vector<char> dirty_flags;
  bool execution_dirty = false;
  // Counts changes of `ops`; the state order below is valid for one count.
  uint64_t ops_version = 0;
  // The positions (0: the EXECUTION operation, i + 1: ops[i]) that the
  // execution's state lists, in order: what StatePage pages through. Made
  // once per version rather than once per page.
  std::vector<size_t> state_order;
  uint64_t state_order_version = UINT64_MAX;

  // The invocation in flight.
  bool in_flight = false;
  std::string token;  // "" = no valid token
  std::string request_id;
  Timestamp invocation_start = 0;
  bool woken = false;  // something completed during the invocation
  // The invocation's InvocationCompleted is recorded already: it ended the
  // execution with an EXECUTION update, whose commit recorded both.
  bool invocation_recorded = false;
  // The start is not durable yet: the next commit of this execution writes
  // it (StartExecutionRequest::durable_with_first_checkpoint).
  bool start_unwritten = false;

  // The last successful checkpoint, for idempotent retries by ClientToken.
  std::optional<std::string> last_client_token;
  std::string last_request_token;
  std::optional<CheckpointResponse> last_response;

  bool running() const { return record.progress.status == ExecutionStatus::kRunning; }

  // The position of operation `id` in `ops`, or IdIndex::kNone.
  size_t Position(std::string_view id) const { return index.Find(ops, OperationIdOf, id); }

  const Operation* Find(const std::string& id) const {
    const size_t position = Position(id);
    return position == IdIndex::kNone ? nullptr : &ops[position];
  }

  // Appends an operation (its Id must be new).
  void Append(Operation op) {
    ops.push_back(std::move(op));
    index.Insert(ops.back().id, ops.size() - 1);
  }

  // Marks ops[position], or the EXECUTION operation (kExecutionPosition),
  // as changed since the last state delivered.
  void MarkDirty(size_t position) {
    if (position == kExecutionPosition) {
      if (execution_dirty) return;
      execution_dirty = true;
    } else {
      if (position >= dirty_flags.size()) dirty_flags.resize(ops.size(), 0);
      if (dirty_flags[position]) return;
      dirty_flags[position] = 1;
    }
    dirty.push_back(position);
  }

  void ClearDirty() {
    for (size_t position : dirty) {
      if (position != kExecutionPosition) dirty_flags[position] = 0;
    }
    dirty.clear();
    execution_dirty = false;
  }
};

struct LocalDurableService::Locked {
  std::shared_ptr<LiveExecution> exec;  // null: no such execution
  std::unique_lock<std::mutex> lock;
};

// Everything one change of one execution writes.
struct LocalDurableService::Mutation {
  std::vector<Operation> ops;  // new states
  std::vector<HistoryEvent> events;
  std::vector<TimerRecord> timers_set;
  std::vector<TimerKey> timers_cleared;
  std::vector<CallbackRecord> callbacks;
  std::vector<ExecutionRecord> new_executions;  // children (CHAINED_INVOKE)
  ExecutionProgress progress;                   // the new progress
  bool wake = false;                            // invoke after the commit
};

LocalDurableService::LocalDurableService(Store& store, const Clock& clock, Invoker* invoker,
                                         LocalServiceOptions options)
    : store_(store), clock_(clock), invoker_(invoker), options_(std::move(options)) {}

LocalDurableService::~LocalDurableService() = default;

Result<std::unique_ptr<LocalDurableService>> LocalDurableService::Create(
    Store& store, const Clock& clock, Invoker* invoker, LocalServiceOptions options) {
  std::unique_ptr<LocalDurableService> service(
      new LocalDurableService(store, clock, invoker, std::move(options)));
  if (auto st = service->Recover(); !st.ok()) return st.error();
  return service;
}

Status LocalDurableService::Recover() {
  auto timers = store_.GetTimers();
  if (!timers.ok()) return timers.error();
  ExecutionQuery q;
  q.statuses = {ExecutionStatus::kRunning};
  q.include_payloads = false;
  q.limit = 1000;
  std::vector<std::string> due;
  std::vector<TimerRecord> deadlines;
  for (;;) {
    auto page = store_.FindExecutions(q);
    if (!page.ok()) return page.error();
    for (const auto& r : *page) {
      if (r.progress.invoke_requested) due.push_back(r.arn);
      deadlines.push_back(ExecutionDeadline(r));
    }
    if (page->size() < q.limit) break;
    q.cursor = page->back().seq;
  }
  std::lock_guard lock(mu_);
  for (const auto& t : *timers) AddTimerLocked(t);  // earlier versions stored deadlines too
  for (const auto& t : deadlines) AddTimerLocked(t);
  for (const auto& arn : due) MarkRunnableLocked(arn);
  return {};
}

std::string LocalDurableService::FunctionArn(const std::string& function_name) const {
  return "arn:aws:lambda:" + options_.region + ":" + options_.account +
         ":function:" + function_name;
}

// ---- the cache ----

Status LocalDurableService::Load(LiveExecution& x, const std::string& arn, bool& found) {
  auto record = store_.GetExecution(arn);
  if (!record.ok()) return record.error();
  found = record->has_value();
  if (!found) return {};
  x.record = std::move(**record);
  auto ops = store_.GetOperations(arn);
  if (!ops.ok()) return ops.error();
  for (auto& r : *ops) x.Append(std::move(r.operation));
  return {};
}

Result<LocalDurableService::Locked> LocalDurableService::Acquire(const std::string& arn) {
  for (;;) {
    std::shared_ptr<LiveExecution> x;
    bool loader = false;
    {
      std::lock_guard lock(mu_);
      auto it = live_.find(arn);
      if (it != live_.end()) {
        x = it->second;
      } else {
        x = std::make_shared<LiveExecution>();
        // Uncontended: nobody else can see it yet. Taking it under mu_ is
        // the one exception to the lock order, and cannot block.
        x->mu.lock();
        loader = true;
        live_.emplace(arn, x);
      }
    }
    std::unique_lock<std::mutex> lock = loader
                                            ? std::unique_lock<std::mutex>(x->mu, std::adopt_lock)
                                            : std::unique_lock<std::mutex>(x->mu);
    if (loader) {
      x->record.arn = arn;
      bool found = false;
      Status st = Load(*x, arn, found);
      if (!st.ok() || !found) {
        Evict(*x);
        if (!st.ok()) return Retryable(st.error());
        return Locked{nullptr, std::move(lock)};
      }
      x->loaded = true;
      // Ended executions are not kept: the caller only reads it.
      if (!x->running()) Evict(*x);
      return Locked{x, std::move(lock)};
    }
    if (x->evicted || !x->loaded) continue;  // look it up again
    return Locked{x, std::move(lock)};
  }
}

void LocalDurableService::Evict(LiveExecution& x) {
  x.evicted = true;
  std::lock_guard lock(mu_);
  auto it = live_.find(x.record.arn);
  if (it != live_.end() && it->second.get() == &x) live_.erase(it);
}

// ---- writing changes ----

void LocalDurableService::RequestInvocation(Mutation& m) {
  m.progress.invoke_requested = true;
  m.wake = true;
}

void LocalDurableService::EndExecution(LiveExecution& x, Mutation& m, ExecutionStatus status,
                                       std::optional<std::string> result,
                                       std::optional<ErrorObject> error, Timestamp now) {
  m.events.push_back(ExecutionEndedEvent(x.record, status, result, error, now));
  m.progress.status = status;
  m.progress.result = std::move(result);
  m.progress.error = std::move(error);
  m.progress.end_timestamp = now;
  m.progress.invoke_requested = false;
  m.wake = false;
}

Status LocalDurableService::Commit(LiveExecution& x, Mutation m) {
  const Timestamp now = clock_.NowMillis();
  const bool ends = x.running() && m.progress.status != ExecutionStatus::kRunning;
  WriteBatch batch;

  // Closing an execution closes its callbacks and timers.
  std::vector<TimerKey> memory_timers_cleared = std::move(m.timers_cleared);
  if (ends) {
    std::unordered_map<std::string_view, const Operation*> updated;
    for (const auto& op : m.ops) {
      if (op.type == OperationType::kCallback) updated[op.id] = &op;
    }
    for (const auto& op : x.ops) {
      // A type never changes: only callbacks need their newest state.
      if (op.type != OperationType::kCallback) continue;
      auto it = updated.find(op.id);
      const Operation* cur = it != updated.end() ? it->second : &op;
      if (cur->status == OperationStatus::kStarted && cur->callback_id) {
        m.callbacks.push_back({*cur->callback_id, x.record.arn, cur->id, 0, false});
      }
    }
    std::lock_guard lock(mu_);
    for (auto it = timer_due_.lower_bound(TimerKey{x.record.arn, "", TimerKind::kWaitEnd});
         it != timer_due_.end() && it->first.arn == x.record.arn; ++it) {
      memory_timers_cleared.push_back(it->first);
    }
    m.timers_set.clear();
  }

  // Event ids and operation positions.
  ExecutionProgress progress = m.progress;
  progress.next_event_id = x.record.progress.next_event_id;
  for (auto& e : m.events) {
    e.event_id = progress.next_event_id++;
    batch.events.push_back({x.record.arn, e.event_id, HistoryEventText(e)});
  }
  // The operations are moved through the batch into the cache: no copies of
  // their payloads beyond the store's own.
  int64_t next_seq = static_cast<int64_t>(x.ops.size());
  const size_t own_ops = m.ops.size();
  batch.operations.reserve(own_ops + 1);
  for (auto& op : m.ops) {
    const size_t position = x.Position(op.id);
    int64_t seq = position != IdIndex::kNone ? static_cast<int64_t>(position) : next_seq++;
    batch.operations.push_back({x.record.arn, seq, std::move(op)});
  }
  // The rest of the mutation is moved into the batch too, and read back
  // from there once it is durable.
  batch.new_executions = std::move(m.new_executions);
  // A start not written yet is written first, as a child's is below: the
  // record as started, ExecutionStarted and the timeout's timer.
  if (x.start_unwritten) batch.new_executions.insert(batch.new_executions.begin(), x.record);
  batch.progress.emplace_back(x.record.arn, progress);
  batch.callbacks = std::move(m.callbacks);
  batch.timers_set = std::move(m.timers_set);
  batch.timers_cleared = std::move(memory_timers_cleared);
  std::vector<TimerRecord> deadlines;  // not stored: Recover derives them (ExecutionDeadline)
  for (const auto& child : batch.new_executions) {
    HistoryEvent started = ExecutionStartedEvent(child);
    started.event_id = 1;
    batch.events.push_back({child.arn, 1, HistoryEventText(started)});
    deadlines.push_back(ExecutionDeadline(child));
  }

  // A CHAINED_INVOKE child that ends completes its parent's operation in
  // the same batch.
  std::optional<Locked> parent;
  Mutation parent_m;
  std::optional<Operation> parent_op;
  int64_t parent_seq = 0;
  if (ends && x.record.parent_arn && x.record.parent_operation_id) {
    auto p = Acquire(*x.record.parent_arn);
    if (p.ok() && p->exec && p->exec->running()) {
      LiveExecution& px = *p->exec;
      const Operation* op = px.Find(*x.record.parent_operation_id);
      if (op && op->status == OperationStatus::kStarted) {
        OperationStatus status = OperationStatus::kFailed;
        switch (progress.status) {
          case ExecutionStatus::kSucceeded:
            status = OperationStatus::kSucceeded;
            break;
          case ExecutionStatus::kTimedOut:
            status = OperationStatus::kTimedOut;
            break;
          case ExecutionStatus::kStopped:
            status = OperationStatus::kStopped;
            break;
          default:
            break;
        }
        auto t = ChainedInvokeCompleted(*op, status, progress.result, progress.error, now);
        parent_m.progress = px.record.progress;
        parent_m.progress.invoke_requested = true;
        HistoryEvent ev = *t.event;
        ev.event_id = parent_m.progress.next_event_id++;
        batch.events.push_back({px.record.arn, ev.event_id, HistoryEventText(ev)});
        parent_seq = static_cast<int64_t>(px.Position(op->id));
        batch.operations.push_back({px.record.arn, parent_seq, t.operation});
        batch.progress.emplace_back(px.record.arn, parent_m.progress);
        parent_op = t.operation;
        parent = std::move(*p);
      }
    } else if (!p.ok()) {
      return p.error();
    }
  }

  CAIRN_KILL_POINT("commit.before");
  if (Status st = store_.Write(batch); !st.ok()) return Retryable(st.error());
  CAIRN_KILL_POINT("commit.after");
  x.start_unwritten = false;

  // Durable: make it visible.
  for (size_t i = 0; i < own_ops; ++i) {
    Operation& op = batch.operations[i].operation;
    size_t seq = static_cast<size_t>(batch.operations[i].seq);
    if (seq == x.ops.size()) {
      x.Append(std::move(op));
    } else {
      x.ops[seq] = std::move(op);
    }
    x.MarkDirty(seq);
  }
  if (own_ops > 0) ++x.ops_version;
  x.record.progress = progress;
  if (ends) x.MarkDirty(LiveExecution::kExecutionPosition);
  if (!x.running()) {
    x.token.clear();
    x.last_response.reset();
  }
  if (parent) {
    LiveExecution& px = *parent->exec;
    px.ops[static_cast<size_t>(parent_seq)] = *parent_op;
    ++px.ops_version;
    px.MarkDirty(static_cast<size_t>(parent_seq));
    px.record.progress = parent_m.progress;
    if (px.in_flight) px.woken = true;
  }
  {
    std::lock_guard lock(mu_);
    for (const auto& k : batch.timers_cleared) ClearTimerLocked(k);
    for (const auto& t : batch.timers_set) AddTimerLocked(t);
    for (const auto& t : deadlines) AddTimerLocked(t);
    for (const auto& child : batch.new_executions) {
      if (child.arn != x.record.arn) MarkRunnableLocked(child.arn);
    }
    if (m.wake && x.running()) {
      if (x.in_flight) {
        x.woken = true;
      } else {
        MarkRunnableLocked(x.record.arn);
      }
    }
    if (parent && !parent->exec->in_flight) MarkRunnableLocked(parent->exec->record.arn);
    if (ends && !end_waiters_.empty()) {
      if (auto it = end_waiters_.find(x.record.arn); it != end_waiters_.end()) {
        it->second->ended = true;
        it->second->cv.notify_all();
      }
    }
  }
  if (!x.running() && !x.in_flight && !x.evicted) Evict(x);
  return {};
}

// ---- executions ----

ExecutionRecord LocalDurableService::NewExecution(const std::string& function_name,
                                                  const std::string& name, const std::string& input,
                                                  int64_t timeout_seconds, Timestamp now) const {
  ExecutionRecord r;
  r.execution_id = NewUuid();
  r.name = name;
  r.function_name = function_name;
  r.arn = FunctionArn(function_name) + ":$LATEST/durable-execution/" + name + "/" + r.execution_id;
  r.input = input;
  r.start_timestamp = now;
  r.execution_timeout_seconds = timeout_seconds;
  r.progress.invoke_requested = true;
  r.progress.next_event_id = 2;  // ExecutionStarted is 1
  return r;
}

Result<StartedExecution> LocalDurableService::StartExecution(const StartExecutionRequest& request) {
  if (!IsNameToken(request.function_name)) {
    return InvalidRequestError("function name must be 1 to 64 characters of [A-Za-z0-9_-]");
  }
  const Timestamp now = clock_.NowMillis();
  std::string name = request.name ? *request.name : NewTimeOrderedUuid(now);
  if (!IsNameToken(name)) {
    return InvalidRequestError("DurableExecutionName must be 1 to 64 characters of [A-Za-z0-9_-]");
  }
  if (request.input.size() > kMaxInvocationPayloadBytes) {
    return MakeError(std::string(kPayloadTooLargeError),
                     "input is " + std::to_string(request.input.size()) + " bytes; the limit is " +
                         std::to_string(kMaxInvocationPayloadBytes));
  }
  if (!nlohmann::json::accept(request.input)) return InvalidRequestError("input is not valid JSON");
  int64_t timeout =
      request.execution_timeout_seconds.value_or(options_.default_execution_timeout_seconds);
  if (timeout < 1 || timeout > protocol::kMaxDelaySeconds) {
    return InvalidRequestError("ExecutionTimeout must be 1 to 31622400 seconds");
  }

  // A name of the caller's: looking for an execution of that name and
  // creating it are one step (no two starts of one name both create it).
  // A fresh UUID needs no such exclusion, and holding it over the commit
  // below would serialize every start on its fsync.
  std::unique_lock<std::mutex> start_lock(start_mu_, std::defer_lock);
  if (request.name) start_lock.lock();
  ExecutionQuery q;
  q.function_name = request.function_name;
  q.name = name;
  // A name of the caller's may exist already; a fresh UUID cannot.
  Result<std::vector<ExecutionRecord>> existing = std::vector<ExecutionRecord>{};
  if (request.name) existing = store_.FindExecutions(q);
  if (!existing.ok()) return Retryable(existing.error());
  if (!existing->empty()) {
    const ExecutionRecord& e = existing->front();
    if (e.progress.status == ExecutionStatus::kRunning && e.input == request.input) {
      return StartedExecution{e.arn, e.name, true};
    }
    return MakeError(
        std::string(kAlreadyStartedError),
        "Durable execution '" + name + "' of function '" + request.function_name +
            "' has already been started (it is " +
            std::string(protocol::ToString(e.progress.status)) +
            (e.progress.status == ExecutionStatus::kRunning ? " with other input)" : ")"));
  }
  ExecutionRecord r = NewExecution(request.function_name, name, request.input, timeout, now);
  WriteBatch batch;
  HistoryEvent started = ExecutionStartedEvent(r);
  started.event_id = 1;
  batch.events.push_back({r.arn, 1, HistoryEventText(started)});
  const TimerRecord deadline = ExecutionDeadline(r);  // in memory only (see Recover)
  batch.new_executions.push_back(r);
  const bool unwritten =
      request.caller_invokes && request.durable_with_first_checkpoint && !request.name;
  if (!unwritten) {
    CAIRN_KILL_POINT("start.before_commit");
    if (Status st = store_.Write(batch); !st.ok()) return Retryable(st.error());
    CAIRN_KILL_POINT("start.after_commit");
  }
  std::lock_guard lock(mu_);
  if (!unwritten) AddTimerLocked(deadline);  // else set by the commit that writes the start
  if (request.caller_invokes) {
    // The caller invokes it next: cache it now, as Load would read it back,
    // so that the invocation does not wait on the store (whose connection a
    // concurrent commit holds through its fsync).
    auto x = std::make_shared<LiveExecution>();
    x->record = r;
    x->loaded = true;
    x->start_unwritten = unwritten;
    live_.emplace(r.arn, std::move(x));
  } else {
    MarkRunnableLocked(r.arn);
  }
  return StartedExecution{r.arn, r.name, false};
}

Status LocalDurableService::InvokeNow(const std::string& arn,
                                      std::optional<ExecutionRecord>* ended) {
  return InvokeOne(arn, ended);
}

Result<ExecutionRecord> LocalDurableService::GetExecution(const std::string& arn) {
  auto r = store_.GetExecution(arn);
  if (!r.ok()) return Retryable(r.error());
  if (!r->has_value()) return NotFound(arn);
  return std::move(**r);
}

Result<ExecutionRecord> LocalDurableService::WaitForExecution(const std::string& arn,
                                                              std::chrono::milliseconds timeout) {
  std::shared_ptr<EndWaiters> w;
  {
    std::lock_guard lock(mu_);
    auto& slot = end_waiters_[arn];
    if (!slot) slot = std::make_shared<EndWaiters>();
    w = slot;
    ++w->count;
  }
  // Registered before reading: an end committed from here on sets `ended`.
  auto r = GetExecution(arn);
  if (r.ok() && r->progress.status == ExecutionStatus::kRunning && timeout.count() > 0) {
    bool ended = false;
    {
      std::unique_lock lock(mu_);
      ended = w->cv.wait_for(lock, timeout, [&] { return w->ended; });
    }
    if (ended) r = GetExecution(arn);
  }
  std::lock_guard lock(mu_);
  if (--w->count == 0) {
    auto it = end_waiters_.find(arn);
    if (it != end_waiters_.end() && it->second == w) end_waiters_.erase(it);
  }
  return r;
}

Result<ExecutionPage> LocalDurableService::ListExecutions(const ListExecutionsRequest& request) {
  auto cursor = ParseMarker(request.marker);
  if (!cursor.ok()) return cursor.error();
  if (request.max_items < 1 || request.max_items > kMaxPageItems) {
    return InvalidRequestError("MaxItems must be 1 to 1000");
  }
  ExecutionQuery q;
  q.function_name = request.function_name;
  q.name = request.name;
  q.statuses = request.statuses;
  q.started_after = request.started_after;
  q.started_before = request.started_before;
  q.cursor = *cursor;
  q.reverse = request.reverse;
  q.limit = request.max_items + 1;
  q.include_payloads = false;
  auto found = store_.FindExecutions(q);
  if (!found.ok()) return Retryable(found.error());
  ExecutionPage page;
  page.executions = std::move(*found);
  if (page.executions.size() > request.max_items) {
    page.executions.resize(request.max_items);
    page.next_marker = std::to_string(page.executions.back().seq);
  }
  return page;
}

Result<HistoryPage> LocalDurableService::GetHistory(const HistoryRequest& request) {
  auto marker = ParseMarker(request.marker);
  if (!marker.ok()) return marker.error();
  if (request.max_items < 1 || request.max_items > kMaxPageItems) {
    return InvalidRequestError("MaxItems must be 1 to 1000");
  }
  auto exec = store_.GetExecution(request.arn);
  if (!exec.ok()) return Retryable(exec.error());
  if (!exec->has_value()) return NotFound(request.arn);
  int64_t first = *marker;
  if (first == 0) first = request.reverse ? INT64_MAX : 1;
  auto events = store_.GetEvents(request.arn, first, request.max_items + 1, request.reverse);
  if (!events.ok()) return Retryable(events.error());
  HistoryPage page;
  for (const auto& r : *events) {
    if (page.events.size() == request.max_items) {
      page.next_marker = std::to_string(r.event_id);
      break;
    }
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    auto e = HistoryEventFromJson(j);
    if (!e.ok()) {
      return MakeError(std::string(kRetryableError), "stored event " + std::to_string(r.event_id) +
                                                         " is unreadable: " + e.error().message);
    }
    page.events.push_back(std::move(*e));
  }
  return page;
}

Result<Timestamp> LocalDurableService::StopExecution(const std::string& arn,
                                                     const std::optional<ErrorObject>& error) {
  if (error && ErrorObjectSize(*error) >= protocol::kMaxErrorObjectBytes) {
    return InvalidRequestError("Error object size must be less than 32768 bytes.");
  }
  auto locked = Acquire(arn);
  if (!locked.ok()) return locked.error();
  if (!locked->exec) return NotFound(arn);
  LiveExecution& x = *locked->exec;
  if (!x.running()) {
    return InvalidRequestError("Durable execution " + arn + " has already ended (" +
                               std::string(protocol::ToString(x.record.progress.status)) + ")");
  }
  const Timestamp now = clock_.NowMillis();
  Mutation m;
  m.progress = x.record.progress;
  EndExecution(x, m, ExecutionStatus::kStopped, std::nullopt,
               error.value_or(
                   ErrorObject{"Execution.Stopped", "The execution was stopped", std::nullopt, {}}),
               now);
  if (Status st = Commit(x, std::move(m)); !st.ok()) return st.error();
  return now;
}

// ---- callbacks ----

struct LocalDurableService::OpenCallback {
  Locked locked;
  CallbackRecord record;
  const Operation* op = nullptr;
};

Result<LocalDurableService::OpenCallback> LocalDurableService::FindOpenCallback(
    const std::string& callback_id) {
  if (!IsCallbackId(callback_id)) {
    return InvalidRequestError(
        "CallbackId must be 1 to 1024 characters of [A-Za-z0-9+/] with "
        "up to two '=' at the end");
  }
  auto record = store_.GetCallback(callback_id);
  if (!record.ok()) return Retryable(record.error());
  if (!record->has_value()) {
    return CallbackTimeout(
        "The callback ID is not valid: no such callback exists, or it has expired.");
  }
  const CallbackRecord cb = **record;
  if (!cb.open) {
    return CallbackTimeout("The callback has already been completed, timed out or cancelled.");
  }
  auto locked = Acquire(cb.arn);
  if (!locked.ok()) return locked.error();
  if (!locked->exec || !locked->exec->running()) {
    return CallbackTimeout("The callback's durable execution has ended.");
  }
  const Operation* op = locked->exec->Find(cb.operation_id);
  if (!op || op->type != OperationType::kCallback || op->status != OperationStatus::kStarted) {
    return CallbackTimeout("The callback has already been completed, timed out or cancelled.");
  }
  return OpenCallback{std::move(*locked), cb, op};
}

Status LocalDurableService::CompleteCallback(const std::string& callback_id, OperationStatus status,
                                             const std::optional<std::string>& result,
                                             const std::optional<ErrorObject>& error) {
  CAIRN_KILL_POINT("callback.received");
  auto found = FindOpenCallback(callback_id);
  if (!found.ok()) return found.error();
  LiveExecution& x = *found->locked.exec;
  const CallbackRecord& cb = found->record;
  const Operation* op = found->op;
  const Timestamp now = clock_.NowMillis();
  Mutation m;
  m.progress = x.record.progress;
  auto t = CallbackCompleted(*op, status, result, error, now);
  m.ops.push_back(t.operation);
  m.events.push_back(*t.event);
  CallbackRecord closed = cb;
  closed.open = false;
  m.callbacks.push_back(closed);
  m.timers_cleared.push_back({x.record.arn, op->id, TimerKind::kCallbackTimeout});
  m.timers_cleared.push_back({x.record.arn, op->id, TimerKind::kCallbackHeartbeat});
  RequestInvocation(m);
  Status st = Commit(x, std::move(m));
  if (st.ok()) CAIRN_KILL_POINT("callback.after_commit");
  return st;
}

Status LocalDurableService::SendCallbackSuccess(const std::string& callback_id,
                                                const std::string& result) {
  if (result.size() > protocol::kMaxOperationPayloadBytes) {
    return MakeError(std::string(kPayloadTooLargeError),
                     "Result is " + std::to_string(result.size()) + " bytes; the limit is 262144");
  }
  return CompleteCallback(callback_id, OperationStatus::kSucceeded, result, std::nullopt);
}

Status LocalDurableService::SendCallbackFailure(const std::string& callback_id,
                                                const ErrorObject& error) {
  if (ErrorObjectSize(error) >= protocol::kMaxErrorObjectBytes) {
    return InvalidRequestError("Error object size must be less than 32768 bytes.");
  }
  return CompleteCallback(callback_id, OperationStatus::kFailed, std::nullopt, error);
}

Status LocalDurableService::SendCallbackHeartbeat(const std::string& callback_id) {
  auto found = FindOpenCallback(callback_id);
  if (!found.ok()) return found.error();
  LiveExecution& x = *found->locked.exec;
  const CallbackRecord& cb = found->record;
  const Operation* op = found->op;
  if (cb.heartbeat_timeout_seconds <= 0) return {};
  Mutation m;
  m.progress = x.record.progress;
  m.timers_set.push_back({{x.record.arn, op->id, TimerKind::kCallbackHeartbeat},
                          clock_.NowMillis() + cb.heartbeat_timeout_seconds * 1000});
  return Commit(x, std::move(m));
}

// ---- checkpoints ----

protocol::ExecutionState LocalDurableService::StatePage(LiveExecution& x, size_t position) const {
  if (x.state_order_version != x.ops_version) {
    // Children of a completed CONTEXT without ReplayChildren are left out
    // (and so are their descendants; a parent precedes its children).
    std::vector<char> excluded(x.ops.size(), 0);
    x.state_order.clear();
    x.state_order.reserve(x.ops.size() + 1);
    x.state_order.push_back(0);  // the EXECUTION operation
    for (size_t i = 0; i < x.ops.size(); ++i) {
      const Operation& op = x.ops[i];
      if (op.parent_id) {
        const size_t p = x.Position(*op.parent_id);
        if (p != IdIndex::kNone) {
          const Operation& parent = x.ops[p];
          bool closed = parent.type == OperationType::kContext &&
                        (parent.status == OperationStatus::kSucceeded ||
                         parent.status == OperationStatus::kFailed) &&
                        !parent.replay_children.value_or(false);
          excluded[i] = excluded[p] || closed;
        }
      }
      if (!excluded[i]) x.state_order.push_back(i + 1);
    }
    x.state_order_version = x.ops_version;
  }
  protocol::ExecutionState state;
  auto first = std::lower_bound(x.state_order.begin(), x.state_order.end(), position);
  const size_t left = static_cast<size_t>(x.state_order.end() - first);
  const size_t count = std::min(left, options_.state_page_size);
  state.operations.reserve(count);
  for (auto it = first; it != first + static_cast<std::ptrdiff_t>(count); ++it) {
    if (*it == 0) {
      state.operations.push_back(ExecutionOperation(x.record));
    } else {
      state.operations.push_back(x.ops[*it - 1]);
    }
  }
  if (count < left) state.next_marker = std::to_string(first[static_cast<std::ptrdiff_t>(count)]);
  return state;
}

std::vector<Operation> LocalDurableService::TakeDirty(LiveExecution& x) {
  std::vector<Operation> out;
  out.reserve(x.dirty.size());
  for (size_t position : x.dirty) {
    if (position == LiveExecution::kExecutionPosition) {
      out.push_back(ExecutionOperation(x.record));
    } else {
      out.push_back(x.ops[position]);
    }
  }
  x.ClearDirty();
  return out;
}

Result<CheckpointResponse> LocalDurableService::Checkpoint(const std::string& arn,
                                                           const CheckpointRequest& request) {
  CAIRN_KILL_POINT("checkpoint.received");
  auto locked = Acquire(arn);
  if (!locked.ok()) return locked.error();
  if (!locked->exec) return NotFound(arn);
  LiveExecution& x = *locked->exec;
  if (request.client_token && x.last_response && x.last_client_token == request.client_token &&
      x.last_request_token == request.checkpoint_token) {
    return *x.last_response;  // an idempotent retry of the last checkpoint
  }
  if (!x.running()) return StaleTokenError("the durable execution has ended");
  if (!x.in_flight || x.token.empty() || request.checkpoint_token != x.token) {
    return StaleTokenError("the token was already used or belongs to an earlier invocation");
  }
  if (!request.updates.empty()) {
    const Timestamp now = clock_.NowMillis();
    PlanContext ctx;
    ctx.now = now;
    ctx.execution = &x.record;
    ctx.new_callback_id = NewCallbackId;
    OperationLookup lookup = [&x](const std::string& id) { return x.Find(id); };
    auto plan = PlanCheckpoint(request.updates, lookup, ctx);
    if (!plan.ok()) return plan.error();
    Mutation m;
    m.progress = x.record.progress;
    for (auto& change : plan->changes) m.ops.push_back(std::move(change.operation));
    m.events = std::move(plan->events);
    m.timers_set = std::move(plan->timers_set);
    m.timers_cleared = std::move(plan->timers_cleared);
    m.callbacks = std::move(plan->callbacks);
    for (const auto& ci : plan->chained_invokes) {
      ExecutionRecord child = NewExecution(ci.function_name, NewTimeOrderedUuid(now), ci.input.value_or("{}"),
                                           options_.default_execution_timeout_seconds, now);
      child.parent_arn = x.record.arn;
      child.parent_operation_id = ci.operation_id;
      m.events[ci.event_index].details["DurableExecutionArn"] = child.arn;
      m.new_executions.push_back(child);
    }
    if (plan->execution_end) {
      // The planner recorded the terminal event, last. The invocation ends
      // here too (nothing it does afterwards can change the execution), so
      // its InvocationCompleted goes into this commit, before the terminal
      // event — the history of an execution that ends by returning — and
      // the invocation's return writes nothing: one commit fewer.
      m.events.insert(m.events.end() - 1, InvocationCompletedEvent(x.invocation_start, now,
                                                                   x.request_id, std::nullopt));
      m.progress.status = plan->execution_end->status;
      m.progress.result = plan->execution_end->result;
      m.progress.error = plan->execution_end->error;
      m.progress.end_timestamp = now;
      m.progress.invoke_requested = false;
    }
    const bool ends = plan->execution_end.has_value();
    if (Status st = Commit(x, std::move(m)); !st.ok()) return st.error();
    if (ends) x.invocation_recorded = true;
  } else if (x.start_unwritten) {
    // Nothing to record but the start (the engine makes it durable before
    // the workflow's first action).
    Mutation m;
    m.progress = x.record.progress;
    if (Status st = Commit(x, std::move(m)); !st.ok()) return st.error();
  }
  CheckpointResponse response;
  if (x.running()) {
    x.token = NewCheckpointToken();
    response.checkpoint_token = x.token;
  }
  response.new_state.operations = TakeDirty(x);
  // Kept for an idempotent retry, which only a request with a ClientToken
  // can be (the engine sends none, and skips the copy).
  x.last_client_token = request.client_token;
  if (request.client_token) {
    x.last_request_token = request.checkpoint_token;
    x.last_response = response;
  } else {
    x.last_response.reset();
  }
  CAIRN_KILL_POINT("checkpoint.before_reply");
  return response;
}

bool LocalDurableService::StartIsNotDurable(const std::string& arn) {
  auto locked = Acquire(arn);
  return locked.ok() && locked->exec && locked->exec->start_unwritten;
}

Result<protocol::ExecutionState> LocalDurableService::GetState(const std::string& arn,
                                                               const std::string& token,
                                                               const std::string& marker) {
  auto position = ParseMarker(marker);
  if (!position.ok()) return position.error();
  auto locked = Acquire(arn);
  if (!locked.ok()) return locked.error();
  if (!locked->exec) return NotFound(arn);
  LiveExecution& x = *locked->exec;
  if (!x.running() || !x.in_flight || x.token.empty() || token != x.token) {
    return StaleTokenError("GetDurableExecutionState needs the current checkpoint token");
  }
  return StatePage(x, static_cast<size_t>(*position));
}

// ---- timers ----

void LocalDurableService::AddTimerLocked(const TimerRecord& t) {
  auto old = timer_due_.find(t.key);
  if (old != timer_due_.end()) {
    timer_queue_.erase({old->second, old->first});
    old->second = t.due;
  } else {
    timer_due_.emplace(t.key, t.due);
  }
  timer_queue_.insert({t.due, t.key});
  // The timer loop (Serve) sleeps until timer_loop_wakes_at_: wake it only
  // for a timer due before that (waking it for a later one cost a context
  // switch per execution started, and a wake-up without a new generation
  // went back to sleep for the old wait: an earlier timer fired late).
  if (timer_loop_wakes_at_ != 0 && t.due < timer_loop_wakes_at_) {
    ++wake_generation_;
    timer_cv_.notify_all();
  }
}

void LocalDurableService::ClearTimerLocked(const TimerKey& key) {
  auto it = timer_due_.find(key);
  if (it == timer_due_.end()) return;
  timer_queue_.erase({it->second, it->first});
  timer_due_.erase(it);
}

void LocalDurableService::MarkRunnableLocked(const std::string& arn) {
  if (runnable_set_.insert(arn).second) {
    runnable_.push_back(arn);
    work_cv_.notify_one();
  }
}

std::optional<Timestamp> LocalDurableService::NextTimerDue() const {
  std::lock_guard lock(mu_);
  if (timer_queue_.empty()) return std::nullopt;
  return timer_queue_.begin()->first;
}

size_t LocalDurableService::RunnableCount() const {
  std::lock_guard lock(mu_);
  return runnable_.size();
}

int64_t LocalDurableService::FireDueTimers(Timestamp now) {
  std::vector<TimerRecord> due;
  {
    std::lock_guard lock(mu_);
    while (!timer_queue_.empty() && timer_queue_.begin()->first <= now) {
      auto [when, key] = *timer_queue_.begin();
      timer_queue_.erase(timer_queue_.begin());
      timer_due_.erase(key);
      due.push_back({std::move(key), when});
    }
  }
  for (const auto& t : due) FireTimer(t, now);
  return static_cast<int64_t>(due.size());
}

void LocalDurableService::FireTimer(const TimerRecord& timer, Timestamp now) {
  CAIRN_KILL_POINT("timer.fire");
  auto locked = Acquire(timer.key.arn);
  auto retry_later = [&] {
    std::lock_guard lock(mu_);
    AddTimerLocked({timer.key, now + 1000});
  };
  if (!locked.ok()) {
    spdlog::error("cairn local service: timer of {}: {}", timer.key.arn, locked.error().ToString());
    retry_later();
    return;
  }
  Mutation m;
  m.timers_cleared.push_back(timer.key);
  if (!locked->exec || !locked->exec->running()) {
    // A leftover of an ended execution: only forget it.
    if (locked->exec) {
      WriteBatch b;
      b.timers_cleared.push_back(timer.key);
      (void)store_.Write(b);
    }
    return;
  }
  LiveExecution& x = *locked->exec;
  m.progress = x.record.progress;
  const Operation* op = timer.key.operation_id.empty() ? nullptr : x.Find(timer.key.operation_id);
  switch (timer.key.kind) {
    case TimerKind::kWaitEnd:
      if (op && op->type == OperationType::kWait && op->status == OperationStatus::kStarted) {
        auto t = WaitElapsed(*op, now);
        m.ops.push_back(t.operation);
        m.events.push_back(*t.event);
        RequestInvocation(m);
      }
      break;
    case TimerKind::kStepRetry:
      if (op && op->type == OperationType::kStep && op->status == OperationStatus::kPending) {
        m.ops.push_back(StepReady(*op, now).operation);
        RequestInvocation(m);
      }
      break;
    case TimerKind::kCallbackTimeout:
    case TimerKind::kCallbackHeartbeat:
      if (op && op->type == OperationType::kCallback && op->status == OperationStatus::kStarted) {
        const bool heartbeat = timer.key.kind == TimerKind::kCallbackHeartbeat;
        ErrorObject error{heartbeat ? "Callback.Heartbeat" : "Callback.Timeout",
                          heartbeat ? "Callback timed out on heartbeat" : "Callback timed out",
                          std::nullopt,
                          {}};
        auto t = CallbackCompleted(*op, OperationStatus::kTimedOut, std::nullopt, error, now);
        m.ops.push_back(t.operation);
        m.events.push_back(*t.event);
        if (op->callback_id)
          m.callbacks.push_back({*op->callback_id, x.record.arn, op->id, 0, false});
        m.timers_cleared.push_back({x.record.arn, op->id, TimerKind::kCallbackTimeout});
        m.timers_cleared.push_back({x.record.arn, op->id, TimerKind::kCallbackHeartbeat});
        RequestInvocation(m);
      }
      break;
    case TimerKind::kExecutionTimeout:
      EndExecution(x, m, ExecutionStatus::kTimedOut, std::nullopt,
                   ErrorObject{"Execution.TimedOut",
                               "The execution exceeded its ExecutionTimeout of " +
                                   std::to_string(x.record.execution_timeout_seconds) + " seconds",
                               std::nullopt,
                               {}},
                   now);
      break;
    case TimerKind::kInvokeRetry:
      RequestInvocation(m);
      break;
  }
  if (Status st = Commit(x, std::move(m)); !st.ok()) {
    spdlog::error("cairn local service: timer of {}: {}", timer.key.arn, st.error().ToString());
    locked->lock.unlock();
    retry_later();
    return;
  }
  CAIRN_KILL_POINT("timer.after_commit");
}

// ---- invocations ----

Status LocalDurableService::InvokeOne(const std::string& arn,
                                      std::optional<ExecutionRecord>* ended) {
  {
    std::lock_guard lock(mu_);
    runnable_set_.erase(arn);
  }
  if (!invoker_) return {};
  protocol::Invocation invocation;
  std::shared_ptr<LiveExecution> xp;
  {
    auto locked = Acquire(arn);
    if (!locked.ok()) return locked.error();
    if (!locked->exec || !locked->exec->running() || locked->exec->in_flight) return {};
    LiveExecution& x = *locked->exec;
    x.in_flight = true;
    x.woken = false;
    x.invocation_recorded = false;
    x.token = NewCheckpointToken();
    x.request_id = NewUuid();
    x.invocation_start = clock_.NowMillis();
    x.last_response.reset();
    invocation.durable_execution_arn = arn;
    invocation.checkpoint_token = x.token;
    invocation.initial_state = StatePage(x, 0);
    x.ClearDirty();
    xp = locked->exec;
  }

  Result<InvocationOutput> output = MakeError("Runtime.Unknown", "the invocation did not run");
  CAIRN_KILL_POINT("invoke.begin");
  try {
    output = invoker_->Invoke(invocation, *this);
  } catch (const std::exception& e) {
    output = MakeError("Runtime.UnhandledException", e.what());
  } catch (...) {
    output = MakeError("Runtime.UnhandledException", "the invoker threw a non-standard exception");
  }

  CAIRN_KILL_POINT("invocation.returned");
  std::unique_lock lock(xp->mu);
  LiveExecution& x = *xp;
  x.in_flight = false;
  x.token.clear();
  x.last_response.reset();
  if (x.invocation_recorded && !x.running()) {
    // Ended by its last checkpoint, which recorded the invocation's end.
    if (!x.evicted) Evict(x);
    if (ended) *ended = x.record;
    return {};
  }
  const Timestamp now = clock_.NowMillis();
  Mutation m;
  m.progress = x.record.progress;
  std::optional<ErrorObject> invocation_error;
  if (!output.ok())
    invocation_error = ErrorObject{output.error().code, output.error().message, std::nullopt, {}};
  m.events.push_back(
      InvocationCompletedEvent(x.invocation_start, now, x.request_id, invocation_error));
  if (!x.running()) {
    // Ended during the invocation (EXECUTION update, stop, timeout): only
    // the invocation's end is recorded.
  } else if (!output.ok()) {
    m.progress.failed_invocations += 1;
    if (m.progress.failed_invocations >= options_.max_failed_invocations) {
      EndExecution(x, m, ExecutionStatus::kFailed, std::nullopt, invocation_error, now);
    } else {
      int64_t delay = options_.invocation_retry_initial_ms;
      for (int64_t i = 1;
           i < m.progress.failed_invocations && delay < options_.invocation_retry_max_ms; ++i) {
        delay *= 2;
      }
      delay = std::min(delay, options_.invocation_retry_max_ms);
      m.progress.invoke_requested = false;
      m.timers_set.push_back({{arn, "", TimerKind::kInvokeRetry}, now + delay});
    }
  } else {
    m.progress.failed_invocations = 0;
    const InvocationOutput& out = *output;
    switch (out.status) {
      case InvocationStatus::kSucceeded:
        if (out.result && out.result->size() > kMaxInvocationPayloadBytes) {
          EndExecution(
              x, m, ExecutionStatus::kFailed, std::nullopt,
              ErrorObject{"Runtime.ResultTooLarge",
                          "The invocation's result is " + std::to_string(out.result->size()) +
                              " bytes; the limit is 6291456",
                          std::nullopt,
                          {}},
              now);
        } else {
          EndExecution(x, m, ExecutionStatus::kSucceeded, out.result, std::nullopt, now);
        }
        break;
      case InvocationStatus::kFailed:
        EndExecution(x, m, ExecutionStatus::kFailed, std::nullopt,
                     out.error.value_or(ErrorObject{}), now);
        break;
      case InvocationStatus::kPending: {
        bool pending = x.woken;
        for (const auto& op : x.ops) pending = pending || IsPendingWork(op);
        if (!pending) {
          EndExecution(x, m, ExecutionStatus::kFailed, std::nullopt,
                       ErrorObject{"Runtime.InvalidResponse",
                                   "Cannot return PENDING status with no pending operations",
                                   std::nullopt,
                                   {}},
                       now);
        } else {
          m.progress.invoke_requested = x.woken;
          m.wake = x.woken;
        }
        break;
      }
    }
  }
  Status st = Commit(x, std::move(m));
  if (!st.ok() && x.start_unwritten) {
    // Its start could not be recorded either: the execution never existed
    // durably, and goes (its caller gets the error).
    spdlog::error("cairn local service: recording the start of {}: {}", arn,
                  st.error().ToString());
    if (!x.evicted) Evict(x);
    return MakeError(st.error().code,
                     "the execution's start could not be recorded: " + st.error().message);
  }
  if (!st.ok()) {
    // The execution stays due in the store; try again a little later.
    spdlog::error("cairn local service: recording an invocation of {}: {}", arn,
                  st.error().ToString());
    std::lock_guard l(mu_);
    AddTimerLocked({{arn, "", TimerKind::kInvokeRetry}, now + 1000});
    return st;
  }
  CAIRN_KILL_POINT("invocation.after_commit");
  if (!x.running()) {
    if (!x.evicted) Evict(x);
    if (ended) *ended = x.record;
  }
  return {};
}

// ---- the driver ----

Result<DriveReport> LocalDurableService::RunOnce() {
  DriveReport report;
  report.timers_fired = FireDueTimers(clock_.NowMillis());
  std::vector<std::string> due;
  {
    std::lock_guard lock(mu_);
    due.assign(runnable_.begin(), runnable_.end());
    runnable_.clear();
  }
  for (const auto& arn : due) {
    Status st = InvokeOne(arn);
    ++report.invocations;
    if (!st.ok()) return st.error();
  }
  return report;
}

Status LocalDurableService::RunUntilIdle(const IdleOptions& options) {
  int64_t invocations = 0;
  for (;;) {
    auto report = RunOnce();
    if (!report.ok()) return report.error();
    invocations += report->invocations;
    if (invocations > options.max_invocations) {
      return MakeError(
          std::string(kRetryableError),
          "RunUntilIdle stopped after " + std::to_string(invocations) + " invocations");
    }
    if (report->invocations > 0 || report->timers_fired > 0 || RunnableCount() > 0) continue;
    if (options.advance_clock) {
      auto next = NextTimerDue();
      if (next && *next <= options.advance_until) {
        if (*next > options.advance_clock->NowMillis()) options.advance_clock->Set(*next);
        continue;
      }
    }
    return {};
  }
}

Status LocalDurableService::Serve(const ServeOptions& options) {
  {
    std::lock_guard lock(mu_);
    if (serving_) return InvalidRequestError("the service is already serving");
    serving_ = true;
    stopping_ = false;
  }
  std::vector<std::thread> workers;
  for (int i = 0; i < std::max(1, options.invoke_threads); ++i) {
    workers.emplace_back([this] {
      for (;;) {
        std::string arn;
        {
          std::unique_lock lock(mu_);
          work_cv_.wait(lock, [this] { return stopping_ || !runnable_.empty(); });
          if (stopping_) return;
          arn = std::move(runnable_.front());
          runnable_.pop_front();
        }
        if (Status st = InvokeOne(arn); !st.ok()) {
          spdlog::error("cairn local service: invoking {}: {}", arn, st.error().ToString());
        }
      }
    });
  }
  for (;;) {
    {
      std::unique_lock lock(mu_);
      if (stopping_) break;
      const int64_t generation = wake_generation_;
      auto wait = std::chrono::milliseconds(1000);
      if (!timer_queue_.empty()) {
        int64_t delta = timer_queue_.begin()->first - clock_.NowMillis();
        if (delta <= 0)
          wait = std::chrono::milliseconds(0);
        else
          wait = std::min(wait, std::chrono::milliseconds(delta));
      }
      if (wait.count() > 0) {
        timer_loop_wakes_at_ = clock_.NowMillis() + wait.count();
        timer_cv_.wait_for(lock, wait, [&] { return stopping_ || wake_generation_ != generation; });
        timer_loop_wakes_at_ = 0;
      }
      if (stopping_) break;
    }
    FireDueTimers(clock_.NowMillis());
  }
  for (auto& w : workers) w.join();
  std::lock_guard lock(mu_);
  serving_ = false;
  stopping_ = false;
  return {};
}

void LocalDurableService::Stop() {
  std::lock_guard lock(mu_);
  stopping_ = true;
  work_cv_.notify_all();
  timer_cv_.notify_all();
}

void LocalDurableService::Wake() {
  std::lock_guard lock(mu_);
  ++wake_generation_;
  timer_cv_.notify_all();
}

}  // namespace cairn::backend::local
