// AWS Signature Version 4 (AWS4-HMAC-SHA256) as pure functions of
// (request, credentials, time, region, service, options): no clock, no I/O,
// no global state, so every function here is thread-safe and deterministic.
//
// Header signing (SignRequest) adds X-Amz-Date, X-Amz-Security-Token (when
// the credentials carry a session token), optionally X-Amz-Content-Sha256,
// and Authorization. Query signing (PresignRequest) puts the same
// information in the query string, for presigned URLs.
//
// Canonicalization follows the official aws-sig-v4-test-suite (2015-08-30),
// which tests/peers installs and aws/sigv4_test.cc checks stage by stage:
//  * path: for every service but S3, dot segments are removed, empty
//    segments ("//") collapsed, and each segment of the given (wire) path is
//    URI-encoded again, so "%" becomes "%25" ("double encoding"). With
//    SigningOptions::s3_path_rules the path is not normalized and each
//    segment is encoded once.
//  * query: split on '&' and the first '=', each key and value
//    percent-decoded then re-encoded (RFC 3986 unreserved characters
//    unencoded, everything else %XX, so '+' is a literal plus, "%2B"), sorted
//    by key then value, bytewise.
//  * headers: every header of the request is signed. Names are lowercased;
//    values trimmed with runs of spaces/tabs collapsed to one space; repeated
//    headers are joined with ',' in request order; a value holding line
//    breaks (obsolete line folding) contributes each non-empty line as one
//    comma-separated element.
//
// Secrets: the secret access key is used only to derive the signing key; no
// output of this file contains it or the signing key. Nothing here logs.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "aws/credentials.h"
#include "aws/hash.h"
#include "aws/http_request.h"
#include "core/result.h"

namespace cairn::aws {

inline constexpr std::string_view kSigV4Algorithm = "AWS4-HMAC-SHA256";
// The payload hash S3 accepts in place of the body's hash.
inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";
// The longest validity a presigned request may have (7 days).
inline constexpr std::chrono::seconds kMaxPresignExpiry{604800};

struct SigningOptions {
  // S3's canonical URI: no dot-segment removal or '//' collapsing, and each
  // segment is percent-decoded then encoded once (so a correctly encoded
  // path is kept as it is). Off: the rules of every other service.
  bool s3_path_rules = false;
  // Header signing only: set X-Amz-Content-Sha256 to the payload hash and
  // sign it (S3 requires this header).
  bool add_content_sha256_header = false;
  // With a session token: true signs X-Amz-Security-Token (what most
  // services expect); false adds it only after signing, unsigned (for the
  // few services that require that).
  bool sign_session_token = true;
  // The payload hash to sign. Empty: the SHA-256 of the body. Set it to
  // kUnsignedPayload for S3 presigned URLs or unsigned S3 payloads.
  std::string payload_hash;

  // s3_path_rules and add_content_sha256_header on; the body is hashed.
  static SigningOptions ForS3();
};

// The key derived from a secret for one (date, region, service): valid for
// that UTC day only. Callers that sign many requests may cache it per
// (access key id, date, region, service) and pass it to SignRequest.
// Holds key material: never log or print it (it has no operator<<).
class SigningKey {
 public:
  const std::string& access_key_id() const { return access_key_id_; }
  const std::string& date() const { return date_; }  // "YYYYMMDD"
  const std::string& region() const { return region_; }
  const std::string& service() const { return service_; }
  // "YYYYMMDD/region/service/aws4_request".
  std::string CredentialScope() const;
  // The raw key, for tests against published derivation examples.
  const Digest& bytes() const { return key_; }

 private:
  friend Result<SigningKey> DeriveSigningKey(const Credentials&, std::chrono::sys_days,
                                             std::string_view, std::string_view);
  SigningKey() = default;

  std::string access_key_id_;
  std::string date_;
  std::string region_;
  std::string service_;
  Digest key_{};
};

// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service),
// "aws4_request"). On failure (empty secret, invalid access key id, region
// or service, date outside years 1..9999) returns an error with code "sigv4"
// whose message never contains the secret.
Result<SigningKey> DeriveSigningKey(const Credentials& credentials, std::chrono::sys_days date,
                                    std::string_view region, std::string_view service);

// The result of signing, every intermediate stage included so that failures
// against a server can be diagnosed.
struct SignedRequest {
  // The input request with the signing headers (header signing) or the
  // signing query parameters (presigning) added; otherwise unchanged.
  HttpRequest request;
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;  // 64 lowercase hex digits
  // The Authorization header value; empty for a presigned request.
  std::string authorization;
};

// Signs `request` with an Authorization header for `time` (UTC; sub-second
// parts must already be dropped), `region` and `service` (the credential
// scope's service name, e.g. "dynamodb", "ecs").
//
// REQUIRES of the request: a non-empty method and a Host header; header
// names are HTTP tokens; header values have no control characters other than
// tab and line breaks.
// Output request: any Authorization headers removed; X-Amz-Date set to
// `time` (replacing an existing one in place); X-Amz-Security-Token set when
// the credentials have a token (signed or appended after signing, per
// options); X-Amz-Content-Sha256 set when options ask for it; Authorization
// appended last. Every other header is kept, in order, and signed: add
// headers that may change in transit (User-Agent, …) after signing.
// On invalid input returns an error with code "sigv4".
Result<SignedRequest> SignRequest(const HttpRequest& request, const Credentials& credentials,
                                  std::chrono::sys_seconds time, std::string_view region,
                                  std::string_view service, const SigningOptions& options = {});

// As above with a cached key. The key must come from the same access key id
// and be for the UTC date of `time`; region and service are the key's.
Result<SignedRequest> SignRequest(const HttpRequest& request, const Credentials& credentials,
                                  const SigningKey& key, std::chrono::sys_seconds time,
                                  const SigningOptions& options = {});

// Presigns `request`, valid for `expires` (1 s .. kMaxPresignExpiry) from
// `time`. Output request: Authorization, X-Amz-Date and
// X-Amz-Security-Token headers removed; the query replaced by the canonical
// query string (the original parameters, minus any earlier X-Amz-Algorithm,
// -Credential, -Date, -Expires, -SignedHeaders, -Security-Token and
// -Signature, plus the new ones) followed by "&X-Amz-Signature=…", and the
// session token after it when options.sign_session_token is false. Every
// remaining header (at least Host) is signed and must be sent as is.
// options.add_content_sha256_header is ignored.
Result<SignedRequest> PresignRequest(const HttpRequest& request, const Credentials& credentials,
                                     std::chrono::sys_seconds time, std::string_view region,
                                     std::string_view service, std::chrono::seconds expires,
                                     const SigningOptions& options = {});

// Building blocks, exposed for tests and for callers that build URLs.

// RFC 3986 percent-encoding: A-Z a-z 0-9 - . _ ~ kept, every other byte
// %XX with uppercase hex; '/' kept when !encode_slash.
std::string UriEncode(std::string_view bytes, bool encode_slash = true);

// The canonical URI of a wire path (see the file comment).
std::string CanonicalUri(std::string_view path, bool s3_path_rules);

// The canonical query string of a wire query (see the file comment).
std::string CanonicalQueryString(std::string_view query);

}  // namespace cairn::aws
