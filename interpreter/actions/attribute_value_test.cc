#include "actions/attribute_value.h"

#include <gtest/gtest.h>

#include "actions/update_expression.h"

namespace cairn::actions::dynamodb {
namespace {

using nlohmann::json;

TEST(AttributeValueTest, MarshalsEveryPlainType) {
  json item = json::parse(R"j({"s": "x", "n": 5, "f": 1.5, "t": true, "z": null,
                              "m": {"a": [1, "b", {"c": false}]}})j");
  auto av = MarshalMap(item, "item");
  ASSERT_TRUE(av.ok()) << av.error().message;
  EXPECT_EQ(*av, json::parse(R"j({"s": {"S": "x"}, "n": {"N": "5"}, "f": {"N": "1.5"},
      "t": {"BOOL": true}, "z": {"NULL": true},
      "m": {"M": {"a": {"L": [{"N": "1"}, {"S": "b"}, {"M": {"c": {"BOOL": false}}}]}}}})j"));
}

TEST(AttributeValueTest, IntegersKeepEveryDigit) {
  // 2^63 - 1, -2^63 and 2^64 - 1: beyond a double's 53 bits.
  json item = json::parse(R"j({"a": 9223372036854775807, "b": -9223372036854775808,
                              "c": 18446744073709551615, "d": 0.1, "e": 1e100})j");
  auto av = MarshalMap(item, "item");
  ASSERT_TRUE(av.ok());
  EXPECT_EQ((*av)["a"]["N"], "9223372036854775807");
  EXPECT_EQ((*av)["b"]["N"], "-9223372036854775808");
  EXPECT_EQ((*av)["c"]["N"], "18446744073709551615");
  EXPECT_EQ((*av)["d"]["N"], "0.1");
  EXPECT_EQ((*av)["e"]["N"], "1e+100");
}

TEST(AttributeValueTest, NumbersFromTextBecomeExactJsonNumbers) {
  auto big = NumberFromText("9223372036854775807");
  ASSERT_TRUE(big.ok());
  EXPECT_TRUE(big->is_number_integer());
  EXPECT_EQ(big->dump(), "9223372036854775807");
  auto ubig = NumberFromText("18446744073709551615");
  ASSERT_TRUE(ubig.ok());
  EXPECT_TRUE(ubig->is_number_unsigned());
  EXPECT_EQ(ubig->dump(), "18446744073709551615");
  auto neg = NumberFromText("-42");
  ASSERT_TRUE(neg.ok());
  EXPECT_EQ(neg->get<int64_t>(), -42);
  auto frac = NumberFromText("123.456");
  ASSERT_TRUE(frac.ok());
  EXPECT_TRUE(frac->is_number_float());
  EXPECT_EQ(frac->dump(), "123.456");
  // Forms JSON itself does not accept.
  EXPECT_EQ(NumberFromText(".5")->dump(), "0.5");
  EXPECT_EQ(NumberFromText("+7")->dump(), "7");
  EXPECT_EQ(NumberFromText("007")->dump(), "7");
  EXPECT_EQ(NumberFromText("1E+2")->dump(), "100.0");
  // The documented limit: 38 digits become the nearest double.
  auto huge = NumberFromText("12345678901234567890123456789012345678");
  ASSERT_TRUE(huge.ok());
  EXPECT_TRUE(huge->is_number_float());
  EXPECT_DOUBLE_EQ(huge->get<double>(), 1.2345678901234568e37);
  EXPECT_FALSE(NumberFromText("12abc").ok());
  EXPECT_FALSE(NumberFromText("").ok());
  EXPECT_FALSE(NumberFromText("-").ok());
  EXPECT_FALSE(NumberFromText("1e").ok());
}

TEST(AttributeValueTest, RoundTripThroughText) {
  for (const char* text : {"0", "-1", "4503599627370497", "9007199254740993", "0.30000000000000004",
                           "-2.5e-10", "18446744073709551615"}) {
    json n = json::parse(text);
    auto back = NumberFromText(NumberText(n));
    ASSERT_TRUE(back.ok()) << text;
    EXPECT_EQ(*back, n) << text;
    EXPECT_EQ(back->dump(), n.dump()) << text;
  }
}

TEST(AttributeValueTest, UnmarshalsEveryType) {
  json map = json::parse(R"j({"s": {"S": "x"}, "n": {"N": "12"}, "b": {"B": "AAE="},
      "t": {"BOOL": true}, "z": {"NULL": true}, "ss": {"SS": ["a", "b"]},
      "ns": {"NS": ["1", "2.5"]}, "bs": {"BS": ["AA=="]},
      "m": {"M": {"l": {"L": [{"N": "1"}, {"S": "y"}]}}}})j");
  auto plain = UnmarshalMap(map);
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  EXPECT_EQ(*plain, json::parse(R"j({"s": "x", "n": 12, "b": "AAE=", "t": true, "z": null,
      "ss": ["a", "b"], "ns": [1, 2.5], "bs": ["AA=="], "m": {"l": [1, "y"]}})j"));
  EXPECT_TRUE(UnmarshalMap(nullptr)->is_null());
}

TEST(AttributeValueTest, RejectsWhatIsNotAnAttributeValue) {
  EXPECT_FALSE(UnmarshalValue(json::parse(R"j({"S": "a", "N": "1"})j")).ok());
  EXPECT_FALSE(UnmarshalValue(json::parse(R"j({"X": "a"})j")).ok());
  EXPECT_FALSE(UnmarshalValue(json::parse(R"j({"N": 5})j")).ok());
  EXPECT_FALSE(UnmarshalValue(json::parse(R"j("plain")j")).ok());
}

TEST(AttributeValueTest, DepthIsLimited) {
  json deep = 1;
  for (int i = 0; i < kMaxAttributeDepth + 1; ++i) deep = json::array({deep});
  auto av = MarshalValue(deep, "item.x");
  ASSERT_FALSE(av.ok());
  EXPECT_NE(av.error().message.find("deeper than 32"), std::string::npos);
  json ok = 1;
  for (int i = 0; i < kMaxAttributeDepth - 1; ++i) ok = json::array({ok});
  EXPECT_TRUE(MarshalValue(ok, "item.x").ok());
}

TEST(AttributeValueTest, SetsForAdd) {
  EXPECT_EQ(*MarshalValue(json::parse(R"j(["a","b"])j"), "add.t", SetArrays::kSets),
            json::parse(R"j({"SS": ["a", "b"]})j"));
  EXPECT_EQ(*MarshalValue(json::parse(R"j([1, 2.5])j"), "add.t", SetArrays::kSets),
            json::parse(R"j({"NS": ["1", "2.5"]})j"));
  EXPECT_FALSE(MarshalValue(json::parse(R"j([])j"), "add.t", SetArrays::kSets).ok());
  auto mixed = MarshalValue(json::parse(R"j(["a", 1])j"), "add.t", SetArrays::kSets);
  ASSERT_FALSE(mixed.ok());
  EXPECT_NE(mixed.error().message.find("add.t[1]"), std::string::npos);
}

TEST(UpdateExpressionTest, BuildsSetRemoveAddWithPlaceholders) {
  auto built = BuildUpdate(json::parse(R"j({"status": "DONE", "result": {"n": 1}})j"),
                           json::parse(R"j(["lease"])j"), json::parse(R"j({"attempts": 1})j"),
                           json::parse(R"j({"#s": "status"})j"),
                           json::parse(R"j({":running": {"S": "RUNNING"}})j"));
  ASSERT_TRUE(built.ok()) << built.error().message;
  // Object keys come in sorted order: result, then status.
  EXPECT_EQ(built->expression, "SET #set0 = :set0, #set1 = :set1 REMOVE #rem0 ADD #add0 :add0");
  EXPECT_EQ(built->names, json::parse(R"j({"#s": "status", "#set0": "result", "#set1": "status",
                                          "#rem0": "lease", "#add0": "attempts"})j"));
  EXPECT_EQ(built->values, json::parse(R"j({":running": {"S": "RUNNING"},
      ":set0": {"M": {"n": {"N": "1"}}}, ":set1": {"S": "DONE"}, ":add0": {"N": "1"}})j"));
}

TEST(UpdateExpressionTest, RefusesMistakes) {
  auto msg = [](Result<BuiltUpdate> r) { return r.ok() ? std::string("ok") : r.error().message; };
  EXPECT_NE(msg(BuildUpdate(nullptr, nullptr, nullptr, nullptr, nullptr)).find("nothing to update"),
            std::string::npos);
  EXPECT_NE(msg(BuildUpdate(json::parse(R"j({"a": 1})j"), json::parse(R"j(["a"])j"), nullptr,
                            nullptr, nullptr))
                .find("updated twice"),
            std::string::npos);
  EXPECT_NE(msg(BuildUpdate(json::parse(R"j({"a": 1})j"), nullptr, nullptr,
                            json::parse(R"j({"#set0": "x"})j"), nullptr))
                .find("#set0"),
            std::string::npos);
  EXPECT_NE(msg(BuildUpdate(nullptr, nullptr, json::parse(R"j({"a": "x"})j"), nullptr, nullptr))
                .find("must be a number or a list"),
            std::string::npos);
  EXPECT_NE(msg(BuildUpdate(json::object(), nullptr, nullptr, nullptr, nullptr)).find("`set`"),
            std::string::npos);
}

}  // namespace
}  // namespace cairn::actions::dynamodb
