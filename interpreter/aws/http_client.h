// HttpClient: sends one HttpRequest and returns the response. The interface
// that every HTTP call in cairn goes through (AWS service calls, the Lambda
// Runtime API, the checkpoint API), so tests substitute scripted fakes and
// fault injectors (timeouts, 500, 429) behind the same interface production
// uses. CurlHttpClient (curl_http_client.h) is the one implementation on
// libcurl.
//
// Thread-safety: implementations must allow concurrent Send calls.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "aws/http_request.h"
#include "core/result.h"

namespace cairn::aws {

struct HttpResponse {
  int status = 0;                   // e.g. 200, 400, 503
  std::vector<HttpHeader> headers;  // in order received, names as sent
  std::string body;

  // The value of the first header named `name` (case-insensitive), or nullptr.
  const std::string* FindHeader(std::string_view name) const;
};

struct HttpCallOptions {
  std::chrono::milliseconds connect_timeout{3000};
  // The whole exchange, connect included. Zero means no limit (the Lambda
  // Runtime API's long poll for the next invocation).
  std::chrono::milliseconds timeout{30000};
};

// "host[:port]" of "scheme://[userinfo@]host[:port][/...]": what error
// messages may name (userinfo could hold a password, so it is dropped).
std::string HostOf(std::string_view url);

// What every implementation checks before sending: header names non-empty
// and without ':', no line break in a name or value (it would smuggle a
// header or a request); an "http.transport" error naming `host` (and the
// header's name, never its value) otherwise.
Status CheckRequestHeaders(const HttpRequest& request, const std::string& host);

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  // Sends `request` to `base_url` ("scheme://host[:port]", no path), with
  // request.path/query appended as they are (already encoded). Any HTTP
  // status is a response; only transport failures are Errors, with code
  // "http.connect", "http.timeout", "http.tls" or "http.transport" and a
  // message that names the host (never a header value: headers carry
  // secrets).
  virtual Result<HttpResponse> Send(std::string_view base_url, const HttpRequest& request,
                                    const HttpCallOptions& options) = 0;
};

}  // namespace cairn::aws
