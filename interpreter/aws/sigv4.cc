#include "aws/sigv4.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <span>
#include <tuple>
#include <utility>
#include <vector>

namespace cairn::aws {
namespace {

using std::chrono::days;
using std::chrono::sys_days;
using std::chrono::sys_seconds;

constexpr std::string_view kTerminator = "aws4_request";
constexpr std::string_view kHeaderAuthorization = "Authorization";
constexpr std::string_view kHeaderDate = "X-Amz-Date";
constexpr std::string_view kHeaderSecurityToken = "X-Amz-Security-Token";
constexpr std::string_view kHeaderContentSha256 = "X-Amz-Content-Sha256";

Error SigningError(std::string message) { return MakeError("sigv4", std::move(message), "SigV4"); }

bool IsUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

// RFC 7230 tchar.
bool IsTokenChar(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool IsToken(std::string_view s) {
  return !s.empty() && std::ranges::all_of(s, [](char c) { return IsTokenChar(c); });
}

// Region and service names appear in the credential scope, which is
// '/'-separated: allow only letters, digits, '-', '_' and '.'.
bool IsScopeName(std::string_view s) {
  return !s.empty() && std::ranges::all_of(s, [](char c) {
    return IsUnreserved(static_cast<unsigned char>(c)) && c != '~';
  });
}

// Access key ids are alphanumeric; reject what would break the Credential
// field ('/', ',', '=', whitespace, controls).
bool IsValidAccessKeyId(std::string_view s) {
  return !s.empty() && std::ranges::all_of(s, [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u < 0x7f && c != '/' && c != ',' && c != '=';
  });
}

// Tab, printable ASCII, obs-text, and line breaks (LF, or CR directly before LF).
bool IsValidHeaderValue(std::string_view v) {
  for (size_t i = 0; i < v.size(); ++i) {
    auto c = static_cast<unsigned char>(v[i]);
    if (c == '\t' || c == '\n' || (c >= 0x20 && c != 0x7f)) continue;
    if (c == '\r' && i + 1 < v.size() && v[i + 1] == '\n') continue;
    return false;
  }
  return true;
}

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes %XX escapes; a '%' not followed by two hex digits stays literal.
std::string PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int hi = HexValue(s[i + 1]);
      int lo = HexValue(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t end = s.find(sep, start);
    if (end == std::string_view::npos) {
      parts.push_back(s.substr(start));
      return parts;
    }
    parts.push_back(s.substr(start, end - start));
    start = end + 1;
  }
}

bool IsSpaceOrTab(char c) { return c == ' ' || c == '\t'; }

// Trimmed, with runs of spaces and tabs collapsed to one space; each
// non-empty line of a folded value becomes one comma-separated element.
std::string CanonicalHeaderValue(std::string_view value) {
  std::string out;
  bool first_element = true;
  for (std::string_view line : Split(value, '\n')) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::string element;
    bool pending_space = false;
    for (char c : line) {
      if (IsSpaceOrTab(c)) {
        pending_space = !element.empty();
        continue;
      }
      if (pending_space) element.push_back(' ');
      pending_space = false;
      element.push_back(c);
    }
    if (element.empty()) continue;
    if (!first_element) out.push_back(',');
    out += element;
    first_element = false;
  }
  return out;
}

struct QueryParam {
  std::string key;    // encoded
  std::string value;  // encoded
};

std::vector<QueryParam> ParseQuery(std::string_view query) {
  std::vector<QueryParam> params;
  if (query.empty()) return params;
  for (std::string_view pair : Split(query, '&')) {
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string_view key = pair.substr(0, eq);
    std::string_view value =
        eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    params.push_back({UriEncode(PercentDecode(key)), UriEncode(PercentDecode(value))});
  }
  return params;
}

std::string JoinSortedQuery(std::vector<QueryParam> params) {
  std::ranges::sort(params, [](const QueryParam& a, const QueryParam& b) {
    return std::tie(a.key, a.value) < std::tie(b.key, b.value);
  });
  std::string out;
  for (const QueryParam& p : params) {
    if (!out.empty()) out.push_back('&');
    out += p.key;
    out.push_back('=');
    out += p.value;
  }
  return out;
}

// Appends `value` (0 <= value < 10^width) as exactly `width` decimal digits.
void AppendDigits(std::string& out, int value, int width) {
  std::string digits(static_cast<size_t>(width), '0');
  for (int i = width - 1; i >= 0 && value > 0; --i, value /= 10) {
    digits[static_cast<size_t>(i)] = static_cast<char>('0' + value % 10);
  }
  out += digits;
}

// "YYYYMMDD".
Result<std::string> FormatDate(sys_days day) {
  std::chrono::year_month_day ymd{day};
  int year = static_cast<int>(ymd.year());
  if (year < 1 || year > 9999) return SigningError("signing time must be in years 1..9999");
  std::string out;
  AppendDigits(out, year, 4);
  AppendDigits(out, static_cast<int>(static_cast<unsigned>(ymd.month())), 2);
  AppendDigits(out, static_cast<int>(static_cast<unsigned>(ymd.day())), 2);
  return out;
}

// "YYYYMMDDTHHMMSSZ".
Result<std::string> FormatAmzDate(sys_seconds time) {
  sys_days day = std::chrono::floor<days>(time);
  Result<std::string> out = FormatDate(day);
  if (!out.ok()) return out;
  std::chrono::hh_mm_ss hms{time - day};
  out->push_back('T');
  AppendDigits(*out, static_cast<int>(hms.hours().count()), 2);
  AppendDigits(*out, static_cast<int>(hms.minutes().count()), 2);
  AppendDigits(*out, static_cast<int>(hms.seconds().count()), 2);
  out->push_back('Z');
  return out;
}

// Sets the header: the first one of that name (any case) gets the value,
// later ones are removed; appended when absent.
void SetHeader(HttpRequest& request, std::string_view name, std::string value) {
  auto matches = [&](const HttpHeader& header) { return HeaderNameEquals(header.name, name); };
  auto first = std::ranges::find_if(request.headers, matches);
  if (first == request.headers.end()) {
    request.headers.push_back({std::string(name), std::move(value)});
    return;
  }
  first->value = std::move(value);
  auto rest = std::remove_if(first + 1, request.headers.end(), matches);
  request.headers.erase(rest, request.headers.end());
}

void RemoveHeader(HttpRequest& request, std::string_view name) {
  std::erase_if(request.headers,
                [&](const HttpHeader& header) { return HeaderNameEquals(header.name, name); });
}

Status ValidateRequest(const HttpRequest& request) {
  if (!IsToken(request.method)) {
    return SigningError("request method \"" + request.method + "\" is not an HTTP token");
  }
  for (const HttpHeader& header : request.headers) {
    if (!IsToken(header.name)) {
      return SigningError("header name \"" + header.name + "\" is not an HTTP token");
    }
    if (!IsValidHeaderValue(header.value)) {
      return SigningError("header \"" + header.name + "\" has a control character in its value");
    }
  }
  if (FindHeader(request, "host") == nullptr) return SigningError("request has no Host header");
  return {};
}

struct CanonicalHeaders {
  std::string block;           // "name:value\n" per header name, sorted
  std::string signed_headers;  // "name;name;…"
};

CanonicalHeaders CanonicalizeHeaders(const std::vector<HttpHeader>& headers) {
  std::vector<std::pair<std::string, std::string>> entries;
  entries.reserve(headers.size());
  for (const HttpHeader& header : headers) {
    entries.emplace_back(AsciiLower(header.name), CanonicalHeaderValue(header.value));
  }
  std::ranges::stable_sort(entries, {}, &std::pair<std::string, std::string>::first);
  CanonicalHeaders out;
  for (size_t i = 0; i < entries.size(); ++i) {
    bool same_as_previous = i > 0 && entries[i].first == entries[i - 1].first;
    if (same_as_previous) {
      out.block.push_back(',');
    } else {
      if (i > 0) out.block.push_back('\n');
      if (!out.signed_headers.empty()) out.signed_headers.push_back(';');
      out.signed_headers += entries[i].first;
      out.block += entries[i].first;
      out.block.push_back(':');
    }
    out.block += entries[i].second;
  }
  if (!entries.empty()) out.block.push_back('\n');
  return out;
}

std::string PayloadHash(const HttpRequest& request, const SigningOptions& options) {
  return options.payload_hash.empty() ? Sha256Hex(request.body) : options.payload_hash;
}

std::string BuildCanonicalRequest(const HttpRequest& request, std::string_view canonical_query,
                                  const CanonicalHeaders& headers, bool s3_path_rules,
                                  std::string_view payload_hash) {
  std::string out;
  out += request.method;
  out.push_back('\n');
  out += CanonicalUri(request.path, s3_path_rules);
  out.push_back('\n');
  out += canonical_query;
  out.push_back('\n');
  out += headers.block;
  out.push_back('\n');
  out += headers.signed_headers;
  out.push_back('\n');
  out += payload_hash;
  return out;
}

std::string BuildStringToSign(std::string_view amz_date, std::string_view scope,
                              std::string_view canonical_request) {
  std::string out(kSigV4Algorithm);
  out.push_back('\n');
  out += amz_date;
  out.push_back('\n');
  out += scope;
  out.push_back('\n');
  out += Sha256Hex(canonical_request);
  return out;
}

std::string Sign(const SigningKey& key, std::string_view string_to_sign) {
  return HexEncode(HmacSha256(key.bytes(), string_to_sign));
}

Status CheckKeyMatches(const SigningKey& key, const Credentials& credentials,
                       std::string_view amz_date) {
  if (key.access_key_id() != credentials.access_key_id()) {
    return SigningError("signing key was derived for access key id " + key.access_key_id() +
                        ", not " + credentials.access_key_id());
  }
  if (amz_date.substr(0, 8) != key.date()) {
    return SigningError("signing key is for date " + key.date() + ", request time is " +
                        std::string(amz_date));
  }
  return {};
}

}  // namespace

SigningOptions SigningOptions::ForS3() {
  SigningOptions options;
  options.s3_path_rules = true;
  options.add_content_sha256_header = true;
  return options;
}

std::string SigningKey::CredentialScope() const {
  return date_ + "/" + region_ + "/" + service_ + "/" + std::string(kTerminator);
}

Result<SigningKey> DeriveSigningKey(const Credentials& credentials, sys_days date,
                                    std::string_view region, std::string_view service) {
  if (!IsValidAccessKeyId(credentials.access_key_id())) {
    return SigningError("access key id is empty or has characters other than printable ASCII");
  }
  const std::string& secret = credentials.secret_access_key_for_signing();
  if (secret.empty()) return SigningError("secret access key is empty");
  if (secret.size() > 4096) return SigningError("secret access key is longer than 4096 bytes");
  if (!IsScopeName(region)) {
    return SigningError("region \"" + std::string(region) +
                        "\" must be non-empty letters, digits, '-', '_' or '.'");
  }
  if (!IsScopeName(service)) {
    return SigningError("service \"" + std::string(service) +
                        "\" must be non-empty letters, digits, '-', '_' or '.'");
  }
  Result<std::string> date_text = FormatDate(date);
  if (!date_text.ok()) return date_text.error();

  std::string secret_key = "AWS4" + secret;
  auto as_bytes = [](std::string_view s) {
    return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  };
  Digest k = HmacSha256(as_bytes(secret_key), *date_text);
  OPENSSL_cleanse(secret_key.data(), secret_key.size());
  k = HmacSha256(k, region);
  k = HmacSha256(k, service);
  k = HmacSha256(k, kTerminator);

  SigningKey key;
  key.access_key_id_ = credentials.access_key_id();
  key.date_ = std::move(*date_text);
  key.region_ = std::string(region);
  key.service_ = std::string(service);
  key.key_ = k;
  return key;
}

Result<SignedRequest> SignRequest(const HttpRequest& request, const Credentials& credentials,
                                  sys_seconds time, std::string_view region,
                                  std::string_view service, const SigningOptions& options) {
  Result<SigningKey> key =
      DeriveSigningKey(credentials, std::chrono::floor<days>(time), region, service);
  if (!key.ok()) return key.error();
  return SignRequest(request, credentials, *key, time, options);
}

Result<SignedRequest> SignRequest(const HttpRequest& request, const Credentials& credentials,
                                  const SigningKey& key, sys_seconds time,
                                  const SigningOptions& options) {
  Result<std::string> amz_date = FormatAmzDate(time);
  if (!amz_date.ok()) return amz_date.error();
  if (Status match = CheckKeyMatches(key, credentials, *amz_date); !match.ok()) {
    return match.error();
  }

  SignedRequest out;
  out.request = request;
  HttpRequest& signed_request = out.request;
  RemoveHeader(signed_request, kHeaderAuthorization);
  SetHeader(signed_request, kHeaderDate, *amz_date);
  bool token_after = credentials.has_session_token() && !options.sign_session_token;
  if (credentials.has_session_token()) {
    if (token_after) {
      RemoveHeader(signed_request, kHeaderSecurityToken);
    } else {
      SetHeader(signed_request, kHeaderSecurityToken, credentials.session_token());
    }
  }
  std::string payload_hash = PayloadHash(signed_request, options);
  if (options.add_content_sha256_header) {
    SetHeader(signed_request, kHeaderContentSha256, payload_hash);
  }
  if (Status valid = ValidateRequest(signed_request); !valid.ok()) return valid.error();

  CanonicalHeaders headers = CanonicalizeHeaders(signed_request.headers);
  std::string scope = key.CredentialScope();
  out.canonical_request =
      BuildCanonicalRequest(signed_request, CanonicalQueryString(signed_request.query), headers,
                            options.s3_path_rules, payload_hash);
  out.string_to_sign = BuildStringToSign(*amz_date, scope, out.canonical_request);
  out.signature = Sign(key, out.string_to_sign);
  out.authorization = std::string(kSigV4Algorithm) + " Credential=" + key.access_key_id() + "/" +
                      scope + ", SignedHeaders=" + headers.signed_headers +
                      ", Signature=" + out.signature;

  if (token_after) {
    signed_request.headers.push_back(
        {std::string(kHeaderSecurityToken), credentials.session_token()});
  }
  signed_request.headers.push_back({std::string(kHeaderAuthorization), out.authorization});
  return out;
}

Result<SignedRequest> PresignRequest(const HttpRequest& request, const Credentials& credentials,
                                     sys_seconds time, std::string_view region,
                                     std::string_view service, std::chrono::seconds expires,
                                     const SigningOptions& options) {
  if (expires < std::chrono::seconds(1) || expires > kMaxPresignExpiry) {
    return SigningError("presigned request expiry must be 1.." +
                        std::to_string(kMaxPresignExpiry.count()) + " seconds, got " +
                        std::to_string(expires.count()));
  }
  Result<std::string> amz_date = FormatAmzDate(time);
  if (!amz_date.ok()) return amz_date.error();
  Result<SigningKey> key =
      DeriveSigningKey(credentials, std::chrono::floor<days>(time), region, service);
  if (!key.ok()) return key.error();

  SignedRequest out;
  out.request = request;
  HttpRequest& signed_request = out.request;
  RemoveHeader(signed_request, kHeaderAuthorization);
  RemoveHeader(signed_request, kHeaderDate);
  RemoveHeader(signed_request, kHeaderSecurityToken);
  if (Status valid = ValidateRequest(signed_request); !valid.ok()) return valid.error();

  CanonicalHeaders headers = CanonicalizeHeaders(signed_request.headers);
  std::string scope = key->CredentialScope();
  std::vector<QueryParam> params = ParseQuery(signed_request.query);
  std::erase_if(params, [](const QueryParam& p) {
    for (std::string_view reserved :
         {"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
          "X-Amz-SignedHeaders", "X-Amz-Security-Token", "X-Amz-Signature"}) {
      if (p.key == reserved) return true;
    }
    return false;
  });
  params.push_back({"X-Amz-Algorithm", std::string(kSigV4Algorithm)});
  params.push_back({"X-Amz-Credential", UriEncode(key->access_key_id() + "/" + scope)});
  params.push_back({"X-Amz-Date", *amz_date});
  params.push_back({"X-Amz-Expires", std::to_string(expires.count())});
  params.push_back({"X-Amz-SignedHeaders", UriEncode(headers.signed_headers)});
  bool token_after = credentials.has_session_token() && !options.sign_session_token;
  if (credentials.has_session_token() && !token_after) {
    params.push_back({"X-Amz-Security-Token", UriEncode(credentials.session_token())});
  }
  std::string canonical_query = JoinSortedQuery(std::move(params));

  out.canonical_request =
      BuildCanonicalRequest(signed_request, canonical_query, headers, options.s3_path_rules,
                            PayloadHash(signed_request, options));
  out.string_to_sign = BuildStringToSign(*amz_date, scope, out.canonical_request);
  out.signature = Sign(*key, out.string_to_sign);

  signed_request.query = canonical_query + "&X-Amz-Signature=" + out.signature;
  if (token_after) {
    signed_request.query += "&X-Amz-Security-Token=" + UriEncode(credentials.session_token());
  }
  return out;
}

std::string UriEncode(std::string_view bytes, bool encode_slash) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(bytes.size());
  for (char ch : bytes) {
    auto c = static_cast<unsigned char>(ch);
    if (IsUnreserved(c) || (c == '/' && !encode_slash)) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kDigits[c >> 4]);
      out.push_back(kDigits[c & 0x0f]);
    }
  }
  return out;
}

std::string CanonicalUri(std::string_view path, bool s3_path_rules) {
  if (path.empty() || path == "/") return "/";
  if (path.front() == '/') path.remove_prefix(1);
  std::vector<std::string_view> pieces = Split(path, '/');
  std::string out;
  if (s3_path_rules) {
    for (std::string_view piece : pieces) {
      out.push_back('/');
      out += UriEncode(PercentDecode(piece));
    }
    return out;
  }
  // RFC 3986 remove_dot_segments, with empty segments dropped.
  std::vector<std::string_view> segments;
  for (std::string_view piece : pieces) {
    if (piece.empty() || piece == ".") continue;
    if (piece == "..") {
      if (!segments.empty()) segments.pop_back();
      continue;
    }
    segments.push_back(piece);
  }
  std::string_view last = pieces.back();
  bool trailing_slash = last.empty() || last == "." || last == "..";
  for (std::string_view segment : segments) {
    out.push_back('/');
    out += UriEncode(segment);
  }
  if (segments.empty() || trailing_slash) out.push_back('/');
  return out;
}

std::string CanonicalQueryString(std::string_view query) {
  return JoinSortedQuery(ParseQuery(query));
}

}  // namespace cairn::aws
