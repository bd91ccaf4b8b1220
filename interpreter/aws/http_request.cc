#include "aws/http_request.h"

#include <algorithm>

namespace cairn::aws {
namespace {

char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

bool HeaderNameEquals(std::string_view a, std::string_view b) {
  return std::ranges::equal(a, b, [](char x, char y) { return AsciiLower(x) == AsciiLower(y); });
}

const std::string* FindHeader(const HttpRequest& request, std::string_view name) {
  for (const HttpHeader& header : request.headers) {
    if (HeaderNameEquals(header.name, name)) return &header.value;
  }
  return nullptr;
}

}  // namespace cairn::aws
