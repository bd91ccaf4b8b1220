// Durations as the workflow language writes them: "500ms", "5s", "10m",
// "1h", "2d", a compound such as "1h30m", or a plain number of seconds.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace cairn {

// Milliseconds; the language's smallest unit.
struct Duration {
  int64_t millis = 0;

  static constexpr Duration Seconds(int64_t s) { return Duration{s * 1000}; }
  bool whole_seconds() const { return millis % 1000 == 0; }
  int64_t seconds() const { return millis / 1000; }
  // Canonical text: the largest units that divide exactly, e.g. "1h30m", "500ms".
  std::string ToString() const;
  friend bool operator==(Duration a, Duration b) { return a.millis == b.millis; }
  friend auto operator<=>(Duration a, Duration b) { return a.millis <=> b.millis; }
};

// Longest duration the protocol accepts anywhere (366 days).
inline constexpr Duration kMaxDuration = Duration::Seconds(31622400);

// Parses "<n><unit>..." with units ms, s, m, h, d (n a non-negative integer,
// or a decimal for a single unit like "1.5s"). On failure the error message
// says what was expected. Does not range-check; callers do.
Result<Duration> ParseDuration(std::string_view text);

// A number of seconds (from YAML/JSON); rejects negative and non-finite values.
Result<Duration> DurationFromSeconds(double seconds);

}  // namespace cairn
