#include "core/duration.h"

#include <cctype>
#include <cmath>
#include <cstdlib>

namespace cairn {
namespace {

struct Unit {
  std::string_view name;
  int64_t millis;
};
// Longest names first so "ms" is not read as "m".
constexpr Unit kUnits[] = {{"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000},
                           {"d", 86'400'000}};

Error Bad(std::string_view text, std::string why) {
  return MakeError("duration",
                   "invalid duration '" + std::string(text) + "': " + why +
                       " (write e.g. 500ms, 30s, 10m, 1h, 2d, 1h30m, or a number of seconds)");
}

}  // namespace

std::string Duration::ToString() const {
  if (millis == 0) return "0s";
  std::string out;
  int64_t rest = millis;
  if (rest % 1000 != 0 && rest < 1000) return std::to_string(rest) + "ms";
  for (auto it = std::rbegin(kUnits); it != std::rend(kUnits); ++it) {
    if (rest >= it->millis) {
      out += std::to_string(rest / it->millis) + std::string(it->name);
      rest %= it->millis;
    }
  }
  return out;
}

Result<Duration> ParseDuration(std::string_view text) {
  if (text.empty()) return Bad(text, "it is empty");
  // A bare number means seconds.
  {
    char* end = nullptr;
    std::string s(text);
    double v = std::strtod(s.c_str(), &end);
    if (end && *end == '\0' && end != s.c_str()) return DurationFromSeconds(v);
  }
  int64_t total = 0;
  size_t i = 0;
  int parts = 0;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
    if (start == i) return Bad(text, "expected a number at position " + std::to_string(start + 1));
    std::string number(text.substr(start, i - start));
    size_t ustart = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    std::string_view unit = text.substr(ustart, i - ustart);
    if (unit.empty()) return Bad(text, "missing unit after " + number);
    const Unit* found = nullptr;
    for (const auto& u : kUnits) {
      if (u.name == unit) found = &u;
    }
    if (!found) return Bad(text, "unknown unit '" + std::string(unit) + "'");
    char* end = nullptr;
    double v = std::strtod(number.c_str(), &end);
    if (*end != '\0' || !std::isfinite(v)) return Bad(text, "'" + number + "' is not a number");
    double ms = v * static_cast<double>(found->millis);
    if (ms > 1e15) return Bad(text, "it is too long");
    if (ms != std::floor(ms)) return Bad(text, "it is not a whole number of milliseconds");
    total += static_cast<int64_t>(ms);
    ++parts;
  }
  (void)parts;
  return Duration{total};
}

Result<Duration> DurationFromSeconds(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) {
    return MakeError("duration", "invalid duration: seconds must be a non-negative number");
  }
  if (seconds > 1e12) return MakeError("duration", "invalid duration: it is too long");
  double ms = seconds * 1000.0;
  if (ms != std::floor(ms)) {
    return MakeError("duration", "invalid duration: it is not a whole number of milliseconds");
  }
  return Duration{static_cast<int64_t>(ms)};
}

}  // namespace cairn
