// SigpipeBlock: blocks SIGPIPE in the calling thread for its lifetime and
// discards one raised meanwhile, so a write to a peer that has gone (a child
// that closed its stdin, a TLS connection OpenSSL writes with write(2))
// fails with EPIPE instead of killing the process. Only this thread is
// affected: a process-wide SIG_IGN would be inherited by the programs that
// process.run starts.
//
// Thread-safety: per thread by construction (it changes this thread's mask).
#pragma once

#include <signal.h>

namespace cairn {

class SigpipeBlock {
 public:
  SigpipeBlock();
  ~SigpipeBlock();
  SigpipeBlock(const SigpipeBlock&) = delete;
  SigpipeBlock& operator=(const SigpipeBlock&) = delete;

 private:
  sigset_t pipe_;
  sigset_t old_;
  bool was_pending_ = false;
};

}  // namespace cairn
