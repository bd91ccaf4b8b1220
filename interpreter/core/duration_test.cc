#include "core/duration.h"

#include <gtest/gtest.h>

namespace cairn {
namespace {

TEST(DurationTest, ParsesEachUnit) {
  EXPECT_EQ(ParseDuration("500ms")->millis, 500);
  EXPECT_EQ(ParseDuration("5s")->millis, 5000);
  EXPECT_EQ(ParseDuration("10m")->millis, 600'000);
  EXPECT_EQ(ParseDuration("1h")->millis, 3'600'000);
  EXPECT_EQ(ParseDuration("2d")->millis, 172'800'000);
}

TEST(DurationTest, ParsesCompoundAndDecimalAndBareSeconds) {
  EXPECT_EQ(ParseDuration("1h30m")->millis, 5'400'000);
  EXPECT_EQ(ParseDuration("1.5s")->millis, 1500);
  EXPECT_EQ(ParseDuration("90")->millis, 90'000);
}

TEST(DurationTest, RejectsGarbageWithAHelpfulMessage) {
  auto r = ParseDuration("5 minutes");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("write e.g."), std::string::npos);
  EXPECT_FALSE(ParseDuration("").ok());
  EXPECT_FALSE(ParseDuration("5w").ok());
  EXPECT_FALSE(ParseDuration("h").ok());
  EXPECT_FALSE(ParseDuration("-5").ok());
  EXPECT_FALSE(ParseDuration("0.0001s").ok());
}

TEST(DurationTest, PrintsCanonically) {
  EXPECT_EQ(Duration{5'400'000}.ToString(), "1h30m");
  EXPECT_EQ(Duration{500}.ToString(), "500ms");
  EXPECT_EQ(Duration{0}.ToString(), "0s");
  EXPECT_EQ(Duration{1500}.ToString(), "1s500ms");
}

}  // namespace
}  // namespace cairn
