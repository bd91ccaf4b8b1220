#include "core/strings.h"

#include <gtest/gtest.h>

namespace cairn {
namespace {

TEST(StringsTest, EditDistance) {
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3u);
  EXPECT_EQ(EditDistance("", "abc"), 3u);
  EXPECT_EQ(EditDistance("same", "same"), 0u);
}

TEST(StringsTest, ClosestMatchFindsTyposOnly) {
  std::vector<std::string> keys = {"timeout", "retry", "catch", "next"};
  EXPECT_EQ(ClosestMatch("timout", keys), "timeout");
  EXPECT_EQ(ClosestMatch("retyr", keys), "retry");
  EXPECT_EQ(ClosestMatch("banana", keys), "");
}

TEST(StringsTest, Identifier) {
  EXPECT_TRUE(IsIdentifier("runTask"));
  EXPECT_TRUE(IsIdentifier("_x1"));
  EXPECT_FALSE(IsIdentifier("1x"));
  EXPECT_FALSE(IsIdentifier("run-task"));
  EXPECT_FALSE(IsIdentifier(""));
}

}  // namespace
}  // namespace cairn
