#include "aws/credentials.h"

#include <openssl/crypto.h>

#include <ostream>
#include <utility>

namespace cairn::aws {
namespace {

void Cleanse(std::string& s) {
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
}

}  // namespace

Credentials::Credentials(std::string access_key_id, std::string secret_access_key,
                         std::string session_token)
    : access_key_id_(std::move(access_key_id)),
      secret_access_key_(std::move(secret_access_key)),
      session_token_(std::move(session_token)) {}

Credentials::~Credentials() {
  Cleanse(secret_access_key_);
  Cleanse(session_token_);
}

std::ostream& operator<<(std::ostream& os, const Credentials& credentials) {
  return os << "Credentials{access_key_id=" << credentials.access_key_id()
            << ", secret_access_key=<redacted>, session_token="
            << (credentials.has_session_token() ? "<redacted>" : "<none>") << "}";
}

}  // namespace cairn::aws
