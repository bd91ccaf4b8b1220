#include "aws/httplib_http_client.h"

#include <httplib.h>
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <utility>

#include "core/clock.h"
#include "core/sigpipe_block.h"

namespace cairn::aws {
namespace {

using std::chrono::milliseconds;

// What "no limit" becomes: cpp-httplib has no such value (0 means "do not
// wait") and turns seconds into an int of milliseconds for poll(), so the
// largest wait that fits, ~23 days.
constexpr milliseconds kNoLimit{2'000'000'000};

int64_t NowNanos() { return SystemClock::Instance().MonotonicNanos(); }

// The outcome of one exchange on one connection.
struct Exchange {
  httplib::Response response;
  httplib::Error error = httplib::Error::Success;  // set by a failure only
  std::string body;
  bool body_too_large = false;
  bool past_deadline = false;
};

}  // namespace

struct HttplibHttpClient::Connection {
  Connection(const std::string& url, const Options& options,
             std::shared_ptr<std::atomic<int64_t>> opened)
      : base_url(url), client(url) {
    client.set_keep_alive(true);
    client.set_follow_location(false);
    client.set_url_encode(false);  // the path and query are already encoded (and signed)
    client.set_decompress(false);  // else it asks for gzip/br: not what was signed
    client.set_compress(false);
    // Else Nagle's algorithm and the peer's delayed ACK hold the body, written
    // after the headers, for ~40 ms.
    client.set_tcp_nodelay(true);
    client.set_socket_options([opened = std::move(opened)](socket_t) { ++*opened; });
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
    client.enable_server_certificate_verification(true);
    if (!options.ca_bundle.empty()) client.set_ca_cert_path(options.ca_bundle);
#endif
  }

  std::string base_url;
  httplib::Client client;
};

HttplibHttpClient::HttplibHttpClient() : HttplibHttpClient(Options{}) {}

HttplibHttpClient::HttplibHttpClient(Options options)
    : options_(std::move(options)),
      connections_opened_(std::make_shared<std::atomic<int64_t>>(0)) {}

HttplibHttpClient::~HttplibHttpClient() {
  SigpipeBlock no_sigpipe;  // closing a TLS connection writes its close_notify
  idle_.clear();
}

std::unique_ptr<HttplibHttpClient::Connection> HttplibHttpClient::Acquire(
    const std::string& base_url) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = idle_.find(base_url); it != idle_.end() && !it->second.empty()) {
      std::unique_ptr<Connection> connection = std::move(it->second.back());
      it->second.pop_back();
      return connection;
    }
  }
  return std::make_unique<Connection>(base_url, options_, connections_opened_);
}

void HttplibHttpClient::Release(std::unique_ptr<Connection> connection) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::unique_ptr<Connection>>& idle = idle_[connection->base_url];
  if (idle.size() < options_.max_idle_per_host) idle.push_back(std::move(connection));
}

Result<HttpResponse> HttplibHttpClient::Send(std::string_view base_url, const HttpRequest& request,
                                             const HttpCallOptions& options) {
  const std::string host = HostOf(base_url);
  if (Status s = CheckRequestHeaders(request, host); !s.ok()) return s.error();
  if (!base_url.starts_with("http://") && !base_url.starts_with("https://")) {
    return MakeError("http.transport", "unsupported URL scheme for " + host + " (http or https)");
  }

  const milliseconds timeout = options.timeout.count() > 0 ? options.timeout : kNoLimit;
  milliseconds connect_timeout =
      options.connect_timeout.count() > 0 ? options.connect_timeout : kNoLimit;
  connect_timeout = std::min(connect_timeout, timeout);
  const int64_t start = NowNanos();
  const int64_t deadline =
      options.timeout.count() > 0
          ? start + std::chrono::duration_cast<std::chrono::nanoseconds>(timeout).count()
          : INT64_MAX;

  SigpipeBlock no_sigpipe;
  const std::string url(base_url);
  // Two tries at most: the second only when a kept-alive connection turned
  // out to be closed by the peer before it answered anything.
  for (int attempt = 1;; ++attempt) {
    std::unique_ptr<Connection> connection =
        attempt == 1 ? Acquire(url) : std::make_unique<Connection>(url, options_, connections_opened_);
    if (!connection->client.is_valid()) {
      return MakeError("http.transport", "cannot make a client for " + host + " (bad URL)");
    }
    const bool reused = connection->client.is_socket_open() > 0;
    httplib::Client& client = connection->client;
    client.set_connection_timeout(connect_timeout);
    client.set_read_timeout(timeout);
    client.set_write_timeout(timeout);

    Exchange exchange;
    httplib::Request req;
    req.method = request.method.empty() ? "GET" : request.method;
    req.path = request.path.empty() ? "/" : request.path;
    if (!request.query.empty()) req.path += "?" + request.query;
    for (const HttpHeader& header : request.headers) req.headers.emplace(header.name, header.value);
    req.body = request.body;
    req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
      if (exchange.body.size() + n > options_.max_response_bytes) {
        exchange.body_too_large = true;
        return false;
      }
      exchange.body.append(data, n);
      return true;
    };
    req.progress = [&](uint64_t, uint64_t) {
      if (NowNanos() <= deadline) return true;
      exchange.past_deadline = true;
      return false;
    };
    const bool sent = client.send(req, exchange.response, exchange.error);

    if (sent) {
      HttpResponse response;
      response.status = exchange.response.status;
      response.headers.reserve(exchange.response.headers.size());
      for (const auto& [name, value] : exchange.response.headers) {
        response.headers.push_back(HttpHeader{name, value});
      }
      response.body = std::move(exchange.body);
      Release(std::move(connection));
      return response;
    }

    // A failed exchange leaves its connection in an unknown state: it is
    // closed (dropped with `connection`), not returned to the pool.
    const int64_t elapsed = NowNanos() - start;
    const bool timed_out =
        exchange.past_deadline || NowNanos() >= deadline ||
        exchange.error == httplib::Error::ConnectionTimeout ||
        ((exchange.error == httplib::Error::Read || exchange.error == httplib::Error::Write) &&
         elapsed >= std::chrono::duration_cast<std::chrono::nanoseconds>(timeout).count());
    if (exchange.body_too_large) {
      return MakeError("http.transport", "the response from " + host + " is larger than " +
                                             std::to_string(options_.max_response_bytes) +
                                             " bytes");
    }
    if (timed_out) {
      return MakeError("http.timeout",
                       "timed out talking to " + host + ": " + httplib::to_string(exchange.error));
    }
    if (attempt == 1 && reused && exchange.response.status == -1 &&
        (exchange.error == httplib::Error::Read || exchange.error == httplib::Error::Write)) {
      continue;
    }
    switch (exchange.error) {
      case httplib::Error::Connection:
        return MakeError("http.connect", "cannot connect to " + host + ": " +
                                             httplib::to_string(exchange.error));
      case httplib::Error::SSLConnection:
      case httplib::Error::SSLLoadingCerts:
      case httplib::Error::SSLServerVerification:
        return MakeError("http.tls",
                         "TLS failure with " + host + ": " + httplib::to_string(exchange.error));
      default:
        return MakeError("http.transport", "transport failure with " + host + ": " +
                                               httplib::to_string(exchange.error));
    }
  }
}

std::shared_ptr<HttplibHttpClient> MakeHttplibHttpClient(const EnvironmentLookup& env) {
  HttplibHttpClient::Options options;
  for (std::string_view name : {"AWS_CA_BUNDLE", "SSL_CERT_FILE"}) {
    if (std::optional<std::string> path = env ? env(name) : std::nullopt; path && !path->empty()) {
      options.ca_bundle = *path;
      break;
    }
  }
  return std::make_shared<HttplibHttpClient>(std::move(options));
}

}  // namespace cairn::aws
