#include "aws/http_client.h"

namespace cairn::aws {

const std::string* HttpResponse::FindHeader(std::string_view name) const {
  for (const HttpHeader& header : headers) {
    if (HeaderNameEquals(header.name, name)) return &header.value;
  }
  return nullptr;
}

}  // namespace cairn::aws
