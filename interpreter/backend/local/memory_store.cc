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

ExecutionRecord WithoutPayloads(ExecutionRecord r) {
  r.input.clear();
  r.progress.result.reset();
  r.progress.error.reset();
  return r;
}

}  // namespace

Status MemoryStore::Write(const WriteBatch& batch) {
  std::lock_guard lock(mu_);
  // Validate everything first, so a failing batch changes nothing.
  std::set<std::string> new_arns;
  std::set<std::pair<std::string, std::string>> new_names;
  for (const auto& e : batch.new_executions) {
    if (seq_by_arn_.count(e.arn) || !new_arns.insert(e.arn).second) {
      return StoreError(kStoreConstraintError, "execution " + e.arn + " exists already");
    }
    auto key = std::make_pair(e.function_name, e.name);
    if (seq_by_name_.count(key) || !new_names.insert(key).second) {
      return StoreError(kStoreConstraintError,
                        "execution " + e.name + " of " + e.function_name + " exists already");
    }
  }
  auto known = [&](const std::string& arn) {
    return seq_by_arn_.count(arn) || new_arns.count(arn);
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
    auto it = events_.find(ev.arn);
    // Batches hold a few events: a scan of the earlier ones beats a set.
    bool repeated = false;
    for (size_t k = 0; k < i && !repeated; ++k) {
      repeated = batch.events[k].event_id == ev.event_id && batch.events[k].arn == ev.arn;
    }
    if ((it != events_.end() && it->second.count(ev.event_id)) || repeated) {
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
    seq_by_arn_[r.arn] = r.seq;
    seq_by_name_[{r.function_name, r.name}] = r.seq;
    executions_[r.seq] = std::move(r);
  }
  for (const auto& [arn, p] : batch.progress) executions_[seq_by_arn_[arn]].progress = p;
  for (const auto& op : batch.operations) operations_[op.arn][op.operation.id] = op;
  for (const auto& ev : batch.events) events_[ev.arn][ev.event_id] = ev.body;
  for (const auto& cb : batch.callbacks) callbacks_[cb.callback_id] = cb;
  for (const auto& t : batch.timers_set) timers_[t.key] = t.due;
  for (const auto& k : batch.timers_cleared) timers_.erase(k);
  ++stats_.batches;
  ++stats_.transactions;
  return {};
}

Result<std::optional<ExecutionRecord>> MemoryStore::GetExecution(const std::string& arn) {
  std::lock_guard lock(mu_);
  auto it = seq_by_arn_.find(arn);
  if (it == seq_by_arn_.end()) return std::optional<ExecutionRecord>();
  return std::optional<ExecutionRecord>(executions_.at(it->second));
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
  auto it = operations_.find(arn);
  if (it == operations_.end()) return out;
  for (const auto& [id, op] : it->second) out.push_back(op);
  std::sort(out.begin(), out.end(),
            [](const OperationRecord& a, const OperationRecord& b) { return a.seq < b.seq; });
  return out;
}

Result<std::vector<EventRecord>> MemoryStore::GetEvents(const std::string& arn,
                                                        int64_t first_event_id, size_t limit,
                                                        bool reverse) {
  std::lock_guard lock(mu_);
  std::vector<EventRecord> out;
  auto it = events_.find(arn);
  if (it == events_.end()) return out;
  const auto& events = it->second;
  if (!reverse) {
    for (auto e = events.lower_bound(first_event_id); e != events.end() && out.size() < limit;
         ++e) {
      out.push_back({arn, e->first, e->second});
    }
  } else {
    for (auto e = std::make_reverse_iterator(events.upper_bound(first_event_id));
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
  for (const auto& [arn, ops] : operations_) {
    if (!seq_by_arn_.count(arn))
      return StoreError(kStoreCorruptError, "operations of unknown " + arn);
  }
  for (const auto& [arn, evs] : events_) {
    if (!seq_by_arn_.count(arn)) return StoreError(kStoreCorruptError, "events of unknown " + arn);
  }
  for (const auto& [id, cb] : callbacks_) {
    if (!seq_by_arn_.count(cb.arn))
      return StoreError(kStoreCorruptError, "callback of unknown " + cb.arn);
  }
  for (const auto& [key, due] : timers_) {
    if (!seq_by_arn_.count(key.arn))
      return StoreError(kStoreCorruptError, "timer of unknown " + key.arn);
  }
  return {};
}

StoreStats MemoryStore::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace cairn::backend::local
