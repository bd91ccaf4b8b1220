#include "backend/local/memory_store.h"

#include <algorithm>
#include <set>

namespace cairn::backend::local {
namespace {

Error StoreError(std::string_view code, std::string message) {
  return MakeError(std::string(code), std::move(message), "memory store");
}

bool Matches(const ExecutionRecord& r, const ExecutionQuery& q) {
  if (q.function_name && r.function_name != *q.function_name) return false;
  if (q.name && r.name != *q.name) return false;
  if (!q.statuses.empty() &&
      std::find(q.statuses.begin(), q.statuses.end(), r.progress.status) == q.statuses.end()) {
    return false;
  }
  if (q.started_after && r.start_timestamp <= *q.started_after) return false;
  if (q.started_before && r.start_timestamp >= *q.started_before) return false;
  return true;
}

const std::string& OperationIdOf(const OperationRecord& r) { return r.operation.id; }

using Event = std::pair<int64_t, std::string>;

bool EventIdBefore(const Event& e, int64_t id) { return e.first < id; }
bool IdBeforeEvent(int64_t id, const Event& e) { return id < e.first; }

bool HasEvent(const std::vector<Event>& events, int64_t id) {
  if (events.empty() || id > events.back().first) return false;  // the usual case
  auto it = std::lower_bound(events.begin(), events.end(), id, EventIdBefore);
  return it != events.end() && it->first == id;
}

ExecutionRecord WithoutPayloads(ExecutionRecord r) {
  r.input.clear();
  r.progress.result.reset();
  r.progress.error.reset();
  return r;
}

}  // namespace

MemoryStore::PerExecution* MemoryStore::Find(const std::string& arn) {
  if (last_ && *last_arn_ == arn) return last_;
  auto it = by_arn_.find(arn);
  if (it == by_arn_.end()) return nullptr;
  last_arn_ = &it->first;
  last_ = &it->second;
  return last_;
}

Status MemoryStore::Write(const WriteBatch& batch) {
  std::lock_guard lock(mu_);
  // Validate everything first, so a failing batch changes nothing.
  std::set<std::string> new_arns;
  std::set<std::pair<std::string, std::string>> new_names;
  for (const auto& e : batch.new_executions) {
    if (Find(e.arn) || !new_arns.insert(e.arn).second) {
      return StoreError(kStoreConstraintError, "execution " + e.arn + " exists already");
    }
    auto key = std::make_pair(e.function_name, e.name);
    if (seq_by_name_.count(key) || !new_names.insert(key).second) {
      return StoreError(kStoreConstraintError,
                        "execution " + e.name + " of " + e.function_name + " exists already");
    }
  }
  auto known = [&](const std::string& arn) {
    return Find(arn) != nullptr || (!new_arns.empty() && new_arns.count(arn));
  };
  for (const auto& [arn, p] : batch.progress) {
    if (!known(arn)) return StoreError(kStoreConstraintError, "no execution " + arn);
  }
  for (const auto& op : batch.operations) {
    if (!known(op.arn)) return StoreError(kStoreConstraintError, "no execution " + op.arn);
  }
  for (size_t i = 0; i < batch.events.size(); ++i) {
    const EventRecord& ev = batch.events[i];
    if (!known(ev.arn)) return StoreError(kStoreConstraintError, "no execution " + ev.arn);
    const PerExecution* x = Find(ev.arn);
    // Batches hold a few events: a scan of the earlier ones beats a set.
    bool repeated = false;
    for (size_t k = 0; k < i && !repeated; ++k) {
      repeated = batch.events[k].event_id == ev.event_id && batch.events[k].arn == ev.arn;
    }
    if ((x && HasEvent(x->events, ev.event_id)) || repeated) {
      return StoreError(kStoreConstraintError, "event " + std::to_string(ev.event_id) + " of " +
                                                   ev.arn + " exists already");
    }
  }
  for (const auto& cb : batch.callbacks) {
    if (!known(cb.arn)) return StoreError(kStoreConstraintError, "no execution " + cb.arn);
  }
  for (const auto& t : batch.timers_set) {
    if (!known(t.key.arn)) return StoreError(kStoreConstraintError, "no execution " + t.key.arn);
  }

  for (const auto& e : batch.new_executions) {
    ExecutionRecord r = e;
    r.seq = next_seq_++;
    seq_by_name_[{r.function_name, r.name}] = r.seq;
    const int64_t seq = r.seq;
    ExecutionRecord& stored = executions_[seq] = std::move(r);
    // by_arn_ may rehash: the remembered entry's key pointer stays valid
    // (node-based), so nothing to forget.
    by_arn_[stored.arn].record = &stored;
  }
  for (const auto& [arn, p] : batch.progress) Find(arn)->record->progress = p;
  for (const auto& op : batch.operations) {
    PerExecution& x = *Find(op.arn);
    const size_t at = x.operation_index.Find(x.operations, OperationIdOf, op.operation.id);
    if (at == IdIndex::kNone) {
      x.operations.push_back(op);
      x.operation_index.Insert(x.operations.back().operation.id, x.operations.size() - 1);
    } else {
      // Assigning over the old record reuses its strings' buffers.
      x.operations[at] = op;
    }
  }
  for (const auto& ev : batch.events) {
    auto& events = Find(ev.arn)->events;
    if (events.empty() || ev.event_id > events.back().first) {
      events.emplace_back(ev.event_id, ev.body);
    } else {
      events.emplace(std::lower_bound(events.begin(), events.end(), ev.event_id, EventIdBefore),
                     ev.event_id, ev.body);
    }
  }
  for (const auto& cb : batch.callbacks) callbacks_[cb.callback_id] = cb;
  for (const auto& t : batch.timers_set) timers_[t.key] = t.due;
  for (const auto& k : batch.timers_cleared) timers_.erase(k);
  ++stats_.batches;
  ++stats_.transactions;
  return {};
}

Result<std::optional<ExecutionRecord>> MemoryStore::GetExecution(const std::string& arn) {
  std::lock_guard lock(mu_);
  const PerExecution* x = Find(arn);
  if (!x) return std::optional<ExecutionRecord>();
  return std::optional<ExecutionRecord>(*x->record);
}

Result<std::vector<ExecutionRecord>> MemoryStore::FindExecutions(const ExecutionQuery& query) {
  std::lock_guard lock(mu_);
  std::vector<ExecutionRecord> out;
  auto take = [&](const ExecutionRecord& r) {
    if (!Matches(r, query)) return;
    out.push_back(query.include_payloads ? r : WithoutPayloads(r));
  };
  if (!query.reverse) {
    for (auto it = executions_.upper_bound(query.cursor);
         it != executions_.end() && out.size() < query.limit; ++it) {
      take(it->second);
    }
  } else {
    auto end = query.cursor > 0 ? executions_.lower_bound(query.cursor) : executions_.end();
    for (auto it = std::make_reverse_iterator(end);
         it != executions_.rend() && out.size() < query.limit; ++it) {
      take(it->second);
    }
  }
  return out;
}

Result<std::vector<OperationRecord>> MemoryStore::GetOperations(const std::string& arn) {
  std::lock_guard lock(mu_);
  std::vector<OperationRecord> out;
  const PerExecution* x = Find(arn);
  if (!x) return out;
  out.assign(x->operations.begin(), x->operations.end());
  std::stable_sort(out.begin(), out.end(),
                   [](const OperationRecord& a, const OperationRecord& b) { return a.seq < b.seq; });
  return out;
}

Result<std::vector<EventRecord>> MemoryStore::GetEvents(const std::string& arn,
                                                        int64_t first_event_id, size_t limit,
                                                        bool reverse) {
  std::lock_guard lock(mu_);
  std::vector<EventRecord> out;
  const PerExecution* x = Find(arn);
  if (!x) return out;
  const auto& events = x->events;
  if (!reverse) {
    for (auto e = std::lower_bound(events.begin(), events.end(), first_event_id, EventIdBefore);
         e != events.end() && out.size() < limit; ++e) {
      out.push_back({arn, e->first, e->second});
    }
  } else {
    for (auto e = std::make_reverse_iterator(
             std::upper_bound(events.begin(), events.end(), first_event_id, IdBeforeEvent));
         e != events.rend() && out.size() < limit; ++e) {
      out.push_back({arn, e->first, e->second});
    }
  }
  return out;
}

Result<std::optional<CallbackRecord>> MemoryStore::GetCallback(const std::string& callback_id) {
  std::lock_guard lock(mu_);
  auto it = callbacks_.find(callback_id);
  if (it == callbacks_.end()) return std::optional<CallbackRecord>();
  return std::optional<CallbackRecord>(it->second);
}

Result<std::vector<TimerRecord>> MemoryStore::GetTimers() {
  std::lock_guard lock(mu_);
  std::vector<TimerRecord> out;
  for (const auto& [key, due] : timers_) out.push_back({key, due});
  std::stable_sort(out.begin(), out.end(),
                   [](const TimerRecord& a, const TimerRecord& b) { return a.due < b.due; });
  return out;
}

Status MemoryStore::CheckConsistency() {
  std::lock_guard lock(mu_);
  // Operations and events are kept under their execution: they cannot
  // belong to an unknown one.
  for (const auto& [arn, x] : by_arn_) {
    if (!x.record || x.record->arn != arn) {
      return StoreError(kStoreCorruptError, "records of unknown " + arn);
    }
  }
  for (const auto& [id, cb] : callbacks_) {
    if (!by_arn_.count(cb.arn))
      return StoreError(kStoreCorruptError, "callback of unknown " + cb.arn);
  }
  for (const auto& [key, due] : timers_) {
    if (!by_arn_.count(key.arn))
      return StoreError(kStoreCorruptError, "timer of unknown " + key.arn);
  }
  return {};
}

StoreStats MemoryStore::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace cairn::backend::local
