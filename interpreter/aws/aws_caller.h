// AwsCaller: one call to an AWS service API, as the actions see it: the
// operation and its JSON body in, the JSON reply or a named error out.
// Signing, credentials, endpoints, retries (the SDKs' standard mode) and
// error parsing happen behind it (ServiceClient in aws/); actions and their
// tests only depend on this interface.
#pragma once

#include <nlohmann/json.hpp>
#include <chrono>
#include <optional>
#include <string>

namespace cairn::aws {

enum class AwsProtocol {
  kJson10,    // DynamoDB: POST /, X-Amz-Target, application/x-amz-json-1.0
  kJson11,    // ECS: POST /, X-Amz-Target, application/x-amz-json-1.1
  kRestJson,  // Lambda: method + path, JSON body
};

struct AwsCall {
  // The SigV4 signing name and endpoint prefix, e.g. "dynamodb", "ecs",
  // "lambda". Also selects AWS_ENDPOINT_URL_<SERVICE>.
  std::string service;
  AwsProtocol protocol = AwsProtocol::kJson10;
  // JSON protocols: the X-Amz-Target value, e.g. "DynamoDB_20120810.PutItem",
  // "AmazonEC2ContainerServiceV20141113.RunTask".
  std::string target;
  // REST-JSON: e.g. "POST" and "/2015-03-31/functions/NAME/invocations"
  // (path already percent-encoded), optional query without '?'.
  std::string method;
  std::string path;
  std::string query;
  // Extra headers for REST-JSON calls (e.g. X-Amz-Invocation-Type).
  std::vector<std::pair<std::string, std::string>> headers;
  // The request body; null sends no body. For REST-JSON calls whose payload
  // is not JSON (lambda Invoke), raw_body is sent instead when set.
  nlohmann::json body;
  std::string raw_body;
  bool use_raw_body = false;
  // The step's `timeout:`: a bound on the whole call, retries and their
  // backoff included. When it runs out the reply is "Cairn.Timeout". Unset:
  // only the client's per-attempt timeouts apply.
  std::optional<std::chrono::milliseconds> timeout;
};

struct AwsReply {
  bool ok = false;
  int http_status = 0;
  nlohmann::json body;   // the parsed JSON reply when ok (null for an empty body)
  std::string raw_body;  // the reply bytes (REST-JSON payloads such as lambda Invoke)
  std::vector<std::pair<std::string, std::string>> headers;  // reply headers (e.g. X-Amz-Function-Error)
  // When !ok: the workflow error name, "<Service>.<ErrorCode>" for an error
  // the service returned (e.g. "DynamoDB.ConditionalCheckFailedException",
  // "ECS.ClusterNotFoundException"), "Cairn.Transient" when retries were
  // exhausted on throttling, 5xx or transport errors, "Cairn.Credentials"
  // when no credentials could be found, "Cairn.Configuration" for a missing
  // region or a bad endpoint, "Cairn.InvalidResponse" for a 2xx reply of a
  // JSON protocol whose body is not JSON. error_message never holds a
  // secret; for authentication errors it says what to check.
  std::string error_name;
  std::string error_message;
};

class AwsCaller {
 public:
  virtual ~AwsCaller() = default;
  // Never throws. Thread-safe.
  virtual AwsReply Call(const AwsCall& call) = 0;
};

}  // namespace cairn::aws
