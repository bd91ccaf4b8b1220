// Clock: the only way cairn reads the time. Production uses SystemClock;
// tests use FakeClock, which moves only when told (so waits of a day run in
// microseconds and timers fire deterministically).
#pragma once

#include <atomic>
#include <cstdint>

namespace cairn {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch (UTC). Thread-safe.
  virtual int64_t NowMillis() const = 0;
  // A monotonic reading in nanoseconds, for measuring durations. Thread-safe.
  virtual int64_t MonotonicNanos() const = 0;
};

// Reads the system's real-time and monotonic clocks.
class SystemClock final : public Clock {
 public:
  int64_t NowMillis() const override;
  int64_t MonotonicNanos() const override;
  // A process-wide instance.
  static const SystemClock& Instance();
};

// A clock that stands still until Advance/Set. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t start_millis = 1'764'000'000'000) : now_(start_millis) {}
  int64_t NowMillis() const override { return now_.load(); }
  int64_t MonotonicNanos() const override { return now_.load() * 1'000'000; }
  void Advance(int64_t millis) { now_ += millis; }
  void Set(int64_t millis) { now_ = millis; }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace cairn
