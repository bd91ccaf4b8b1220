// SigV4 behaviour the official suite does not cover: published AWS examples
// (S3 header signing, S3 presigned URL, key derivation), session tokens,
// presigning, canonicalization edge cases, input errors, and that the secret
// never leaks into any output.
#include <gtest/gtest.h>

#include <chrono>
#include <sstream>
#include <string>
#include <vector>

#include "aws/sigv4.h"

namespace cairn::aws {
namespace {

using std::chrono::days;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using std::chrono::sys_days;
using std::chrono::sys_seconds;
using std::chrono::year;

// The examples in the S3 SigV4 documentation.
const Credentials kS3DocCredentials("AKIAIOSFODNN7EXAMPLE",
                                    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
const sys_seconds kS3DocTime{sys_days(year(2013) / 5 / 24)};

// The official suite's credentials and time.
const Credentials kSuiteCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
const sys_seconds kSuiteTime = sys_days(year(2015) / 8 / 30) + hours(12) + minutes(36);

HttpRequest Get(std::string path, std::string query = {}) {
  return HttpRequest{
      "GET", std::move(path), std::move(query), {{"Host", "example.amazonaws.com"}}, ""};
}

const std::string* Header(const SignedRequest& s, std::string_view name) {
  return FindHeader(s.request, name);
}

TEST(SigV4Test, DerivesTheDocumentedSigningKey) {
  // AWS General Reference, "Derive a signing key" example.
  Result<SigningKey> key =
      DeriveSigningKey(kSuiteCredentials, sys_days(year(2015) / 8 / 30), "us-east-1", "iam");
  ASSERT_TRUE(key.ok()) << key.error().ToString();
  EXPECT_EQ(HexEncode(key->bytes()),
            "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9");
  EXPECT_EQ(key->CredentialScope(), "20150830/us-east-1/iam/aws4_request");
}

TEST(SigV4Test, ReproducesTheS3GetObjectExample) {
  HttpRequest request{"GET",
                      "/test.txt",
                      "",
                      {{"Host", "examplebucket.s3.amazonaws.com"}, {"Range", "bytes=0-9"}},
                      ""};
  Result<SignedRequest> s = SignRequest(request, kS3DocCredentials, kS3DocTime, "us-east-1", "s3",
                                        SigningOptions::ForS3());
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_EQ(
      s->canonical_request,
      "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
      "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
      "x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n"
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(s->signature, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  ASSERT_NE(Header(*s, "x-amz-content-sha256"), nullptr);
  EXPECT_EQ(*Header(*s, "x-amz-content-sha256"),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(SigV4Test, ReproducesTheS3PresignedUrlExample) {
  HttpRequest request{"GET", "/test.txt", "", {{"Host", "examplebucket.s3.amazonaws.com"}}, ""};
  SigningOptions options = SigningOptions::ForS3();
  options.payload_hash = std::string(kUnsignedPayload);
  Result<SignedRequest> s = PresignRequest(request, kS3DocCredentials, kS3DocTime, "us-east-1",
                                           "s3", seconds(86400), options);
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_EQ(
      s->canonical_request,
      "GET\n/test.txt\n"
      "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%"
      "2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-"
      "Amz-SignedHeaders=host\nhost:examplebucket.s3.amazonaws.com\n\nhost\nUNSIGNED-PAYLOAD");
  EXPECT_EQ(s->signature, "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
  EXPECT_EQ(s->request.query,
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%"
            "2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-"
            "Amz-SignedHeaders=host&X-Amz-Signature="
            "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
  EXPECT_TRUE(s->authorization.empty());
  EXPECT_EQ(FindHeader(s->request, "Authorization"), nullptr);
  EXPECT_EQ(FindHeader(s->request, "X-Amz-Date"), nullptr);
}

TEST(SigV4Test, SignsTheSessionTokenHeaderByDefault) {
  Credentials credentials("AKIDEXAMPLE", "secret", "the/token+value=");
  Result<SignedRequest> s = SignRequest(Get("/"), credentials, kSuiteTime, "us-east-1", "service");
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  ASSERT_NE(Header(*s, "X-Amz-Security-Token"), nullptr);
  EXPECT_EQ(*Header(*s, "X-Amz-Security-Token"), "the/token+value=");
  EXPECT_NE(s->canonical_request.find("\nx-amz-security-token:the/token+value=\n"),
            std::string::npos);
  EXPECT_NE(s->authorization.find("SignedHeaders=host;x-amz-date;x-amz-security-token,"),
            std::string::npos);
  EXPECT_EQ(s->request.headers.back().name, "Authorization");
}

TEST(SigV4Test, CanAddTheSessionTokenAfterSigning) {
  Credentials credentials("AKIDEXAMPLE", "secret", "token");
  SigningOptions options;
  options.sign_session_token = false;
  HttpRequest request = Get("/");
  request.headers.push_back({"x-amz-security-token", "stale"});
  Result<SignedRequest> s =
      SignRequest(request, credentials, kSuiteTime, "us-east-1", "service", options);
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_EQ(s->canonical_request.find("security-token"), std::string::npos);
  const std::vector<HttpHeader>& headers = s->request.headers;
  ASSERT_EQ(headers.size(), 4u);
  EXPECT_EQ(headers[2], (HttpHeader{"X-Amz-Security-Token", "token"}));
  EXPECT_EQ(headers[3].name, "Authorization");
}

TEST(SigV4Test, ReplacesDateAndAuthorizationHeaders) {
  HttpRequest request = Get("/");
  request.headers.push_back({"authorization", "old"});
  request.headers.push_back({"x-amz-date", "19700101T000000Z"});
  request.headers.push_back({"Accept", "*/*"});
  sys_seconds time = sys_days(year(1999) / 12 / 31) + hours(23) + minutes(59) + seconds(58);
  Result<SignedRequest> s = SignRequest(request, kSuiteCredentials, time, "eu-west-1", "ecs");
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  const std::vector<HttpHeader>& headers = s->request.headers;
  ASSERT_EQ(headers.size(), 4u);
  EXPECT_EQ(headers[0].name, "Host");
  EXPECT_EQ(headers[1], (HttpHeader{"x-amz-date", "19991231T235958Z"}));
  EXPECT_EQ(headers[2].name, "Accept");
  EXPECT_EQ(headers[3], (HttpHeader{"Authorization", s->authorization}));
  EXPECT_EQ(s->authorization.rfind("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/19991231/eu-west-1/"
                                   "ecs/aws4_request, SignedHeaders=accept;host;x-amz-date, "
                                   "Signature=",
                                   0),
            0u);
}

TEST(SigV4Test, HashesTheBodyUnlessGivenAPayloadHash) {
  HttpRequest request = Get("/");
  request.method = "POST";
  request.body = "{\"TableName\":\"t\"}";
  Result<SignedRequest> hashed =
      SignRequest(request, kSuiteCredentials, kSuiteTime, "us-east-1", "dynamodb");
  ASSERT_TRUE(hashed.ok());
  EXPECT_TRUE(hashed->canonical_request.ends_with("\n" + Sha256Hex(request.body)));
  EXPECT_EQ(FindHeader(hashed->request, "X-Amz-Content-Sha256"), nullptr);

  SigningOptions options;
  options.payload_hash = std::string(kUnsignedPayload);
  options.add_content_sha256_header = true;
  Result<SignedRequest> unsigned_payload =
      SignRequest(request, kSuiteCredentials, kSuiteTime, "us-east-1", "s3", options);
  ASSERT_TRUE(unsigned_payload.ok());
  EXPECT_TRUE(unsigned_payload->canonical_request.ends_with("\nUNSIGNED-PAYLOAD"));
  EXPECT_EQ(*FindHeader(unsigned_payload->request, "x-amz-content-sha256"), "UNSIGNED-PAYLOAD");
  EXPECT_EQ(unsigned_payload->request.body, request.body);
}

TEST(SigV4Test, CachedKeyGivesTheSameSignature) {
  Result<SigningKey> key =
      DeriveSigningKey(kSuiteCredentials, sys_days(year(2015) / 8 / 30), "us-east-1", "service");
  ASSERT_TRUE(key.ok());
  Result<SignedRequest> cached = SignRequest(Get("/a"), kSuiteCredentials, *key, kSuiteTime);
  Result<SignedRequest> fresh =
      SignRequest(Get("/a"), kSuiteCredentials, kSuiteTime, "us-east-1", "service");
  ASSERT_TRUE(cached.ok());
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(cached->authorization, fresh->authorization);
  EXPECT_EQ(cached->request, fresh->request);
}

TEST(SigV4Test, RejectsACachedKeyForAnotherDayOrAccessKey) {
  Result<SigningKey> key =
      DeriveSigningKey(kSuiteCredentials, sys_days(year(2015) / 8 / 29), "us-east-1", "service");
  ASSERT_TRUE(key.ok());
  Result<SignedRequest> wrong_day = SignRequest(Get("/"), kSuiteCredentials, *key, kSuiteTime);
  ASSERT_FALSE(wrong_day.ok());
  EXPECT_NE(wrong_day.error().message.find("20150829"), std::string::npos);
  Result<SignedRequest> wrong_id =
      SignRequest(Get("/"), Credentials("OTHER", "x"), *key, kSuiteTime - days(1));
  EXPECT_FALSE(wrong_id.ok());
}

TEST(SigV4Test, EncodesOnlyUnreservedCharactersUnescaped) {
  EXPECT_EQ(UriEncode("AZaz09-._~"), "AZaz09-._~");
  EXPECT_EQ(UriEncode("a b+c/d=e&f*%"), "a%20b%2Bc%2Fd%3De%26f%2A%25");
  EXPECT_EQ(UriEncode("a/b c", false), "a/b%20c");
  EXPECT_EQ(UriEncode("\xe1\x88\xb4"), "%E1%88%B4");
}

TEST(SigV4Test, NormalizesAndDoubleEncodesPathsForMostServices) {
  EXPECT_EQ(CanonicalUri("", false), "/");
  EXPECT_EQ(CanonicalUri("/a/b/../c", false), "/a/c");
  EXPECT_EQ(CanonicalUri("/a/b/..", false), "/a/");
  EXPECT_EQ(CanonicalUri("/a/./b/.", false), "/a/b/");
  EXPECT_EQ(CanonicalUri("/../../a", false), "/a");
  EXPECT_EQ(CanonicalUri("a//b", false), "/a/b");
  EXPECT_EQ(CanonicalUri("/a%20b/c:d", false), "/a%2520b/c%3Ad");
  EXPECT_EQ(CanonicalUri("/2015-03-31/functions/arn%3Aaws%3Alambda/invocations", false),
            "/2015-03-31/functions/arn%253Aaws%253Alambda/invocations");
}

TEST(SigV4Test, KeepsS3PathsAsTheyAreEncodedOnce) {
  EXPECT_EQ(CanonicalUri("", true), "/");
  EXPECT_EQ(CanonicalUri("/bucket/my%20key//./../x", true), "/bucket/my%20key//./../x");
  EXPECT_EQ(CanonicalUri("/bucket/my key+1", true), "/bucket/my%20key%2B1");
  EXPECT_EQ(CanonicalUri("/bucket/a%2fb", true), "/bucket/a%2Fb");
  EXPECT_EQ(CanonicalUri("/bucket/", true), "/bucket/");
}

TEST(SigV4Test, SortsQueryByKeyThenValueAndReencodes) {
  EXPECT_EQ(CanonicalQueryString(""), "");
  // Sorting by key first: "a" precedes "a-b" although "a=" sorts after "a-".
  EXPECT_EQ(CanonicalQueryString("a-b=1&a=2"), "a=2&a-b=1");
  EXPECT_EQ(CanonicalQueryString("b=2&a=y&a=x"), "a=x&a=y&b=2");
  EXPECT_EQ(CanonicalQueryString("k=a=b&flag&&x="), "flag=&k=a%3Db&x=");
  EXPECT_EQ(CanonicalQueryString("q=a+b&r=%2b&s=%7e&t=a%20b&u=a b"),
            "q=a%2Bb&r=%2B&s=~&t=a%20b&u=a%20b");
  EXPECT_EQ(CanonicalQueryString("bad=%zz%4"), "bad=%25zz%254");
}

TEST(SigV4Test, CanonicalizesHeaderNamesAndValues) {
  HttpRequest request = Get("/");
  request.headers.push_back({"My-Header", "\t a \t  b  "});
  request.headers.push_back({"my-header", "c"});
  request.headers.push_back({"Folded", "one\r\n  two\n\n three "});
  request.headers.push_back({"Empty", ""});
  Result<SignedRequest> s =
      SignRequest(request, kSuiteCredentials, kSuiteTime, "us-east-1", "service");
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_NE(s->canonical_request.find("\nempty:\nfolded:one,two,three\nhost:example.amazonaws."
                                      "com\nmy-header:a b,c\nx-amz-date:"),
            std::string::npos)
      << s->canonical_request;
  EXPECT_NE(s->authorization.find("SignedHeaders=empty;folded;host;my-header;x-amz-date,"),
            std::string::npos);
}

TEST(SigV4Test, PresignsWithTheSessionTokenSignedOrAfter) {
  Credentials credentials("AKIDEXAMPLE", "secret", "tok/en");
  Result<SignedRequest> signed_token =
      PresignRequest(Get("/", "X-Amz-Signature=old&b=1"), credentials, kSuiteTime, "us-east-1",
                     "rds-db", seconds(900));
  ASSERT_TRUE(signed_token.ok()) << signed_token.error().ToString();
  EXPECT_NE(signed_token->canonical_request.find("&X-Amz-Security-Token=tok%2Fen&"),
            std::string::npos);
  EXPECT_EQ(signed_token->canonical_request.find("old"), std::string::npos);
  EXPECT_TRUE(signed_token->request.query.starts_with("X-Amz-Algorithm=AWS4-HMAC-SHA256&"));
  EXPECT_NE(signed_token->request.query.find("&b=1&"), std::string::npos);
  EXPECT_TRUE(signed_token->request.query.ends_with("&X-Amz-Signature=" + signed_token->signature));

  SigningOptions after;
  after.sign_session_token = false;
  Result<SignedRequest> token_after = PresignRequest(Get("/"), credentials, kSuiteTime, "us-east-1",
                                                     "iotdevicegateway", seconds(900), after);
  ASSERT_TRUE(token_after.ok());
  EXPECT_EQ(token_after->canonical_request.find("Security-Token"), std::string::npos);
  EXPECT_TRUE(token_after->request.query.ends_with("&X-Amz-Signature=" + token_after->signature +
                                                   "&X-Amz-Security-Token=tok%2Fen"));
}

TEST(SigV4Test, PresigningAPresignedRequestAgainIsStable) {
  Result<SignedRequest> first = PresignRequest(Get("/x", "z=1"), kSuiteCredentials, kSuiteTime,
                                               "us-east-1", "service", seconds(60));
  ASSERT_TRUE(first.ok());
  Result<SignedRequest> second = PresignRequest(first->request, kSuiteCredentials, kSuiteTime,
                                                "us-east-1", "service", seconds(60));
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->request, first->request);
}

TEST(SigV4Test, RejectsInvalidInputWithSigV4Errors) {
  auto sign = [](const HttpRequest& request, std::string_view region = "us-east-1") {
    return SignRequest(request, kSuiteCredentials, kSuiteTime, region, "service");
  };
  HttpRequest no_host{"GET", "/", "", {}, ""};
  Result<SignedRequest> r = sign(no_host);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "sigv4");
  EXPECT_NE(r.error().message.find("Host"), std::string::npos);

  HttpRequest bad_name = Get("/");
  bad_name.headers.push_back({"Bad Name", "x"});
  EXPECT_FALSE(sign(bad_name).ok());
  HttpRequest bare_cr = Get("/");
  bare_cr.headers.push_back({"X", "a\rb"});
  EXPECT_FALSE(sign(bare_cr).ok());
  HttpRequest nul = Get("/");
  nul.headers.push_back({"X", std::string("a\0b", 3)});
  EXPECT_FALSE(sign(nul).ok());
  HttpRequest no_method = Get("/");
  no_method.method = "";
  EXPECT_FALSE(sign(no_method).ok());
  EXPECT_FALSE(sign(Get("/"), "us east").ok());
  EXPECT_FALSE(sign(Get("/"), "us/east").ok());
  EXPECT_FALSE(sign(Get("/"), "").ok());
  EXPECT_FALSE(SignRequest(Get("/"), Credentials("AKID", ""), kSuiteTime, "r", "s").ok());
  EXPECT_FALSE(SignRequest(Get("/"), Credentials("", "x"), kSuiteTime, "r", "s").ok());
  EXPECT_FALSE(SignRequest(Get("/"), Credentials("AK/ID", "x"), kSuiteTime, "r", "s").ok());
  EXPECT_FALSE(PresignRequest(Get("/"), kSuiteCredentials, kSuiteTime, "r", "s", seconds(0)).ok());
  EXPECT_FALSE(PresignRequest(Get("/"), kSuiteCredentials, kSuiteTime, "r", "s",
                              kMaxPresignExpiry + seconds(1))
                   .ok());
  EXPECT_TRUE(
      PresignRequest(Get("/"), kSuiteCredentials, kSuiteTime, "r", "s", kMaxPresignExpiry).ok());
  sys_seconds year_10000{sys_days(year(10000) / 1 / 1)};
  EXPECT_FALSE(SignRequest(Get("/"), kSuiteCredentials, year_10000, "r", "s").ok());
}

// Every string a caller can see, for the leak check below.
void Collect(const SignedRequest& s, std::vector<std::string>& out) {
  out.insert(out.end(), {s.canonical_request, s.string_to_sign, s.signature, s.authorization,
                         s.request.method, s.request.path, s.request.query, s.request.body});
  for (const HttpHeader& h : s.request.headers) out.insert(out.end(), {h.name, h.value});
}

TEST(SigV4Test, SecretNeverAppearsInAnyOutput) {
  const std::string secret = "Zq9/SECRET+KEY=MATERIAL/xyz";
  Credentials credentials("AKIDEXAMPLE", secret, "token");
  std::vector<std::string> outputs;
  for (bool sign_token : {true, false}) {
    SigningOptions options = SigningOptions::ForS3();
    options.sign_session_token = sign_token;
    Result<SignedRequest> s =
        SignRequest(Get("/k"), credentials, kSuiteTime, "us-east-1", "s3", options);
    Result<SignedRequest> p = PresignRequest(Get("/k", "a=b"), credentials, kSuiteTime, "us-east-1",
                                             "s3", seconds(60), options);
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE(p.ok());
    Collect(*s, outputs);
    Collect(*p, outputs);
  }
  Result<SigningKey> key = DeriveSigningKey(credentials, sys_days(year(2015) / 8 / 30), "r", "s");
  ASSERT_TRUE(key.ok());
  outputs.insert(outputs.end(), {key->access_key_id(), key->date(), key->region(), key->service(),
                                 key->CredentialScope()});
  for (const char* region : {"bad region", ""}) {
    Result<SignedRequest> failed = SignRequest(Get("/"), credentials, kSuiteTime, region, "s");
    ASSERT_FALSE(failed.ok());
    outputs.push_back(failed.error().ToString());
  }
  std::ostringstream printed;
  printed << credentials;
  outputs.push_back(printed.str());

  for (const std::string& text : outputs) {
    for (const std::string& needle : {secret, UriEncode(secret), std::string("SECRET")}) {
      EXPECT_EQ(text.find(needle), std::string::npos) << "secret leaked into: " << text;
    }
  }
}

}  // namespace
}  // namespace cairn::aws
