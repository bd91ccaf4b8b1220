#include "aws/aws_error.h"

#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>

namespace cairn::aws {
namespace {

// "ns#Code:extra" / "Code:http://…" → "Code".
std::string CleanCode(std::string_view code) {
  if (size_t hash = code.rfind('#'); hash != std::string_view::npos) code.remove_prefix(hash + 1);
  code = code.substr(0, code.find(':'));
  while (!code.empty() && code.back() == ' ') code.remove_suffix(1);
  while (!code.empty() && code.front() == ' ') code.remove_prefix(1);
  return std::string(code);
}

// The text of the first <tag>…</tag> of an XML body.
std::string XmlElement(std::string_view body, std::string_view tag) {
  std::string open = "<" + std::string(tag) + ">";
  std::string close = "</" + std::string(tag) + ">";
  size_t start = body.find(open);
  if (start == std::string_view::npos) return "";
  start += open.size();
  size_t end = body.find(close, start);
  if (end == std::string_view::npos) return "";
  return std::string(body.substr(start, end - start));
}

constexpr std::array<std::string_view, 12> kAuthCodes{
    "SignatureDoesNotMatch",
    "InvalidSignatureException",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "IncompleteSignature",
    "IncompleteSignatureException",
    "MissingAuthenticationToken",
    "MissingAuthenticationTokenException",
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
    "AuthFailure",
};

}  // namespace

ServiceError ParseServiceError(const HttpResponse& response) {
  ServiceError error;
  if (const std::string* header = response.FindHeader("X-Amzn-ErrorType"); header != nullptr) {
    error.code = CleanCode(*header);
  }
  nlohmann::json body = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_object()) {
    for (const char* key : {"__type", "code", "Code", "Type"}) {
      if (!error.code.empty()) break;
      auto it = body.find(key);
      if (it != body.end() && it->is_string()) error.code = CleanCode(it->get<std::string>());
    }
    for (const char* key : {"message", "Message", "errorMessage"}) {
      auto it = body.find(key);
      if (it != body.end() && it->is_string()) {
        error.message = it->get<std::string>();
        break;
      }
    }
  } else if (response.body.find('<') != std::string::npos) {
    if (error.code.empty()) error.code = CleanCode(XmlElement(response.body, "Code"));
    error.message = XmlElement(response.body, "Message");
  }
  if (error.code.empty()) error.code = "UnknownError";
  return error;
}

bool IsAuthenticationErrorCode(std::string_view code) {
  return std::find(kAuthCodes.begin(), kAuthCodes.end(), code) != kAuthCodes.end();
}

bool IsExpiredCredentialsCode(std::string_view code) {
  return code == "ExpiredToken" || code == "ExpiredTokenException" ||
         code == "TokenRefreshRequired";
}

std::string DescribeServiceError(const ServiceError& error, int http_status,
                                 std::string_view access_key_id,
                                 std::string_view credentials_source) {
  std::string text = error.message.empty() ? "HTTP " + std::to_string(http_status) : error.message;
  if (!IsAuthenticationErrorCode(error.code)) return text;
  const std::string key = "access key id " + std::string(access_key_id) + " (from " +
                          std::string(credentials_source) + ")";
  std::string hint;
  if (error.code == "SignatureDoesNotMatch" || error.code == "InvalidSignatureException" ||
      error.code.starts_with("IncompleteSignature")) {
    hint = "the signature was rejected: the secret access key of " + key +
           " is wrong, or the request was altered in transit";
  } else if (error.code == "UnrecognizedClientException" || error.code == "InvalidClientTokenId") {
    hint = "the service does not know " + key + " or its session token";
  } else if (IsExpiredCredentialsCode(error.code)) {
    hint = "the session token of " + key + " has expired";
  } else if (error.code == "RequestExpired") {
    hint = "the request's time is too far from the service's: check this machine's clock";
  } else {
    hint = "the request carried no usable credentials";
  }
  return text + " (" + error.code + ": " + hint + ")";
}

}  // namespace cairn::aws
