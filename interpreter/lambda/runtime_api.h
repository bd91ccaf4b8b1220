// RuntimeApi: the Lambda Runtime API (the custom-runtime side of Lambda,
// API version 2018-06-01) behind an interface, so that the runtime loop is
// tested against a scripted fake and runs in Lambda over HTTP.
//
//   GET  /2018-06-01/runtime/invocation/next            → event + headers
//   POST /2018-06-01/runtime/invocation/{id}/response   ← the reply
//   POST /2018-06-01/runtime/invocation/{id}/error      ← an invocation error
//   POST /2018-06-01/runtime/init/error                 ← a start-up failure
//
// Thread-safety: HttpRuntimeApi's methods may be called from any thread, but
// the protocol itself is sequential (one invocation at a time per process).
#pragma once

#include <cstdint>
#include <string>

#include "aws/http_client.h"
#include "core/result.h"

namespace cairn::lambda {

struct NextInvocation {
  std::string request_id;   // Lambda-Runtime-Aws-Request-Id
  int64_t deadline_ms = 0;  // Lambda-Runtime-Deadline-Ms (epoch ms); 0 = none given
  std::string function_arn; // Lambda-Runtime-Invoked-Function-Arn
  std::string trace_id;     // Lambda-Runtime-Trace-Id
  std::string body;         // the event (JSON text)
};

// The error document the Runtime API takes: {errorType, errorMessage,
// stackTrace}. Never put secrets in it: it ends up in logs and histories.
struct RuntimeError {
  std::string type;
  std::string message;
};

class RuntimeApi {
 public:
  virtual ~RuntimeApi() = default;
  // Blocks until the next invocation arrives. An Error means the Runtime API
  // is unusable (the runtime should exit; Lambda restarts it).
  virtual Result<NextInvocation> Next() = 0;
  // The invocation's reply (JSON text). An Error with code "runtime.rejected"
  // means the API refused it (e.g. 413: larger than 6 MB).
  virtual Status PostResponse(const std::string& request_id, const std::string& body) = 0;
  // Fails the invocation (Lambda durable functions re-invoke it).
  virtual Status PostError(const std::string& request_id, const RuntimeError& error) = 0;
  // Reports a failure to start; the runtime exits after it.
  virtual Status PostInitError(const RuntimeError& error) = 0;
};

// The Runtime API over an HttpClient; `host_port` is AWS_LAMBDA_RUNTIME_API
// ("127.0.0.1:9001"). `http` must outlive it.
class HttpRuntimeApi final : public RuntimeApi {
 public:
  HttpRuntimeApi(aws::HttpClient& http, std::string host_port);

  Result<NextInvocation> Next() override;
  Status PostResponse(const std::string& request_id, const std::string& body) override;
  Status PostError(const std::string& request_id, const RuntimeError& error) override;
  Status PostInitError(const RuntimeError& error) override;

 private:
  Status Post(const std::string& path, std::string body, const RuntimeError* error);

  aws::HttpClient& http_;
  std::string base_url_;
  std::string host_;
};

}  // namespace cairn::lambda
