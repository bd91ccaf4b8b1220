// http.request: one HTTP request through an aws::HttpClient, optionally
// SigV4-signed.
//
// Parameters (schema/workflow.schema.json › http.request):
//   url           absolute http:// or https:// URL (characters that cannot
//                 appear in a URL, such as spaces, are percent-encoded)
//   method        GET (default; POST when `body` is set), HEAD, POST, PUT,
//                 PATCH, DELETE
//   headers       {name: value}
//   query         {name: value}: appended to the URL's query, percent-encoded
//                 (strings as they are, other values as compact JSON, a
//                 list as the name repeated per item)
//   body          a string is sent as it is; anything else as JSON, with
//                 Content-Type: application/json unless headers set one
//   expectStatus  statuses that count as success (default 200-299)
//   timeout       the whole request (default 30s; the step's `timeout:`
//                 bounds it too)
//   sigv4         {service, region}: sign with the execution's AWS
//                 credentials (region default: the configured region)
// Result: {status, headers, body}: header names lowercased (repeated
// headers joined with ", "), body parsed when the response's Content-Type
// is JSON, else text (invalid UTF-8 replaced by U+FFFD), null when empty.
// Workflow errors: HTTP.<status> (e.g. HTTP.404, HTTP.503) when the status
// is not expected, data: the result; Cairn.Timeout when the time limit
// passed; Cairn.Transient for connection and transport failures;
// Cairn.Configuration when `sigv4` is asked but no signer is configured,
// or signing fails; Cairn.InvalidParameters.
//
// Thread-safe when the client and signer are.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "actions/action.h"
#include "aws/http_client.h"
#include "core/result.h"

namespace cairn::actions {

// Signs `request` (which has a Host header) for `service` in `region` (empty:
// the configured region) with the current credentials and time, returning
// the request to send. Must be thread-safe. Errors name what is missing
// (credentials, region); they never contain secrets.
using RequestSigner = std::function<Result<aws::HttpRequest>(
    const aws::HttpRequest& request, const std::string& service, const std::string& region)>;

class HttpRequestAction final : public Action {
 public:
  // `signer` may be empty.
  HttpRequestAction(std::shared_ptr<aws::HttpClient> client, RequestSigner signer)
      : client_(std::move(client)), signer_(std::move(signer)) {}

  ActionOutcome Run(const ActionRequest& request) override;

 private:
  const std::shared_ptr<aws::HttpClient> client_;
  const RequestSigner signer_;
};

}  // namespace cairn::actions
