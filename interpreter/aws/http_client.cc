#include "aws/http_client.h"

namespace cairn::aws {

const std::string* HttpResponse::FindHeader(std::string_view name) const {
  for (const HttpHeader& header : headers) {
    if (HeaderNameEquals(header.name, name)) return &header.value;
  }
  return nullptr;
}

std::string HostOf(std::string_view url) {
  if (size_t scheme = url.find("://"); scheme != std::string_view::npos) {
    url.remove_prefix(scheme + 3);
  }
  url = url.substr(0, url.find_first_of("/?#"));
  if (size_t at = url.rfind('@'); at != std::string_view::npos) url.remove_prefix(at + 1);
  return std::string(url);
}

Status CheckRequestHeaders(const HttpRequest& request, const std::string& host) {
  auto has_line_break = [](std::string_view s) { return s.find_first_of("\r\n") != s.npos; };
  for (const HttpHeader& header : request.headers) {
    if (header.name.empty() || has_line_break(header.name) || has_line_break(header.value) ||
        header.name.find(':') != std::string::npos) {
      return MakeError("http.transport",
                       "invalid header name or value (header '" +
                           (has_line_break(header.name) ? std::string("?") : header.name) +
                           "') in a request to " + host);
    }
  }
  return {};
}

}  // namespace cairn::aws
