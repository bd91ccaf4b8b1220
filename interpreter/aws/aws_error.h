// Reading the error an AWS service returned, for the protocols cairn
// speaks, and naming it as workflows see it.
//
// The code comes from, first match wins:
//  * the X-Amzn-ErrorType header (REST-JSON; "Code:http://…" → "Code");
//  * the JSON body's `__type` (JSON 1.0/1.1:
//    "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException" →
//    "ConditionalCheckFailedException"), `code`, `Code`, `Type`;
//  * an XML body's <Code> (query-protocol errors, and what some endpoints
//    answer for authentication failures);
//  * otherwise "UnknownError".
// The message from `message`, `Message`, `errorMessage` or <Message>.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "aws/http_client.h"

namespace cairn::aws {

struct ServiceError {
  std::string code;     // "ConditionalCheckFailedException"
  std::string message;  // the service's message; may be empty
};

// The error of a non-2xx response.
ServiceError ParseServiceError(const HttpResponse& response);

// True for the codes that mean the request's credentials or signature were
// not accepted (SignatureDoesNotMatch, InvalidSignatureException,
// UnrecognizedClientException, InvalidClientTokenId, IncompleteSignature,
// MissingAuthenticationToken(Exception), ExpiredToken(Exception),
// RequestExpired, AuthFailure).
bool IsAuthenticationErrorCode(std::string_view code);
// ExpiredToken, ExpiredTokenException,
// TokenRefreshRequired: the credentials should be refreshed and the call
// tried once more.
bool IsExpiredCredentialsCode(std::string_view code);

// The message a workflow sees for a service error: the service's message,
// and for authentication errors a hint naming what to check (the access
// key id, never the secret), e.g. "The request signature we calculated
// does not match … (SignatureDoesNotMatch: the secret access key of access
// key id AKIA… does not match, or the request was altered in transit)".
std::string DescribeServiceError(const ServiceError& error, int http_status,
                                 std::string_view access_key_id,
                                 std::string_view credentials_source);

}  // namespace cairn::aws
