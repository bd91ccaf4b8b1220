#include "aws/curl_http_client.h"

#include <curl/curl.h>

#include <mutex>
#include <optional>
#include <string>
#include <utility>

namespace cairn::aws {
namespace {

void GlobalInitOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// "host[:port]" of "scheme://[userinfo@]host[:port][/...]": what error
// messages may name (userinfo could hold a password, so it is dropped).
std::string HostOf(std::string_view url) {
  if (size_t scheme = url.find("://"); scheme != std::string_view::npos) {
    url.remove_prefix(scheme + 3);
  }
  url = url.substr(0, url.find_first_of("/?#"));
  if (size_t at = url.rfind('@'); at != std::string_view::npos) url.remove_prefix(at + 1);
  return std::string(url);
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

bool HasLineBreak(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

struct Transfer {
  HttpResponse response;
  size_t max_body = 0;
  bool body_too_large = false;
};

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  std::string_view line(data, size * count);
  // A new status line starts a new response (after "100 Continue"): only the
  // final response's headers are kept.
  if (line.starts_with("HTTP/")) {
    transfer->response.headers.clear();
    return size * count;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return size * count;  // the blank line
  transfer->response.headers.push_back(HttpHeader{std::string(Trim(line.substr(0, colon))),
                                                  std::string(Trim(line.substr(colon + 1)))});
  return size * count;
}

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  size_t n = size * count;
  if (transfer->response.body.size() + n > transfer->max_body) {
    transfer->body_too_large = true;
    return 0;  // makes libcurl fail with CURLE_WRITE_ERROR
  }
  transfer->response.body.append(data, n);
  return n;
}

std::string ErrorCodeFor(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
      return "http.connect";
    case CURLE_OPERATION_TIMEDOUT:
      return "http.timeout";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_USE_SSL_FAILED:
      return "http.tls";
    default:
      return "http.transport";
  }
}

}  // namespace

struct CurlHttpClient::Handle {
  Handle() : easy(curl_easy_init()) {}
  ~Handle() {
    if (easy != nullptr) curl_easy_cleanup(easy);
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  CURL* easy;
};

CurlHttpClient::CurlHttpClient() : CurlHttpClient(Options{}) {}

CurlHttpClient::CurlHttpClient(Options options) : options_(options) { GlobalInitOnce(); }

CurlHttpClient::~CurlHttpClient() = default;

std::unique_ptr<CurlHttpClient::Handle> CurlHttpClient::Acquire() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      std::unique_ptr<Handle> handle = std::move(idle_.back());
      idle_.pop_back();
      return handle;
    }
  }
  return std::make_unique<Handle>();
}

void CurlHttpClient::Release(std::unique_ptr<Handle> handle) {
  std::lock_guard<std::mutex> lock(mu_);
  if (idle_.size() < options_.max_idle_handles) idle_.push_back(std::move(handle));
}

Result<HttpResponse> CurlHttpClient::Send(std::string_view base_url, const HttpRequest& request,
                                          const HttpCallOptions& options) {
  const std::string host = HostOf(base_url);
  for (const HttpHeader& header : request.headers) {
    if (header.name.empty() || HasLineBreak(header.name) || HasLineBreak(header.value) ||
        header.name.find(':') != std::string::npos) {
      return MakeError("http.transport",
                       "invalid header name or value (header '" +
                           (HasLineBreak(header.name) ? std::string("?") : header.name) +
                           "') in a request to " + host);
    }
  }

  std::unique_ptr<Handle> handle = Acquire();
  if (handle->easy == nullptr) {
    return MakeError("http.transport", "cannot create a libcurl handle for " + host);
  }
  CURL* easy = handle->easy;
  // Clears every option but keeps the handle's open connections, TLS
  // session cache and DNS cache: that is the connection reuse.
  curl_easy_reset(easy);

  std::string url(base_url);
  url += request.path.empty() ? "/" : request.path;
  if (!request.query.empty()) url += "?" + request.query;

  Transfer transfer;
  transfer.max_body = options_.max_response_bytes;
  char error_text[CURL_ERROR_SIZE] = {0};

  curl_slist* headers = nullptr;
  bool has_expect = false, has_content_type = false, has_accept = false;
  for (const HttpHeader& header : request.headers) {
    has_expect |= HeaderNameEquals(header.name, "Expect");
    has_content_type |= HeaderNameEquals(header.name, "Content-Type");
    has_accept |= HeaderNameEquals(header.name, "Accept");
    // "Name;" is libcurl's way to send a header with an empty value.
    std::string line = header.value.empty() ? header.name + ";" : header.name + ": " + header.value;
    headers = curl_slist_append(headers, line.c_str());
  }
  // "Name:" removes a header libcurl would otherwise add by itself.
  if (!has_expect) headers = curl_slist_append(headers, "Expect:");
  if (!has_content_type) headers = curl_slist_append(headers, "Content-Type:");
  if (!has_accept) headers = curl_slist_append(headers, "Accept:");

  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(easy, CURLOPT_PROXY, "");
  curl_easy_setopt(easy, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!options_.ca_bundle.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, options_.ca_bundle.c_str());
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options.connect_timeout.count()));
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeout.count()));
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &OnHeader);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, error_text);

  if (request.method == "HEAD") {
    curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
  } else if ((request.method == "GET" || request.method.empty()) && request.body.empty()) {
    curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    if (!request.body.empty() || request.method == "POST" || request.method == "PUT" ||
        request.method == "PATCH") {
      curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(request.body.size()));
      curl_easy_setopt(easy, CURLOPT_POSTFIELDS, request.body.data());
    }
  }

  CURLcode code = curl_easy_perform(easy);
  curl_slist_free_all(headers);

  long connects = 0;
  curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &connects);
  connections_opened_ += connects;

  if (code != CURLE_OK) {
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, nullptr);
    Release(std::move(handle));
    if (transfer.body_too_large) {
      return MakeError("http.transport", "the response from " + host + " is larger than " +
                                             std::to_string(options_.max_response_bytes) +
                                             " bytes");
    }
    std::string detail = error_text[0] != '\0' ? error_text : curl_easy_strerror(code);
    std::string error_code = ErrorCodeFor(code);
    std::string what = error_code == "http.connect"   ? "cannot connect to "
                       : error_code == "http.timeout" ? "timed out talking to "
                       : error_code == "http.tls"     ? "TLS failure with "
                                                      : "transport failure with ";
    return MakeError(std::move(error_code), what + host + ": " + detail);
  }

  long status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, nullptr);
  Release(std::move(handle));
  transfer.response.status = static_cast<int>(status);
  return std::move(transfer.response);
}

std::shared_ptr<CurlHttpClient> MakeCurlHttpClient(const EnvironmentLookup& env) {
  CurlHttpClient::Options options;
  for (std::string_view name : {"AWS_CA_BUNDLE", "SSL_CERT_FILE"}) {
    if (std::optional<std::string> path = env ? env(name) : std::nullopt; path && !path->empty()) {
      options.ca_bundle = *path;
      break;
    }
  }
  return std::make_shared<CurlHttpClient>(std::move(options));
}

}  // namespace cairn::aws
