// MemoryStore: a Store kept in memory, for tests and for benchmarks that
// measure the service without a disk. Same semantics as SqliteStore except
// durability (nothing survives the process). Thread-safe.
#pragma once

#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "backend/local/id_index.h"
#include "backend/local/store.h"

namespace cairn::backend::local {

class MemoryStore final : public Store {
 public:
  MemoryStore() = default;
  MemoryStore(const MemoryStore&) = delete;
  MemoryStore& operator=(const MemoryStore&) = delete;

  Status Write(const WriteBatch& batch) override;
  Result<std::optional<ExecutionRecord>> GetExecution(const std::string& arn) override;
  Result<std::vector<ExecutionRecord>> FindExecutions(const ExecutionQuery& query) override;
  Result<std::vector<OperationRecord>> GetOperations(const std::string& arn) override;
  Result<std::vector<EventRecord>> GetEvents(const std::string& arn, int64_t first_event_id,
                                             size_t limit, bool reverse) override;
  Result<std::optional<CallbackRecord>> GetCallback(const std::string& callback_id) override;
  Result<std::vector<TimerRecord>> GetTimers() override;
  Status CheckConsistency() override;
  StoreStats stats() const override;

 private:
  // Everything kept of one execution but its record, found by ARN once per
  // group of a batch's records (consecutive records share their ARN).
  struct PerExecution {
    ExecutionRecord* record = nullptr;  // in executions_ (map nodes never move)
    std::deque<OperationRecord> operations;  // in order of first write
    IdIndex operation_index;                 // positions in `operations` by operation id
    // (event id, body), sorted by event id; ids mostly arrive in order, so
    // a new one is almost always appended.
    std::vector<std::pair<int64_t, std::string>> events;
  };
  // The execution `arn` (nullptr if unknown); remembers the last one found.
  // REQUIRES: mu_ held.
  PerExecution* Find(const std::string& arn);

  mutable std::mutex mu_;
  // Guarded by mu_.
  int64_t next_seq_ = 1;
  std::map<int64_t, ExecutionRecord> executions_;  // by seq
  std::unordered_map<std::string, PerExecution> by_arn_;
  const std::string* last_arn_ = nullptr;  // the key in by_arn_ of last_
  PerExecution* last_ = nullptr;
  std::map<std::pair<std::string, std::string>, int64_t> seq_by_name_;  // (function, name)
  std::map<std::string, CallbackRecord> callbacks_;
  std::map<TimerKey, protocol::Timestamp> timers_;
  StoreStats stats_;
};

}  // namespace cairn::backend::local
