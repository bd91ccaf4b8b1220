// Unguessable identifiers made by the local durable service, from the
// kernel's CSPRNG (getrandom(2), fetched in blocks per thread).
//
// Callback ids and checkpoint tokens use the alphabet [A-Za-z0-9]: a subset
// both of URL-safe base64 (so an id needs no escaping in a URL path) and of
// the service model's pattern `[A-Za-z0-9+/]+={0,2}` (so AWS SDKs accept it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace cairn::backend::local {

// Fills `out` with `n` random bytes. Aborts if the kernel has no entropy
// source (getrandom fails with anything but EINTR): ids must never be
// guessable, and there is no safe fallback.
void RandomBytes(void* out, size_t n);

// `length` characters of [A-Za-z0-9], each uniform (≈5.95 bits per char).
std::string RandomAlphanumeric(size_t length);

// A callback id: 32 characters, ≈190 random bits.
std::string NewCallbackId();
// A checkpoint token: 24 characters, ≈142 random bits.
std::string NewCheckpointToken();
// A random (version 4) UUID in lower-case text form.
std::string NewUuid();
// A time-ordered (version 7, RFC 9562) UUID in lower-case text form: the
// 48-bit Unix time in milliseconds `unix_ms` first, then 74 random bits.
// Ids made later sort after earlier ones (within one millisecond, in any
// order). The default names of executions: the store's indexes of names
// and ARNs then grow at one end, so that a commit of many new executions
// rewrites a page or two of each instead of one page per execution.
std::string NewTimeOrderedUuid(int64_t unix_ms);

}  // namespace cairn::backend::local
