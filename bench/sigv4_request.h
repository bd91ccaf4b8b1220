// The request both SigV4 benchmarks sign (aws_bench, sigv4_bench): a
// DynamoDB PutItem with a session token at a fixed time. sigv4_bench_sdk.mjs
// builds the same one for the JS SDK (sigv4_bench compares the signatures).
#pragma once

#include <chrono>
#include <string>

#include "aws/credentials.h"
#include "aws/http_request.h"

namespace cairn::aws::bench {

// The example credentials of the AWS SigV4 test suite; never real ones.
inline const Credentials kCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                                      "session-token");
// 2025-11-24T16:00:00Z, also in sigv4_bench_sdk.mjs.
inline const std::chrono::sys_seconds kTime{std::chrono::seconds(1'764'000'000)};

// A PutItem of about `body_bytes` bytes.
inline HttpRequest PutItemRequest(size_t body_bytes) {
  HttpRequest request;
  request.method = "POST";
  request.path = "/";
  request.headers = {{"Host", "dynamodb.us-east-1.amazonaws.com"},
                     {"Content-Type", "application/x-amz-json-1.0"},
                     {"X-Amz-Target", "DynamoDB_20120810.PutItem"}};
  std::string padding(body_bytes > 60 ? body_bytes - 60 : 0, 'x');
  request.body =
      R"({"TableName":"records","Item":{"pk":{"S":"order-1"},"v":{"S":")" + padding + "\"}}}";
  return request;
}

}  // namespace cairn::aws::bench
