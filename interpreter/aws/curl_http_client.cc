#include "aws/curl_http_client.h"

#include <curl/curl.h>
#include <dlfcn.h>

#include <mutex>
#include <optional>
#include <string>
#include <utility>

namespace cairn::aws {
namespace {

template <typename F>
bool Resolve(void* library, const char* name, F& out, std::string& error) {
  dlerror();
  out = reinterpret_cast<F>(dlsym(library, name));
  if (out != nullptr) return true;
  const char* why = dlerror();
  error = std::string(name) + ": " + (why != nullptr ? why : "not found");
  return false;
}

}  // namespace

namespace internal {

// libcurl's entry points, resolved from the library loaded at run time.
// cairn does not link libcurl: with its ~25 dependencies (TLS, IDN, HTTP/2,
// SSH, LDAP, Kerberos) loading it costs a process ~15 ms of relocations and
// page faults at start, which every run of cairn paid even when it sent no
// request through it (the Lambda runtime's cold start, `cairn run` of a
// workflow without AWS actions). <curl/curl.h> still gives the types and
// constants; decltype keeps each pointer's type the header's.
struct CurlApi {
  decltype(&::curl_global_init) global_init = nullptr;
  decltype(&::curl_easy_init) easy_init = nullptr;
  decltype(&::curl_easy_cleanup) easy_cleanup = nullptr;
  decltype(&::curl_easy_reset) easy_reset = nullptr;
  decltype(&::curl_easy_setopt) easy_setopt = nullptr;
  decltype(&::curl_easy_perform) easy_perform = nullptr;
  decltype(&::curl_easy_getinfo) easy_getinfo = nullptr;
  decltype(&::curl_easy_strerror) easy_strerror = nullptr;
  decltype(&::curl_slist_append) slist_append = nullptr;
  decltype(&::curl_slist_free_all) slist_free_all = nullptr;
};

Result<const CurlApi*> LoadCurlLibrary(const char* soname) {
  void* library = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) {
    const char* why = dlerror();
    return MakeError("http.transport", std::string("cannot load ") + soname +
                                           " (libcurl, which AWS calls go through): " +
                                           (why != nullptr ? why : "unknown error"));
  }
  auto api = std::make_unique<CurlApi>();
  std::string error;
  if (!Resolve(library, "curl_global_init", api->global_init, error) ||
      !Resolve(library, "curl_easy_init", api->easy_init, error) ||
      !Resolve(library, "curl_easy_cleanup", api->easy_cleanup, error) ||
      !Resolve(library, "curl_easy_reset", api->easy_reset, error) ||
      !Resolve(library, "curl_easy_setopt", api->easy_setopt, error) ||
      !Resolve(library, "curl_easy_perform", api->easy_perform, error) ||
      !Resolve(library, "curl_easy_getinfo", api->easy_getinfo, error) ||
      !Resolve(library, "curl_easy_strerror", api->easy_strerror, error) ||
      !Resolve(library, "curl_slist_append", api->slist_append, error) ||
      !Resolve(library, "curl_slist_free_all", api->slist_free_all, error)) {
    dlclose(library);
    return MakeError("http.transport", std::string("cannot use ") + soname + " (libcurl): " + error);
  }
  // Before any handle, as libcurl requires (it counts calls, so a second
  // load is harmless). The library stays loaded for the life of the process.
  if (CURLcode code = api->global_init(CURL_GLOBAL_DEFAULT); code != CURLE_OK) {
    return MakeError("http.transport", std::string("cannot initialise ") + soname + ": " +
                                           api->easy_strerror(code));
  }
  return api.release();
}

const Result<const CurlApi*>& ProcessCurl() {
  static std::once_flag once;
  static Result<const CurlApi*>* loaded = nullptr;
  std::call_once(once, [] { loaded = new Result<const CurlApi*>(LoadCurlLibrary("libcurl.so.4")); });
  return *loaded;
}

}  // namespace internal

namespace {

using internal::CurlApi;
using internal::ProcessCurl;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

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
  explicit Handle(const CurlApi& api) : curl(api), easy(api.easy_init()) {}
  ~Handle() {
    if (easy != nullptr) curl.easy_cleanup(easy);
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  const CurlApi& curl;
  CURL* easy;
};

CurlHttpClient::CurlHttpClient() : CurlHttpClient(Options{}) {}

CurlHttpClient::CurlHttpClient(Options options) : options_(std::move(options)) {}

CurlHttpClient::~CurlHttpClient() = default;

std::unique_ptr<CurlHttpClient::Handle> CurlHttpClient::Acquire(const CurlApi& api) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      std::unique_ptr<Handle> handle = std::move(idle_.back());
      idle_.pop_back();
      return handle;
    }
  }
  return std::make_unique<Handle>(api);
}

void CurlHttpClient::Release(std::unique_ptr<Handle> handle) {
  std::lock_guard<std::mutex> lock(mu_);
  if (idle_.size() < options_.max_idle_handles) idle_.push_back(std::move(handle));
}

Result<HttpResponse> CurlHttpClient::Send(std::string_view base_url, const HttpRequest& request,
                                          const HttpCallOptions& options) {
  const std::string host = HostOf(base_url);
  if (Status s = CheckRequestHeaders(request, host); !s.ok()) return s.error();

  const Result<const CurlApi*>& loaded = ProcessCurl();
  if (!loaded.ok()) {
    return MakeError(loaded.error().code, loaded.error().message + " (request to " + host + ")");
  }
  const CurlApi& curl = **loaded;
  std::unique_ptr<Handle> handle = Acquire(curl);
  if (handle->easy == nullptr) {
    return MakeError("http.transport", "cannot create a libcurl handle for " + host);
  }
  CURL* easy = handle->easy;
  // Clears every option but keeps the handle's open connections, TLS
  // session cache and DNS cache: that is the connection reuse.
  curl.easy_reset(easy);

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
    headers = curl.slist_append(headers, line.c_str());
  }
  // "Name:" removes a header libcurl would otherwise add by itself.
  if (!has_expect) headers = curl.slist_append(headers, "Expect:");
  if (!has_content_type) headers = curl.slist_append(headers, "Content-Type:");
  if (!has_accept) headers = curl.slist_append(headers, "Accept:");

  curl.easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl.easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl.easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl.easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
  curl.easy_setopt(easy, CURLOPT_PROXY, "");
  curl.easy_setopt(easy, CURLOPT_NOPROXY, "*");
  curl.easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
  curl.easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!options_.ca_bundle.empty()) curl.easy_setopt(easy, CURLOPT_CAINFO, options_.ca_bundle.c_str());
  curl.easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  curl.easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options.connect_timeout.count()));
  curl.easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeout.count()));
  curl.easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
  curl.easy_setopt(easy, CURLOPT_HEADERFUNCTION, &OnHeader);
  curl.easy_setopt(easy, CURLOPT_HEADERDATA, &transfer);
  curl.easy_setopt(easy, CURLOPT_WRITEFUNCTION, &OnBody);
  curl.easy_setopt(easy, CURLOPT_WRITEDATA, &transfer);
  curl.easy_setopt(easy, CURLOPT_ERRORBUFFER, error_text);

  if (request.method == "HEAD") {
    curl.easy_setopt(easy, CURLOPT_NOBODY, 1L);
  } else if ((request.method == "GET" || request.method.empty()) && request.body.empty()) {
    curl.easy_setopt(easy, CURLOPT_HTTPGET, 1L);
  } else {
    curl.easy_setopt(easy, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    if (!request.body.empty() || request.method == "POST" || request.method == "PUT" ||
        request.method == "PATCH") {
      curl.easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(request.body.size()));
      curl.easy_setopt(easy, CURLOPT_POSTFIELDS, request.body.data());
    }
  }

  CURLcode code = curl.easy_perform(easy);
  curl.slist_free_all(headers);

  long connects = 0;
  curl.easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &connects);
  connections_opened_ += connects;

  if (code != CURLE_OK) {
    curl.easy_setopt(easy, CURLOPT_ERRORBUFFER, nullptr);
    Release(std::move(handle));
    if (transfer.body_too_large) {
      return MakeError("http.transport", "the response from " + host + " is larger than " +
                                             std::to_string(options_.max_response_bytes) +
                                             " bytes");
    }
    std::string detail = error_text[0] != '\0' ? error_text : curl.easy_strerror(code);
    std::string error_code = ErrorCodeFor(code);
    std::string what = error_code == "http.connect"   ? "cannot connect to "
                       : error_code == "http.timeout" ? "timed out talking to "
                       : error_code == "http.tls"     ? "TLS failure with "
                                                      : "transport failure with ";
    return MakeError(std::move(error_code), what + host + ": " + detail);
  }

  long status = 0;
  curl.easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  curl.easy_setopt(easy, CURLOPT_ERRORBUFFER, nullptr);
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
