// Small string helpers shared by the modules.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace cairn {

// Levenshtein edit distance (for "did you mean" hints).
size_t EditDistance(std::string_view a, std::string_view b);

// The candidate closest to `word` if it is close enough to be a likely typo
// (distance ≤ max(1, len/3)), else the empty string.
std::string ClosestMatch(std::string_view word, const std::vector<std::string>& candidates);

// True when `s` matches [A-Za-z_][A-Za-z0-9_]*.
bool IsIdentifier(std::string_view s);

}  // namespace cairn
