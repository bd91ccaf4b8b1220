// The custom runtime loop: start up once, then for every invocation
// get next → handle → post the response, or the error.
//
// The loop is a function over two interfaces (RuntimeApi, InvocationHandler)
// so that it is tested against a scripted Runtime API. It never throws and
// never exits the process itself: RunRuntimeLoop returns when the Runtime API
// fails (Lambda then restarts the runtime) or after `max_invocations`.
#pragma once

#include <functional>
#include <string>

#include "core/result.h"
#include "lambda/runtime_api.h"

namespace cairn::lambda {

// What one invocation produces: the reply to post, or an invocation error.
struct HandlerReply {
  bool ok = true;
  std::string body;    // when ok: the reply (JSON text)
  RuntimeError error;  // when !ok: posted to /error
};

class InvocationHandler {
 public:
  virtual ~InvocationHandler() = default;
  // Called once before the first invocation. An Error is posted to
  // /runtime/init/error (its code as errorType) and the loop ends.
  virtual Status Init() = 0;
  // Handles one invocation. Never throws.
  virtual HandlerReply Handle(const NextInvocation& invocation) = 0;
};

struct RuntimeLoopOptions {
  // Stop after this many invocations (tests, benchmarks); < 0 = never.
  int max_invocations = -1;
  // One line per event worth a log line (CloudWatch in Lambda); may be empty.
  std::function<void(const std::string&)> log;
};

// Runs the loop. Returns OK after max_invocations, else the error that ended
// it (an init failure, or the Runtime API failing).
Status RunRuntimeLoop(RuntimeApi& api, InvocationHandler& handler,
                      const RuntimeLoopOptions& options = {});

}  // namespace cairn::lambda
