#include "core/clock.h"

#include <chrono>

namespace cairn {

int64_t SystemClock::NowMillis() const {
  using namespace std::chrono;  // NOLINT(google-build-using-namespace)
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

int64_t SystemClock::MonotonicNanos() const {
  using namespace std::chrono;  // NOLINT(google-build-using-namespace)
  return duration_cast<nanoseconds>(steady_clock::now().time_since_epoch()).count();
}

const SystemClock& SystemClock::Instance() {
  static const SystemClock clock;
  return clock;
}

}  // namespace cairn
