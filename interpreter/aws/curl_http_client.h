// CurlHttpClient: the HttpClient on libcurl, and the only file of cairn that
// calls curl_*.
//
// libcurl is loaded when first needed, not linked: the first Send of the
// process dlopen()s libcurl.so.4 (constructing a client loads nothing), so a
// process that sends no request through libcurl never pays for loading it and
// its ~25 libraries (the Lambda runtime's cold start, see
// httplib_http_client.h). When it cannot be loaded, every Send fails with
// "http.transport", naming libcurl.so.4 and the loader's reason.
//
// What it does, whatever the process environment says:
//  * reuses connections: finished easy handles go back to a pool, and an
//    easy handle keeps its connections (and TLS sessions, DNS entries) open
//    for the next request to the same host;
//  * verifies TLS peers and host names (the system's CA bundle);
//  * never uses a proxy (http_proxy/HTTPS_PROXY/ALL_PROXY are ignored: an
//    AWS request would otherwise be sent, signed, to whoever the environment
//    names), never follows redirects, speaks only http and https;
//  * sends exactly the request's headers (it suppresses the Expect,
//    Content-Type and Accept headers libcurl would add on its own), so what
//    was signed is what goes on the wire;
//  * captures the response status, headers (of the final response) and
//    body.
//
// Transport failures map to the codes of http_client.h:
//   "http.connect"   name resolution failed, connection refused/unreachable
//   "http.timeout"   connect_timeout or timeout elapsed
//   "http.tls"       handshake failed, peer certificate not trusted
//   "http.transport" anything else (reset by peer, empty reply, bad URL, a
//                    response larger than Options::max_response_bytes)
// Messages name the host and libcurl's description, never a header value.
//
// Thread-safety: Send may be called concurrently from any number of threads;
// each call uses its own easy handle.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

#include "aws/http_client.h"
#include "aws/shared_config.h"

namespace cairn::aws {

namespace internal {
// libcurl's functions as resolved from a loaded library.
struct CurlApi;
// Loads `soname` with dlopen, resolves the functions CurlHttpClient uses and
// initialises libcurl; the library is never unloaded. CurlHttpClient calls it
// once per process with "libcurl.so.4"; tests call it to see the error for a
// library that is missing ("http.transport", naming the library and why).
// The result is allocated and owned by the process (never freed, as the
// library is never unloaded): call it for a library that loads only through
// ProcessCurl().
Result<const CurlApi*> LoadCurlLibrary(const char* soname);
// The process's libcurl ("libcurl.so.4"), loaded by the first call and kept,
// success or error, for every later call. Thread-safe.
const Result<const CurlApi*>& ProcessCurl();
}  // namespace internal

class CurlHttpClient final : public HttpClient {
 public:
  struct Options {
    // Idle easy handles kept for reuse; more concurrent calls still work,
    // their handles are closed afterwards.
    size_t max_idle_handles = 16;
    // A larger response body fails with "http.transport" (AWS payloads are
    // at most a few MB; the Lambda Runtime API's at most 6 MB).
    size_t max_response_bytes = 64u << 20;
    // A PEM file of trusted CA certificates; empty = libcurl's built-in path
    // (Debian: /etc/ssl/certs/ca-certificates.crt, which Amazon Linux lacks).
    std::string ca_bundle;
  };

  CurlHttpClient();
  explicit CurlHttpClient(Options options);
  ~CurlHttpClient() override;
  CurlHttpClient(const CurlHttpClient&) = delete;
  CurlHttpClient& operator=(const CurlHttpClient&) = delete;

  Result<HttpResponse> Send(std::string_view base_url, const HttpRequest& request,
                            const HttpCallOptions& options) override;

  // Connections opened so far (libcurl's CURLINFO_NUM_CONNECTS summed over
  // calls): lets tests and benchmarks see that connections are reused.
  int64_t connections_opened() const { return connections_opened_.load(); }

 private:
  struct Handle;  // one CURL easy handle
  std::unique_ptr<Handle> Acquire(const internal::CurlApi& api);
  void Release(std::unique_ptr<Handle> handle);

  const Options options_;
  std::atomic<int64_t> connections_opened_{0};

  std::mutex mu_;  // guards idle_
  std::vector<std::unique_ptr<Handle>> idle_;
};

// A CurlHttpClient trusting the CA bundle the AWS SDKs honour: the file named
// by AWS_CA_BUNDLE, else SSL_CERT_FILE (which the Lambda package's bootstrap
// sets, Amazon Linux keeping its certificates elsewhere than Debian), else
// libcurl's built-in path.
std::shared_ptr<CurlHttpClient> MakeCurlHttpClient(const EnvironmentLookup& env);

}  // namespace cairn::aws
