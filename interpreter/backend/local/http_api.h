// HttpApi: the local durable service over HTTP, with the AWS Lambda REST
// paths (API version 2025-12-01), so AWS SDKs and the AWS CLI pointed at it
// with --endpoint-url work unchanged. Bound to 127.0.0.1 by default.
//
//   POST /2025-12-01/durable-execution-callbacks/{CallbackId}/succeed    raw body = result
//   POST /2025-12-01/durable-execution-callbacks/{CallbackId}/fail       body = ErrorObject
//   POST /2025-12-01/durable-execution-callbacks/{CallbackId}/heartbeat
//   GET  /2025-12-01/durable-executions/{arn}                             GetDurableExecution
//   GET  /2025-12-01/durable-executions/{arn}/history
//   ?IncludeExecutionData&Marker&MaxItems&ReverseOrder POST
//   /2025-12-01/durable-executions/{arn}/stop                        body = ErrorObject (optional)
//   POST /2025-12-01/durable-executions/{arn}/checkpoint CheckpointDurableExecution GET
//   /2025-12-01/durable-executions/{arn}/state ?CheckpointToken&Marker&MaxItems GET
//   /2025-12-01/functions/{name}/durable-executions
//   ?Statuses&StartedAfter&StartedBefore&DurableExecutionName&Marker&MaxItems&ReverseOrder POST
//   /cairn/v1/workflows/{name}/executions                            cairn's start:
//   {"DurableExecutionName"?, "Input"?, "ExecutionTimeout"?}
//
// cairn's `wait=SECONDS` query parameter (0..300, decimals allowed) on the
// start and on GetDurableExecution holds the reply until the execution has
// ended or the time has passed (the start's reply then also carries Status,
// EndTimestamp and Result or Error). The request keeps its thread while it
// waits.
//
// Path parameters are URL-decoded ({arn} may also arrive with its slashes
// unencoded). Errors have AWS's restJson1 shape: status code, header
// X-Amzn-ErrorType: <Exception> and body {"Type": "User"|"Service",
// "message": "..."}; see README.md for the mapping. Request and callback
// payloads are never logged.
//
// Thread-safety: Start/Stop from one thread; requests are served
// concurrently on `threads` threads.
#pragma once

#include <memory>
#include <string>

#include "backend/local/local_durable_service.h"
#include "core/result.h"

namespace cairn::backend::local {

struct HttpApiOptions {
  std::string host = "127.0.0.1";
  // 0 = pick a free port (see HttpApi::port()).
  int port = 0;
  // A keep-alive connection holds its thread while it is open, so this
  // bounds the clients served at once; idle threads cost only their stacks.
  int threads = 32;
  // Requests served on one keep-alive connection before the server closes
  // it (cpp-httplib's default is 5: a busy client then reconnects every
  // fifth request). The client is told with `Connection: close`.
  size_t keep_alive_max_requests = 1000;
  // Larger bodies are refused with 413 before they are read in full.
  size_t max_body_bytes = 8 * 1024 * 1024;
};

class HttpApi {
 public:
  // `service` must outlive the HttpApi.
  explicit HttpApi(LocalDurableService& service, HttpApiOptions options = {});
  ~HttpApi();  // Stop()
  HttpApi(const HttpApi&) = delete;
  HttpApi& operator=(const HttpApi&) = delete;

  // Binds and starts serving on a background thread; returns the port.
  // Errors: "http" when the address cannot be bound.
  Result<int> Start();
  // Stops serving and joins the thread. Idempotent.
  void Stop();
  int port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cairn::backend::local
