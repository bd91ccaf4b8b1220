// HttplibHttpClient: the HttpClient on cpp-httplib, for the Lambda runtime's
// own calls (the Runtime API and the checkpoint API).
//
// Why a second implementation: cpp-httplib is loaded by every cairn-engine
// anyway (the local service), while libcurl brings ~25 shared libraries whose
// loading and relocation cost a Lambda cold start ~15 ms. With the runtime's
// calls on this client, a function whose workflows make no AWS action never
// loads libcurl (CurlHttpClient loads it on its first Send).
//
// What it does, whatever the process environment says:
//  * reuses connections: a pool of keep-alive connections per base URL
//    (scheme://host:port); each Send takes one (or opens one) and gives it
//    back when the exchange succeeded. A reused connection that the peer
//    closed before answering is retried once on a new connection, as libcurl
//    does;
//  * verifies TLS peers and host names (Options::ca_bundle, else OpenSSL's
//    default paths);
//  * never uses a proxy, never follows redirects, speaks only http and https;
//  * sends the request's headers as they are, with three exceptions the
//    compiled cpp-httplib imposes: "Accept: */*" and "User-Agent:
//    cpp-httplib/<version>" when the request has none, and "Content-Type:
//    text/plain" for a body without a Content-Type. SigV4 signs only the
//    headers it lists, so signatures hold; the Runtime API and checkpoint
//    requests set their own Content-Type (and the checkpoint client its
//    User-Agent). Content-Length and Host are added as HTTP/1.1 requires;
//  * captures the status, headers and body of the response. Headers come
//    sorted by name (case-insensitively; same-name headers in the order
//    received), not in the order received: cpp-httplib keeps them so.
//
// Timeouts: connect_timeout bounds the connection (TCP and TLS handshake);
// timeout bounds each wait on the peer and the reading of the body, which is
// abandoned once the whole exchange has taken longer than `timeout`. Zero
// means no limit for either (the Runtime API's long poll).
//
// Transport failures map to the codes of http_client.h ("http.connect",
// "http.timeout", "http.tls", "http.transport"); messages name the host and
// cpp-httplib's description, never a header value.
//
// Thread-safety: Send may be called concurrently from any number of threads;
// each call uses its own connection.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "aws/http_client.h"
#include "aws/shared_config.h"

namespace cairn::aws {

class HttplibHttpClient final : public HttpClient {
 public:
  struct Options {
    // Idle connections kept per base URL; more concurrent calls still work,
    // their connections are closed afterwards.
    size_t max_idle_per_host = 8;
    // A larger response body fails with "http.transport".
    size_t max_response_bytes = 64u << 20;
    // A PEM file of trusted CA certificates; empty = OpenSSL's default paths
    // (which honour SSL_CERT_FILE / SSL_CERT_DIR).
    std::string ca_bundle;
  };

  HttplibHttpClient();
  explicit HttplibHttpClient(Options options);
  ~HttplibHttpClient() override;
  HttplibHttpClient(const HttplibHttpClient&) = delete;
  HttplibHttpClient& operator=(const HttplibHttpClient&) = delete;

  Result<HttpResponse> Send(std::string_view base_url, const HttpRequest& request,
                            const HttpCallOptions& options) override;

  // Connections opened so far: lets tests and benchmarks see that
  // connections are reused.
  int64_t connections_opened() const { return connections_opened_->load(); }

 private:
  struct Connection;  // one cpp-httplib client: at most one open connection
  std::unique_ptr<Connection> Acquire(const std::string& base_url);
  void Release(std::unique_ptr<Connection> connection);

  const Options options_;
  // Shared with the connections' socket callbacks, which count new sockets.
  std::shared_ptr<std::atomic<int64_t>> connections_opened_;

  std::mutex mu_;  // guards idle_
  std::map<std::string, std::vector<std::unique_ptr<Connection>>, std::less<>> idle_;
};

// An HttplibHttpClient trusting the CA bundle the AWS SDKs honour: the file
// named by AWS_CA_BUNDLE, else SSL_CERT_FILE, else OpenSSL's default paths
// (as MakeCurlHttpClient).
std::shared_ptr<HttplibHttpClient> MakeHttplibHttpClient(const EnvironmentLookup& env);

}  // namespace cairn::aws
