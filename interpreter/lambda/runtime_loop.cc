#include "lambda/runtime_loop.h"

namespace cairn::lambda {

Status RunRuntimeLoop(RuntimeApi& api, InvocationHandler& handler,
                      const RuntimeLoopOptions& options) {
  auto log = [&](const std::string& line) {
    if (options.log) options.log(line);
  };
  if (auto init = handler.Init(); !init.ok()) {
    log("init failed: " + init.error().ToString());
    auto posted = api.PostInitError({init.error().code, init.error().ToString()});
    if (!posted.ok()) log("could not report the init error: " + posted.error().ToString());
    return init.error();
  }
  for (int n = 0; options.max_invocations < 0 || n < options.max_invocations; ++n) {
    auto next = api.Next();
    if (!next.ok()) {
      log("runtime API: " + next.error().ToString());
      return next.error();
    }
    HandlerReply reply = handler.Handle(*next);
    Status posted;
    if (reply.ok) {
      posted = api.PostResponse(next->request_id, reply.body);
      if (!posted.ok() && posted.error().code == "runtime.rejected") {
        // The reply was refused (too large, malformed): fail the invocation
        // instead, so that the service sees an error rather than silence.
        log("reply refused: " + posted.error().ToString());
        posted = api.PostError(next->request_id,
                               {"Runtime.ResponseRejected", posted.error().ToString()});
      }
    } else {
      log("invocation " + next->request_id + " failed: " + reply.error.type + ": " +
          reply.error.message);
      posted = api.PostError(next->request_id, reply.error);
    }
    if (!posted.ok()) {
      log("runtime API: " + posted.error().ToString());
      if (posted.error().code != "runtime.rejected") return posted.error();
    }
  }
  return {};
}

}  // namespace cairn::lambda
