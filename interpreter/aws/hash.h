// SHA-256 and HMAC-SHA256 (OpenSSL), and lowercase hex encoding, as SigV4
// and the HTTP client need them. Pure functions; thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace cairn::aws {

using Digest = std::array<uint8_t, 32>;

// SHA-256 of `data` (any bytes).
Digest Sha256(std::string_view data);

// HMAC-SHA256 of `data` under `key` (both any bytes).
Digest HmacSha256(std::span<const uint8_t> key, std::string_view data);

// Lowercase hexadecimal, two characters per byte.
std::string HexEncode(std::span<const uint8_t> bytes);

// HexEncode(Sha256(data)): the form SigV4 uses for payload and request hashes.
std::string Sha256Hex(std::string_view data);

}  // namespace cairn::aws
