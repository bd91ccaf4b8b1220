// The local durable service's journal: executions, their operations, history
// events, callbacks and timers, behind one small interface.
//
// Implementations: SqliteStore (durable; group commit) and MemoryStore (for
// tests and benchmarks without a disk). Both pass store_test.cc.
//
// Model. The store holds plain records; it knows nothing of the protocol's
// rules (the service enforces them). A WriteBatch is the unit of atomicity
// and durability: when Write returns OK, every record of the batch is
// durable (SqliteStore: fsynced, synchronous=FULL); when it fails, none of it
// was applied. Batches of concurrent writers may share one transaction
// (group commit) but never their fate: a batch that fails is rolled back
// alone.
//
// Thread-safety: every method of every implementation is thread-safe.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"
#include "protocol/protocol.h"

namespace cairn::backend::local {

// Error codes of the store (Error.code).
inline constexpr std::string_view kStoreIoError = "store.io";
inline constexpr std::string_view kStoreLockedError = "store.locked";
inline constexpr std::string_view kStoreReadOnlyError = "store.read_only";
inline constexpr std::string_view kStoreNewerSchemaError = "store.newer_schema";
inline constexpr std::string_view kStoreCorruptError = "store.corrupt";
// A record that must be unique exists already (an execution's ARN, or its
// function and name).
inline constexpr std::string_view kStoreConstraintError = "store.constraint";

// The mutable part of an execution.
struct ExecutionProgress {
  protocol::ExecutionStatus status = protocol::ExecutionStatus::kRunning;
  std::optional<std::string> result;
  std::optional<protocol::ErrorObject> error;
  std::optional<protocol::Timestamp> end_timestamp;
  // The EventId the next history event gets (ExecutionStarted is 1).
  int64_t next_event_id = 1;
  // The execution must be invoked (it is new, something it waited for
  // completed, or an invocation is in flight). Cleared when an invocation
  // ends with PENDING and nothing new happened meanwhile.
  bool invoke_requested = false;
  // Invocations that failed in a row (reset by one that returns).
  int64_t failed_invocations = 0;

  friend bool operator==(const ExecutionProgress&, const ExecutionProgress&) = default;
};

struct ExecutionRecord {
  std::string arn;
  // The Id of the EXECUTION operation (the ARN's last segment).
  std::string execution_id;
  // DurableExecutionName: unique per function.
  std::string name;
  // The function (workflow) the execution runs.
  std::string function_name;
  // InputPayload (JSON text).
  std::string input;
  protocol::Timestamp start_timestamp = 0;
  int64_t execution_timeout_seconds = 0;
  // Set when the execution was started by a CHAINED_INVOKE operation.
  std::optional<std::string> parent_arn;
  std::optional<std::string> parent_operation_id;
  ExecutionProgress progress;
  // Assigned by the store on insert; increases in insertion order. Ignored
  // in WriteBatch::new_executions.
  int64_t seq = 0;

  friend bool operator==(const ExecutionRecord&, const ExecutionRecord&) = default;
};

struct OperationRecord {
  std::string arn;
  // Position of the operation in its execution (creation order, from 0).
  int64_t seq = 0;
  protocol::Operation operation;

  friend bool operator==(const OperationRecord&, const OperationRecord&) = default;
};

struct EventRecord {
  std::string arn;
  int64_t event_id = 0;
  // The event as JSON text (history.h), with execution data.
  std::string body;

  friend bool operator==(const EventRecord&, const EventRecord&) = default;
};

struct CallbackRecord {
  std::string callback_id;
  std::string arn;
  std::string operation_id;
  // 0 = no heartbeat required.
  int64_t heartbeat_timeout_seconds = 0;
  // False once the callback succeeded, failed, timed out or its execution
  // ended.
  bool open = true;

  friend bool operator==(const CallbackRecord&, const CallbackRecord&) = default;
};

enum class TimerKind : int {
  kWaitEnd = 1,            // WAIT → SUCCEEDED
  kStepRetry = 2,          // STEP PENDING → READY
  kCallbackTimeout = 3,    // CALLBACK → TIMED_OUT (Callback.Timeout)
  kCallbackHeartbeat = 4,  // CALLBACK → TIMED_OUT (Callback.Heartbeat)
  kExecutionTimeout = 5,   // execution → TIMED_OUT
  kInvokeRetry = 6,        // re-invoke after a failed invocation
};

struct TimerKey {
  std::string arn;
  // "" for execution-level timers.
  std::string operation_id;
  TimerKind kind = TimerKind::kWaitEnd;

  friend auto operator<=>(const TimerKey&, const TimerKey&) = default;
  friend bool operator==(const TimerKey&, const TimerKey&) = default;
};

struct TimerRecord {
  TimerKey key;
  protocol::Timestamp due = 0;

  friend bool operator==(const TimerRecord&, const TimerRecord&) = default;
};

// One atomic, durable unit of change. Applied in this order: new
// executions, progress, operations, events, callbacks, timers set, timers
// cleared.
struct WriteBatch {
  // Inserted; an existing ARN, or function+name, fails the batch with
  // kStoreConstraintError.
  std::vector<ExecutionRecord> new_executions;
  // (arn, progress) of existing executions (or of new ones in this batch).
  std::vector<std::pair<std::string, ExecutionProgress>> progress;
  // Inserted or replaced, keyed by (arn, operation.id).
  std::vector<OperationRecord> operations;
  // Inserted; an existing (arn, event_id) fails the batch.
  std::vector<EventRecord> events;
  // Inserted or replaced, keyed by callback_id.
  std::vector<CallbackRecord> callbacks;
  // Inserted or replaced, keyed by TimerKey.
  std::vector<TimerRecord> timers_set;
  // Deleted if present.
  std::vector<TimerKey> timers_cleared;

  bool empty() const {
    return new_executions.empty() && progress.empty() && operations.empty() && events.empty() &&
           callbacks.empty() && timers_set.empty() && timers_cleared.empty();
  }
};

// Which executions FindExecutions returns: those matching every set filter,
// ordered by seq (ascending, or descending with `reverse`), starting after
// `cursor` (a seq; 0 = from the start).
struct ExecutionQuery {
  std::optional<std::string> function_name;
  std::optional<std::string> name;
  std::vector<protocol::ExecutionStatus> statuses;    // empty = any
  std::optional<protocol::Timestamp> started_after;   // exclusive
  std::optional<protocol::Timestamp> started_before;  // exclusive
  int64_t cursor = 0;
  bool reverse = false;
  size_t limit = 100;
  // When false, input, result and error are left empty (cheaper listings).
  bool include_payloads = true;
};

struct StoreStats {
  // Successful Write calls.
  int64_t batches = 0;
  // Transactions committed.
  int64_t transactions = 0;
  // SqliteStore with pipelined_sync: the WAL syncs that made commits
  // durable, each covering every commit written before it began (fewer
  // than the transactions when writers are concurrent). 0 otherwise (each
  // transaction then syncs in its COMMIT).
  int64_t wal_syncs = 0;
  // SqliteStore: bytes appended to the WAL (frames with their headers), and
  // checkpoints run. 0 for MemoryStore.
  int64_t wal_bytes = 0;
  int64_t checkpoints = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // Applies `batch` atomically and durably; see the file comment. Blocks
  // until the batch is durable. Errors: kStoreConstraintError,
  // kStoreReadOnlyError (none of the batch applied), kStoreIoError (none of
  // it applied, or — when making it durable failed — not durable, and the
  // store accepts no more writes until it is opened again).
  virtual Status Write(const WriteBatch& batch) = 0;

  virtual Result<std::optional<ExecutionRecord>> GetExecution(const std::string& arn) = 0;
  virtual Result<std::vector<ExecutionRecord>> FindExecutions(const ExecutionQuery& query) = 0;
  // The operations of one execution in seq order (empty if none/unknown).
  virtual Result<std::vector<OperationRecord>> GetOperations(const std::string& arn) = 0;
  // Up to `limit` events of one execution starting at `first_event_id`
  // (inclusive) and going up, or down when `reverse`.
  virtual Result<std::vector<EventRecord>> GetEvents(const std::string& arn, int64_t first_event_id,
                                                     size_t limit, bool reverse) = 0;
  virtual Result<std::optional<CallbackRecord>> GetCallback(const std::string& callback_id) = 0;
  // Every timer, ordered by due time.
  virtual Result<std::vector<TimerRecord>> GetTimers() = 0;

  // Checks the store's internal consistency (SqliteStore: integrity_check
  // and that every operation, event, callback and timer belongs to an
  // execution). OK or kStoreCorruptError naming the first problem.
  virtual Status CheckConsistency() = 0;

  virtual StoreStats stats() const = 0;
};

}  // namespace cairn::backend::local
