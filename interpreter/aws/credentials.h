// Credentials: the AWS access key id, secret access key and optional session
// token that sign a request.
//
// The secret never leaves this object except through the SigV4 key
// derivation (sigv4.h). Streaming a Credentials prints the access key id and
// "<redacted>" for the secret and token; there is no way to print the secret.
// As a best effort, the secret's and token's bytes are overwritten when the
// object is destroyed.
//
// Thread-safety: immutable after construction; safe to share across threads.
#pragma once

#include <iosfwd>
#include <string>

namespace cairn::aws {

class Credentials {
 public:
  // An empty session_token means long-term credentials. Values are not
  // validated here; signing rejects unusable ones with an error.
  Credentials(std::string access_key_id, std::string secret_access_key,
              std::string session_token = {});
  Credentials(const Credentials&) = default;
  Credentials(Credentials&&) noexcept = default;
  Credentials& operator=(const Credentials&) = default;
  Credentials& operator=(Credentials&&) noexcept = default;
  ~Credentials();

  const std::string& access_key_id() const { return access_key_id_; }
  // The session token is sent on the wire (X-Amz-Security-Token), so it is
  // readable; it is still never printed by operator<<.
  const std::string& session_token() const { return session_token_; }
  bool has_session_token() const { return !session_token_.empty(); }

  // Reserved for the SigV4 key derivation (and tests of it). Do not log,
  // copy into other objects, or put in error messages.
  const std::string& secret_access_key_for_signing() const { return secret_access_key_; }

 private:
  std::string access_key_id_;
  std::string secret_access_key_;
  std::string session_token_;
};

// "Credentials{access_key_id=AKID…, secret_access_key=<redacted>,
// session_token=<redacted>|<none>}".
std::ostream& operator<<(std::ostream& os, const Credentials& credentials);

}  // namespace cairn::aws
