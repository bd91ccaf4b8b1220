#include "compile/operation_id.h"

#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <string>

namespace cairn {
namespace {

TEST(OperationIdTest, Fnv1a64KnownVectors) {
  EXPECT_EQ(Fnv1a64(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(Fnv1a64("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(Fnv1a64("foobar"), 0x85944171f73967e8ULL);
}

TEST(OperationIdTest, ReadablePrefixAndHash) {
  std::string id = OperationId("", "runTask", 0);
  EXPECT_TRUE(std::regex_match(id, std::regex("runTask-[0-9a-f]{16}"))) << id;
  EXPECT_TRUE(IsValidOperationId(id));
}

// Pinned values: ids must not change across platforms, compilers or
// releases, or every stored execution would stop replaying. The values
// were computed independently (a Python FNV-1a over the same bytes).
TEST(OperationIdTest, PinnedValues) {
  EXPECT_EQ(OperationId("", "runTask", 0), "runTask-77104e72bbe932c2");
  EXPECT_EQ(OperationId("", "runTask", 1), "runTask-960b157bc6d87ce3");
  EXPECT_EQ(OperationId("fan-0123456789abcdef", "left", 0), "left-c26a278de2e90080");
}

TEST(OperationIdTest, EveryInputChangesTheId) {
  std::set<std::string> ids = {
      OperationId("", "a", 0),   OperationId("", "a", 1),   OperationId("p", "a", 0),
      OperationId("", "b", 0),   OperationId("ab", "c", 0), OperationId("a", "bc", 0),
      OperationId("", "a-b", 0), OperationId("", "a_b", 0), OperationId("", "a b", 0),
  };
  EXPECT_EQ(ids.size(), 9u);
  EXPECT_EQ(OperationId("p", "a", 7), OperationId("p", "a", 7));
}

TEST(OperationIdTest, VeryLongNameIsCut) {
  std::string name(1000, 'x');
  std::string id = OperationId("", name, 0);
  EXPECT_LE(id.size(), kMaxOperationIdLength);
  EXPECT_EQ(id.size(), kOperationIdPrefixLength + 1 + 16);
  EXPECT_EQ(id.substr(0, kOperationIdPrefixLength), std::string(kOperationIdPrefixLength, 'x'));
  EXPECT_TRUE(IsValidOperationId(id));
  // Names that share the readable prefix still differ by the hash.
  EXPECT_NE(id, OperationId("", name + "y", 0));
}

TEST(OperationIdTest, UnicodeAndPunctuationAreReplaced) {
  std::string id = OperationId("", "日本語 step ✓/\"x\"", 0);
  EXPECT_EQ(id, "_step_x_-2a130253a7c8e6f1");
  EXPECT_NE(id, OperationId("", "中文 step ✓/\"x\"", 0));
  std::string long_unicode;
  for (int i = 0; i < 100; ++i) long_unicode += "é";
  EXPECT_TRUE(IsValidOperationId(OperationId("", long_unicode, 0)));
}

TEST(OperationIdTest, EmptyNameIsJustTheHash) {
  std::string id = OperationId("parent", "", 0);
  EXPECT_TRUE(std::regex_match(id, std::regex("[0-9a-f]{16}"))) << id;
}

TEST(OperationIdTest, IsValidOperationId) {
  EXPECT_TRUE(IsValidOperationId("a-Z_09"));
  EXPECT_FALSE(IsValidOperationId(""));
  EXPECT_FALSE(IsValidOperationId("a b"));
  EXPECT_FALSE(IsValidOperationId("é"));
  EXPECT_TRUE(IsValidOperationId(std::string(64, 'a')));
  EXPECT_FALSE(IsValidOperationId(std::string(65, 'a')));
}

}  // namespace
}  // namespace cairn
