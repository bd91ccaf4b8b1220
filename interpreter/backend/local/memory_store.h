// MemoryStore: a Store kept in memory, for tests and for benchmarks that
// measure the service without a disk. Same semantics as SqliteStore except
// durability (nothing survives the process). Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <unordered_map>

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
  mutable std::mutex mu_;
  // Guarded by mu_.
  int64_t next_seq_ = 1;
  std::map<int64_t, ExecutionRecord> executions_;  // by seq
  std::unordered_map<std::string, int64_t> seq_by_arn_;
  std::map<std::pair<std::string, std::string>, int64_t> seq_by_name_;  // (function, name)
  std::unordered_map<std::string, std::map<std::string, OperationRecord>> operations_;
  std::unordered_map<std::string, std::map<int64_t, std::string>> events_;
  std::map<std::string, CallbackRecord> callbacks_;
  std::map<TimerKey, protocol::Timestamp> timers_;
  StoreStats stats_;
};

}  // namespace cairn::backend::local
