#include "compile/operation_id.h"

#include <array>

namespace cairn {
namespace {

constexpr uint64_t kFnvOffsetBasis = 14695981039346656037ULL;
constexpr uint64_t kFnvPrime = 1099511628211ULL;

bool IsIdChar(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

class Fnv1a {
 public:
  void Bytes(std::string_view bytes) {
    for (unsigned char c : bytes) {
      hash_ ^= c;
      hash_ *= kFnvPrime;
    }
  }
  // Little-endian, so the hash does not depend on the host's byte order.
  void Number(uint64_t n) {
    std::array<char, 8> bytes{};
    for (auto& b : bytes) {
      b = static_cast<char>(n & 0xff);
      n >>= 8;
    }
    Bytes(std::string_view(bytes.data(), bytes.size()));
  }
  // Length first, so ("ab", "c") and ("a", "bc") hash differently.
  void Field(std::string_view bytes) {
    Number(bytes.size());
    Bytes(bytes);
  }
  uint64_t value() const { return hash_; }

 private:
  uint64_t hash_ = kFnvOffsetBasis;
};

std::string ReadablePrefix(std::string_view name) {
  std::string prefix;
  for (unsigned char c : name) {
    if (prefix.size() >= kOperationIdPrefixLength) break;
    if (IsIdChar(c)) {
      prefix.push_back(static_cast<char>(c));
    } else if (prefix.empty() || prefix.back() != '_') {
      prefix.push_back('_');
    }
  }
  return prefix;
}

}  // namespace

uint64_t Fnv1a64(std::string_view bytes) {
  Fnv1a h;
  h.Bytes(bytes);
  return h.value();
}

std::string OperationId(std::string_view parent_id, std::string_view name, uint64_t visit) {
  Fnv1a h;
  h.Field(parent_id);
  h.Field(name);
  h.Number(visit);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id = ReadablePrefix(name);
  if (!id.empty()) id.push_back('-');
  uint64_t v = h.value();
  for (int shift = 60; shift >= 0; shift -= 4) id.push_back(kHex[(v >> shift) & 0xf]);
  return id;
}

bool IsValidOperationId(std::string_view id) {
  if (id.empty() || id.size() > kMaxOperationIdLength) return false;
  for (unsigned char c : id) {
    if (!IsIdChar(c)) return false;
  }
  return true;
}

}  // namespace cairn
