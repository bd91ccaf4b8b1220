// HttpRequest: an HTTP request as a plain value, the unit that SigV4 signs
// and the HTTP client sends.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace cairn::aws {

struct HttpHeader {
  std::string name;   // as written; compared case-insensitively
  std::string value;  // as written; signing trims it
  friend bool operator==(const HttpHeader&, const HttpHeader&) = default;
};

struct HttpRequest {
  std::string method;  // e.g. "GET", "POST"; used as given
  // The path exactly as it goes on the wire (already percent-encoded where
  // needed), e.g. "/" or "/my%20key". Empty means "/".
  std::string path;
  // The query exactly as it goes on the wire, without the '?', e.g.
  // "Action=ListUsers&Version=2010-05-08". Empty when there is none.
  std::string query;
  // In order, duplicates kept. Must include Host for signing.
  std::vector<HttpHeader> headers;
  std::string body;  // bytes

  friend bool operator==(const HttpRequest&, const HttpRequest&) = default;
};

// ASCII case-insensitive equality, for header names.
bool HeaderNameEquals(std::string_view a, std::string_view b);

// The value of the first header named `name` (case-insensitive), or nullptr.
// The pointer is valid until `request.headers` changes.
const std::string* FindHeader(const HttpRequest& request, std::string_view name);

}  // namespace cairn::aws
