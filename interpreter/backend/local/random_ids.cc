#include "backend/local/random_ids.h"

#include <sys/random.h>
#include <pthread.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace cairn::backend::local {

namespace {

// Fills `out` straight from the kernel.
void KernelRandomBytes(unsigned char* p, size_t n) {
  while (n > 0) {
    ssize_t got = getrandom(p, n, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      std::fprintf(stderr, "cairn: getrandom failed (errno %d); refusing to make guessable ids\n",
                   errno);
      std::abort();
    }
    p += got;
    n -= static_cast<size_t>(got);
  }
}

// Bytes from the kernel, fetched 4 KiB at a time per thread: one system call
// per ~100 ids instead of one per id (a checkpoint makes a token). Each byte
// is handed out once, then wiped. A forked child drops the buffer it
// inherited (pthread_atfork), so parent and child never share bytes.
struct RandomPool {
  unsigned char bytes[4096];
  size_t used = sizeof bytes;
};

thread_local RandomPool pool;

void DropPoolInChild() {
  std::memset(pool.bytes, 0, sizeof pool.bytes);
  pool.used = sizeof pool.bytes;
}

const bool fork_handler_registered = [] {
  return pthread_atfork(nullptr, nullptr, &DropPoolInChild) == 0;
}();

}  // namespace

void RandomBytes(void* out, size_t n) {
  auto* p = static_cast<unsigned char*>(out);
  if (n > sizeof pool.bytes / 4) {
    KernelRandomBytes(p, n);
    return;
  }
  if (!fork_handler_registered) {
    KernelRandomBytes(p, n);
    return;
  }
  if (sizeof pool.bytes - pool.used < n) {
    KernelRandomBytes(pool.bytes, sizeof pool.bytes);
    pool.used = 0;
  }
  std::memcpy(p, pool.bytes + pool.used, n);
  std::memset(pool.bytes + pool.used, 0, n);
  pool.used += n;
}

std::string RandomAlphanumeric(size_t length) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  static constexpr unsigned kLimit = 62 * 4;  // rejection sampling keeps it uniform
  std::string out;
  out.reserve(length);
  unsigned char buf[64];
  while (out.size() < length) {
    // Only as many bytes as are likely needed (1 in 32 is rejected): taking
    // a whole buffer per id used the pool up, and its refills (a system
    // call and 4 KiB of the kernel's generator), twice as fast.
    const size_t want = std::min(sizeof buf, length - out.size() + (length - out.size()) / 4 + 2);
    RandomBytes(buf, want);
    for (size_t i = 0; i < want; ++i) {
      const unsigned char b = buf[i];
      if (b >= kLimit) continue;
      out.push_back(kAlphabet[b % 62]);
      if (out.size() == length) break;
    }
  }
  return out;
}

std::string NewCallbackId() { return RandomAlphanumeric(32); }
std::string NewCheckpointToken() { return RandomAlphanumeric(24); }

namespace {

// The text form of a UUID whose version and variant bits are set.
std::string UuidText(const uint8_t* b) {
  char out[37];
  std::snprintf(out, sizeof out,
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                b[15]);
  return out;
}

}  // namespace

std::string NewUuid() {
  uint8_t b[16];
  RandomBytes(b, sizeof b);
  b[6] = static_cast<uint8_t>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<uint8_t>((b[8] & 0x3f) | 0x80);
  return UuidText(b);
}

std::string NewTimeOrderedUuid(int64_t unix_ms) {
  uint8_t b[16];
  RandomBytes(b + 6, sizeof b - 6);
  const uint64_t ms = static_cast<uint64_t>(std::max<int64_t>(unix_ms, 0)) & 0xffff'ffff'ffffULL;
  for (int i = 0; i < 6; ++i) b[i] = static_cast<uint8_t>(ms >> (8 * (5 - i)));
  b[6] = static_cast<uint8_t>((b[6] & 0x0f) | 0x70);
  b[8] = static_cast<uint8_t>((b[8] & 0x3f) | 0x80);
  return UuidText(b);
}

}  // namespace cairn::backend::local
