// LocalDurableService: cairn's embedded durable execution service, with the
// semantics of AWS Lambda durable functions (PROTOCOL.md), over a Store.
//
// It plays every part the Lambda service plays in AWS:
//   * starts executions (idempotent by name) and gives them AWS-format ARNs,
//   * is the CheckpointClient of their invocations: checks tokens, enforces
//     the operation state machine (operation_state_machine.h), makes
//     service values (callback ids, timestamps), records history events,
//   * runs timers (waits, retry delays, callback timeouts and heartbeats,
//     execution timeouts), takes callbacks, stops executions,
//   * drives executions: invokes each one that is due through an Invoker
//     (the engine) and applies what the invocation returns.
//
// ARNs: arn:aws:lambda:<region>:<account>:function:<function>:$LATEST/
// durable-execution/<execution name>/<execution id>, with region "local"
// and account "000000000000" unless configured. The execution id (a random
// UUID) is also the Id of the EXECUTION operation.
//
// Durability: every change is written to the store (one batch, durable)
// before it becomes visible or is acknowledged. After a restart, Create()
// reloads timers and re-queues every running execution that was due or
// in flight; tokens of invocations that were in flight are gone (those
// invocations are simply re-run).
//
// Thread-safety: every public method is thread-safe. Calls for different
// executions proceed in parallel (their store writes share commits); calls
// for one execution are serialized. Checkpoint and GetState may be called
// from inside Invoker::Invoke.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "backend/durable_backend.h"
#include "backend/local/history.h"
#include "backend/local/store.h"
#include "core/clock.h"
#include "core/result.h"
#include "protocol/protocol.h"

namespace cairn::backend::local {

// The region and account of local ARNs.
inline constexpr std::string_view kLocalRegion = "local";
inline constexpr std::string_view kLocalAccount = "000000000000";

struct LocalServiceOptions {
  std::string region = std::string(kLocalRegion);
  std::string account = std::string(kLocalAccount);
  // Operations per page of InitialExecutionState and GetState (AWS: ≤ 1000).
  size_t state_page_size = 1000;
  // ExecutionTimeout of executions started without one (1..31,622,400 s).
  int64_t default_execution_timeout_seconds = protocol::kMaxDelaySeconds;
  // Backoff between re-invocations after failed invocations (doubling).
  int64_t invocation_retry_initial_ms = 1000;
  int64_t invocation_retry_max_ms = 60'000;
  // After this many failed invocations in a row the execution FAILS with
  // the last invocation's error.
  int64_t max_failed_invocations = 10;
};

struct StartExecutionRequest {
  // The function (workflow) to run: 1..64 of [A-Za-z0-9_-].
  std::string function_name;
  // DurableExecutionName (1..64 of [A-Za-z0-9_-]); a random UUID if unset.
  std::optional<std::string> name;
  // InputPayload: JSON text (≤ 6 MiB).
  std::string input = "{}";
  // 1..31,622,400; LocalServiceOptions::default_execution_timeout_seconds if unset.
  std::optional<int64_t> execution_timeout_seconds;
  // The caller runs the first invocation itself with InvokeNow right after
  // the start returns, instead of a Serve worker (no hand-off between
  // threads). Should the process die before, the execution is due in the
  // store and runs after the restart.
  bool caller_invokes = false;
  // With caller_invokes and no name: the start is not committed on its own
  // but with the first invocation's first checkpoint (or its end), one
  // commit fewer per execution. The engine checkpoints before the
  // workflow's first action (CheckpointClient::StartIsNotDurable), so no
  // effect belongs to an execution that a crash could lose. Until that
  // commit the execution exists only in this process: GetExecution and
  // ListExecutions do not see it, and a crash loses it — its caller, who has
  // no reply yet, sees the request fail. Should that commit fail, InvokeNow
  // fails and the execution is dropped. Ignored for a start with a name
  // (the name is claimed by the start's own commit).
  bool durable_with_first_checkpoint = false;
};

struct StartedExecution {
  std::string arn;
  std::string name;
  // True when a RUNNING execution of that name with the same input existed
  // (an idempotent retry of the start); nothing was started then.
  bool already_existed = false;
};

struct ListExecutionsRequest {
  std::string function_name;
  std::optional<std::string> name;
  std::vector<protocol::ExecutionStatus> statuses;  // empty = any
  std::optional<protocol::Timestamp> started_after;
  std::optional<protocol::Timestamp> started_before;
  std::string marker;      // "" = first page
  size_t max_items = 100;  // 1..1000
  bool reverse = false;    // newest first
};

struct ExecutionPage {
  std::vector<ExecutionRecord> executions;  // without input, result, error
  std::string next_marker;                  // "" on the last page
};

struct HistoryRequest {
  std::string arn;
  std::string marker;       // "" = from the first (or, reversed, the last) event
  size_t max_items = 1000;  // 1..1000
  bool reverse = false;
};

struct HistoryPage {
  std::vector<HistoryEvent> events;  // with execution data; see HistoryEventToJson
  std::string next_marker;
};

// What one pass of the driver did.
struct DriveReport {
  int64_t timers_fired = 0;
  int64_t invocations = 0;
};

struct IdleOptions {
  // When set, RunUntilIdle moves this clock forward to the next timer
  // whenever nothing else is left to do (tests: waits of a day take no
  // time). REQUIRES: it is the clock the service reads.
  FakeClock* advance_clock = nullptr;
  // Never advance the clock past this time.
  protocol::Timestamp advance_until = INT64_MAX;
  // A safety stop for runaway executions.
  int64_t max_invocations = 1'000'000;
};

struct ServeOptions {
  // Invocations run concurrently on this many threads.
  int invoke_threads = 16;
};

class LocalDurableService final : public CheckpointClient {
 public:
  // Loads the timers and due executions kept in `store`. `store` and `clock`
  // must outlive the service; `invoker` may be null (nothing is invoked).
  static Result<std::unique_ptr<LocalDurableService>> Create(Store& store, const Clock& clock,
                                                             Invoker* invoker,
                                                             LocalServiceOptions options = {});
  // REQUIRES: Serve() is not running (call Stop() and let it return first).
  ~LocalDurableService() override;
  LocalDurableService(const LocalDurableService&) = delete;
  LocalDurableService& operator=(const LocalDurableService&) = delete;

  // ---- executions ----

  // Starts an execution (recording ExecutionStarted) and queues its first
  // invocation. A name that exists gives kAlreadyStartedError unless that
  // execution is RUNNING with the same input (then its ARN is returned,
  // already_existed set). Errors: kInvalidRequestError (bad names, input not
  // JSON, timeout out of range), kPayloadTooLargeError, kRetryableError.
  Result<StartedExecution> StartExecution(const StartExecutionRequest& request);
  // Runs one invocation of `arn` on the calling thread, as a Serve worker
  // would (nothing when it is not running or already in flight). For a
  // start with caller_invokes. When the invocation ended the execution and
  // `ended` is given, *ended is set to its final, durable record (what
  // GetExecution would read back from the store). For a start with
  // durable_with_first_checkpoint whose start could not be recorded, fails
  // and the execution is gone.
  Status InvokeNow(const std::string& arn, std::optional<ExecutionRecord>* ended = nullptr);

  // GetDurableExecution. Errors: kNotFoundError, kRetryableError.
  Result<ExecutionRecord> GetExecution(const std::string& arn);
  // GetExecution once the execution has ended (its end durable), or once
  // `timeout` has passed (then it is still RUNNING). Blocks the calling
  // thread; woken by the commit that ends the execution, not by polling.
  // Errors: kNotFoundError, kRetryableError.
  Result<ExecutionRecord> WaitForExecution(const std::string& arn,
                                           std::chrono::milliseconds timeout);
  // ListDurableExecutionsByFunction. Errors: kInvalidRequestError (bad
  // marker), kRetryableError.
  Result<ExecutionPage> ListExecutions(const ListExecutionsRequest& request);
  // StopDurableExecution: the execution ends STOPPED (ExecutionStopped with
  // `error`); its timers and callbacks are cancelled and the token of an
  // invocation in flight stops working. Returns the stop time. Errors:
  // kNotFoundError, kInvalidRequestError (already ended), kRetryableError.
  Result<protocol::Timestamp> StopExecution(const std::string& arn,
                                            const std::optional<protocol::ErrorObject>& error);
  // GetDurableExecutionHistory. Errors: kNotFoundError, kInvalidRequestError
  // (bad marker), kRetryableError.
  Result<HistoryPage> GetHistory(const HistoryRequest& request);

  // The function's ARN (FunctionArn of GetDurableExecution).
  std::string FunctionArn(const std::string& function_name) const;

  // ---- callbacks ----

  // SendDurableExecutionCallbackSuccess: `result` (raw, ≤ 262,144 bytes)
  // becomes the CALLBACK's result and the execution is re-invoked. Errors:
  // kCallbackTimeoutError (unknown, expired or already closed id, or the
  // execution ended), kPayloadTooLargeError, kInvalidRequestError
  // (malformed id), kRetryableError.
  Status SendCallbackSuccess(const std::string& callback_id, const std::string& result);
  // SendDurableExecutionCallbackFailure. Errors as above (kInvalidRequestError
  // for an error object of 32 KiB or more).
  Status SendCallbackFailure(const std::string& callback_id, const protocol::ErrorObject& error);
  // SendDurableExecutionCallbackHeartbeat: restarts the heartbeat timeout.
  Status SendCallbackHeartbeat(const std::string& callback_id);

  // ---- CheckpointClient (see durable_backend.h) ----

  Result<protocol::CheckpointResponse> Checkpoint(
      const std::string& arn, const protocol::CheckpointRequest& request) override;
  Result<protocol::ExecutionState> GetState(const std::string& arn, const std::string& token,
                                            const std::string& marker) override;
  bool StartIsNotDurable(const std::string& arn) override;

  // ---- the driver ----

  // Fires every timer that is due, then invokes (on this thread) each
  // execution that was due at that point, once.
  Result<DriveReport> RunOnce();
  // Repeats RunOnce until nothing is due (advancing a fake clock to the next
  // timer if asked). Returns when idle: what is left waits for callbacks or
  // for timers past `advance_until`.
  Status RunUntilIdle(const IdleOptions& options = {});
  // The production loop: fires timers when due (woken early by new timers,
  // callbacks and Stop) and runs invocations on `invoke_threads` threads.
  // Blocks until Stop(); then waits for the invocations in flight to return.
  // Errors: kInvalidRequestError if already serving.
  Status Serve(const ServeOptions& options = {});
  // Makes Serve return (after the invocations in flight). Thread-safe; not
  // async-signal-safe.
  void Stop();
  // Makes Serve re-read the clock now (use after moving a FakeClock).
  void Wake();

  // When the earliest timer is due; nullopt without timers.
  std::optional<protocol::Timestamp> NextTimerDue() const;
  // Executions waiting to be invoked.
  size_t RunnableCount() const;

 private:
  struct LiveExecution;
  struct Locked;
  struct Mutation;

  LocalDurableService(Store& store, const Clock& clock, Invoker* invoker,
                      LocalServiceOptions options);
  Status Recover();

  Result<Locked> Acquire(const std::string& arn);
  Status Load(LiveExecution& x, const std::string& arn, bool& found);
  Status Commit(LiveExecution& x, Mutation m);
  void Evict(LiveExecution& x);

  ExecutionRecord NewExecution(const std::string& function_name, const std::string& name,
                               const std::string& input, int64_t timeout_seconds,
                               protocol::Timestamp now) const;
  // REQUIRES: x locked. Updates x's cached state order.
  protocol::ExecutionState StatePage(LiveExecution& x, size_t position) const;
  std::vector<protocol::Operation> TakeDirty(LiveExecution& x);
  void EndExecution(LiveExecution& x, Mutation& m, protocol::ExecutionStatus status,
                    std::optional<std::string> result, std::optional<protocol::ErrorObject> error,
                    protocol::Timestamp now);
  static void RequestInvocation(Mutation& m);
  // The still-open callback `callback_id`, its execution locked; errors are
  // the callback APIs' (invalid id, CallbackTimeout, store failures).
  struct OpenCallback;
  Result<OpenCallback> FindOpenCallback(const std::string& callback_id);
  Status CompleteCallback(const std::string& callback_id, protocol::OperationStatus status,
                          const std::optional<std::string>& result,
                          const std::optional<protocol::ErrorObject>& error);

  int64_t FireDueTimers(protocol::Timestamp now);
  void FireTimer(const TimerRecord& timer, protocol::Timestamp now);
  Status InvokeOne(const std::string& arn, std::optional<ExecutionRecord>* ended = nullptr);

  // REQUIRES: mu_ held.
  void AddTimerLocked(const TimerRecord& t);
  void ClearTimerLocked(const TimerKey& key);
  void MarkRunnableLocked(const std::string& arn);

  Store& store_;
  const Clock& clock_;
  Invoker* const invoker_;
  const LocalServiceOptions options_;

  // Serializes the name check and insert of StartExecution.
  std::mutex start_mu_;

  // Lock order: a LiveExecution's mutex (child before parent), then mu_.
  mutable std::mutex mu_;
  // Guarded by mu_.
  std::unordered_map<std::string, std::shared_ptr<LiveExecution>> live_;
  std::deque<std::string> runnable_;
  std::unordered_set<std::string> runnable_set_;
  std::set<std::pair<protocol::Timestamp, TimerKey>> timer_queue_;
  std::map<TimerKey, protocol::Timestamp> timer_due_;
  bool serving_ = false;
  bool stopping_ = false;
  int64_t wake_generation_ = 0;
  // When the timer loop's wait ends; 0 while it is not waiting.
  protocol::Timestamp timer_loop_wakes_at_ = 0;
  // Callers of WaitForExecution, by ARN.
  struct EndWaiters {
    std::condition_variable cv;
    int count = 0;
    bool ended = false;
  };
  std::unordered_map<std::string, std::shared_ptr<EndWaiters>> end_waiters_;
  std::condition_variable work_cv_;   // runnable_ grew, or stopping_
  std::condition_variable timer_cv_;  // an earlier timer, Wake(), or stopping_
};

}  // namespace cairn::backend::local
