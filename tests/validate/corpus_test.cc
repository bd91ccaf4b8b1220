// The validator against its corpus:
//  * tests/validate/invalid/*.yaml: each file starts with comment lines
//    `# expect: CRN030 @12` (a code and a line; several per line or several
//    lines allowed) and must produce exactly those diagnostics (errors and
//    warnings), no more;
//  * tests/validate/valid/*.yaml: no diagnostic at all;
//  * workflows/**/*.yaml: no error (warnings allowed);
//  * every code documented in interpreter/validate/README.md has an invalid
//    example, and every code the corpus produces is documented.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "validate/validate.h"

namespace cairn {
namespace {

namespace fs = std::filesystem;

// Codes that no workflow file can show, each tested elsewhere.
const std::set<std::string> kNotInCorpus = {
    "CRN000",  // an unreadable file: validate_test.cc (ValidateFile on a missing path)
};
constexpr size_t kMinInvalidFiles = 70;

const fs::path kRoot = CAIRN_SOURCE_DIR;

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<fs::path> YamlFiles(const fs::path& dir, bool recursive) {
  std::vector<fs::path> files;
  if (!fs::is_directory(dir)) return files;
  auto add = [&](const fs::directory_entry& e) {
    const auto ext = e.path().extension();
    if (e.is_regular_file() && (ext == ".yaml" || ext == ".yml")) files.push_back(e.path());
  };
  if (recursive) {
    for (const auto& e : fs::recursive_directory_iterator(dir)) add(e);
  } else {
    for (const auto& e : fs::directory_iterator(dir)) add(e);
  }
  std::sort(files.begin(), files.end());
  return files;
}

using Expectation = std::multiset<std::pair<std::string, int>>;  // (code, line)

// The `# expect:` lines at the top of a file (comment lines before any content).
Expectation ReadExpectations(const std::string& text, bool* found) {
  static const std::regex kPair(R"((CRN\d{3})\s*@(\d+))");
  Expectation expected;
  *found = false;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind('#', 0) != 0) break;
    if (line.find("expect:") == std::string::npos) continue;
    *found = true;
    for (std::sregex_iterator it(line.begin(), line.end(), kPair), end; it != end; ++it) {
      expected.emplace((*it)[1].str(), std::stoi((*it)[2].str()));
    }
  }
  return expected;
}

std::set<std::string> DocumentedCodes() {
  static const std::regex kRow(R"(^\|\s*(CRN\d{3})\s*\|)");
  std::set<std::string> codes;
  std::istringstream in(ReadFile(kRoot / "interpreter/validate/README.md"));
  std::string line;
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_search(line, m, kRow)) codes.insert(m[1].str());
  }
  return codes;
}

std::string Describe(const Diagnostics& ds) {
  std::string out;
  for (const auto& d : ds) {
    out += "  " + d.location.ToString() + ": " + SeverityName(d.severity) + " " + d.code + ": " +
           d.message + (d.hint.empty() ? "" : "  [hint: " + d.hint + "]") + "\n";
  }
  return out;
}

std::string TestName(const testing::TestParamInfo<fs::path>& info) {
  std::string name = info.param.stem().string();
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

class InvalidWorkflow : public testing::TestWithParam<fs::path> {};

TEST_P(InvalidWorkflow, ReportsExactlyTheExpectedDiagnostics) {
  const fs::path& file = GetParam();
  bool found = false;
  const Expectation expected = ReadExpectations(ReadFile(file), &found);
  ASSERT_TRUE(found) << file << " has no `# expect: CRNxxx @line` comment at its top";
  ASSERT_FALSE(expected.empty()) << file << ": its expect line names no `CRNxxx @line`";
  ValidationResult r = ValidateFile(file.string());
  Expectation actual;
  for (const auto& d : r.diagnostics) actual.emplace(d.code, d.location.line);
  EXPECT_EQ(actual, expected) << file << " reported:\n" << Describe(r.diagnostics);
  for (const auto& d : r.diagnostics) {
    EXPECT_FALSE(d.message.empty()) << d.code;
    EXPECT_TRUE(d.location.known() || d.code == "CRN003") << d.code << " at line 0: " << d.message;
  }
}

INSTANTIATE_TEST_SUITE_P(Corpus, InvalidWorkflow,
                         testing::ValuesIn(YamlFiles(kRoot / "tests/validate/invalid", false)),
                         TestName);

class ValidWorkflow : public testing::TestWithParam<fs::path> {};

TEST_P(ValidWorkflow, HasNoDiagnostics) {
  ValidationResult r = ValidateFile(GetParam().string());
  EXPECT_TRUE(r.diagnostics.empty()) << GetParam() << " reported:\n" << Describe(r.diagnostics);
  EXPECT_TRUE(r.ok());
  ASSERT_NE(r.expressions.set, nullptr);
}

INSTANTIATE_TEST_SUITE_P(Corpus, ValidWorkflow,
                         testing::ValuesIn(YamlFiles(kRoot / "tests/validate/valid", false)),
                         TestName);

TEST(ShippedWorkflows, HaveNoErrors) {
  for (const auto& file : YamlFiles(kRoot / "workflows", true)) {
    ValidationResult r = ValidateFile(file.string());
    EXPECT_TRUE(r.ok()) << file << " reported:\n" << Describe(r.diagnostics);
  }
}

TEST(CorpusCoverage, IsLargeEnoughAndEveryFileHasExpectations) {
  const auto files = YamlFiles(kRoot / "tests/validate/invalid", false);
  EXPECT_GE(files.size(), kMinInvalidFiles);
  EXPECT_GE(YamlFiles(kRoot / "tests/validate/valid", false).size(), 3u);
  for (const auto& f : files) {
    bool found = false;
    ReadExpectations(ReadFile(f), &found);
    EXPECT_TRUE(found) << f << " has no `# expect:` line";
  }
}

TEST(CorpusCoverage, EveryDocumentedCodeHasAnInvalidExampleAndViceVersa) {
  const std::set<std::string> documented = DocumentedCodes();
  ASSERT_GE(documented.size(), 30u) << "interpreter/validate/README.md lists too few codes";
  std::set<std::string> expected;
  std::set<std::string> reported;
  for (const auto& f : YamlFiles(kRoot / "tests/validate/invalid", false)) {
    bool found = false;
    for (const auto& [code, line] : ReadExpectations(ReadFile(f), &found)) expected.insert(code);
    for (const auto& d : ValidateFile(f.string()).diagnostics) reported.insert(d.code);
  }
  for (const auto& code : documented) {
    if (kNotInCorpus.count(code)) continue;
    EXPECT_TRUE(expected.count(code)) << code << " is documented but no invalid example expects it";
    EXPECT_TRUE(reported.count(code)) << code << " is documented but the corpus never produces it";
  }
  for (const auto& code : expected) {
    EXPECT_TRUE(documented.count(code)) << code << " is expected by the corpus but not documented";
  }
  for (const auto& code : reported) {
    EXPECT_TRUE(documented.count(code)) << code << " is reported but not documented";
  }
}

}  // namespace
}  // namespace cairn
