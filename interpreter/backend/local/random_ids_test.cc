#include "backend/local/random_ids.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <regex>
#include <set>
#include <string>
#include <vector>

namespace cairn::backend::local {
namespace {

TEST(RandomIdsTest, UuidsHaveTheirVersionAndVariant) {
  const std::regex v4("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  const std::regex v7("[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string a = NewUuid();
    std::string b = NewTimeOrderedUuid(1'795'481'163'621);
    EXPECT_TRUE(std::regex_match(a, v4)) << a;
    EXPECT_TRUE(std::regex_match(b, v7)) << b;
    EXPECT_TRUE(seen.insert(a).second);
    EXPECT_TRUE(seen.insert(b).second) << "74 random bits per millisecond";
  }
}

TEST(RandomIdsTest, TimeOrderedUuidsStartWithTheirMillisecondAndSortByIt) {
  // 1795481163621 ms = 0x01a2_0b04_5765.
  EXPECT_EQ(NewTimeOrderedUuid(1'795'481'163'621).substr(0, 13), "01a20b04-5765");
  EXPECT_EQ(NewTimeOrderedUuid(0).substr(0, 13), "00000000-0000");
  std::vector<std::string> ids;
  for (int64_t ms = 1'700'000'000'000; ms < 1'700'000'000'000 + 5000; ms += 7) {
    ids.push_back(NewTimeOrderedUuid(ms));
  }
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
}

TEST(RandomIdsTest, CallbackIdsAndTokensAreLongAndAlphanumeric) {
  const std::regex alnum("[A-Za-z0-9]+");
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string id = NewCallbackId();
    std::string token = NewCheckpointToken();
    EXPECT_EQ(id.size(), 32u);
    EXPECT_EQ(token.size(), 24u);
    EXPECT_TRUE(std::regex_match(id, alnum)) << id;
    EXPECT_TRUE(std::regex_match(token, alnum)) << token;
    EXPECT_TRUE(seen.insert(id).second);
  }
}

}  // namespace
}  // namespace cairn::backend::local
