#include "expr/jq_lexer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace cairn::expr {
namespace {

using ::testing::ElementsAre;

// "kind:text" for each token, for compact expectations.
std::vector<std::string> Describe(std::string_view source) {
  static const char* const kNames[] = {"id",  "field", "var", "fmt", "num",
                                       "str", "start", "mid", "end", "p"};
  std::vector<std::string> out;
  LexResult r = LexJq(source);
  for (const Token& t : r.tokens) {
    out.push_back(std::string(kNames[static_cast<int>(t.kind)]) + ":" + std::string(t.text));
  }
  if (r.error) out.push_back("error@" + std::to_string(r.error->offset) + ":" + r.error->message);
  return out;
}

TEST(JqLexerTest, Tokens) {
  EXPECT_THAT(Describe(".steps.a[0] | $x + @base64 \"s\" // a::b"),
              ElementsAre("field:steps", "field:a", "p:[", "num:0", "p:]", "p:|", "var:x", "p:+",
                          "fmt:base64", "str:s", "p://", "id:a::b"));
  EXPECT_THAT(Describe("..|.?"), ElementsAre("p:..", "p:|", "p:.", "p:?"));
  EXPECT_THAT(Describe(".5 1.5e3 1e+2"), ElementsAre("num:.5", "num:1.5e3", "num:1e+2"));
  EXPECT_THAT(Describe("?// |= != =="), ElementsAre("p:?//", "p:|=", "p:!=", "p:=="));
}

TEST(JqLexerTest, VariableMayBeSeparatedFromDollar) {
  EXPECT_THAT(Describe("$ ENV"), ElementsAre("var:ENV"));
  EXPECT_THAT(Describe("$ # note\n __loc__"), ElementsAre("var:__loc__"));
  EXPECT_THAT(Describe("$"), ElementsAre("p:$"));
}

TEST(JqLexerTest, CommentsRunToEndOfLine) {
  EXPECT_THAT(Describe(".a # } ) \" \n .b"), ElementsAre("field:a", "field:b"));
}

TEST(JqLexerTest, StringsWithInterpolation) {
  EXPECT_THAT(Describe(R"jq("a\"}\\" "x\(.a + "\(1)")y\(2)z")jq"),
              ElementsAre(R"(str:a\"}\\)", "start:x", "field:a", "p:+", "start:", "num:1",
                          "end:", "mid:y", "num:2", "end:z"));
}

TEST(JqLexerTest, Errors) {
  EXPECT_THAT(Describe("\"abc"), ElementsAre("error@0:string literal is not terminated"));
  EXPECT_THAT(Describe("\"\\(.a"),
              ElementsAre("start:", "field:a", "error@1:string interpolation `\\(` is not closed"));
  EXPECT_THAT(Describe("(.a]"), ElementsAre("p:(", "field:a", "error@3:`]` does not match `(`"));
  EXPECT_THAT(Describe("[.a"), ElementsAre("p:[", "field:a", "error@0:`[` is not closed"));
  EXPECT_THAT(Describe(".a)"), ElementsAre("field:a", "error@2:`)` closes nothing"));
  EXPECT_THAT(Describe("\"\\"), ElementsAre("error@0:string literal is not terminated"));
}

TEST(JqLexerTest, StopsAtUnmatchedBrace) {
  JqLexer lexer(R"( {a: "}"} } rest)");
  lexer.StopAtUnmatchedBrace();
  int tokens = 0;
  while (lexer.Next()) ++tokens;
  EXPECT_EQ(tokens, 5);
  EXPECT_FALSE(lexer.error());
  EXPECT_EQ(lexer.position(), 10u);
}

TEST(JqLexerTest, DeepNestingDoesNotRecurse) {
  std::string deep(200000, '(');
  deep += std::string(200000, ')');
  LexResult r = LexJq(deep);
  EXPECT_FALSE(r.error);
  EXPECT_EQ(r.tokens.size(), 400000u);
}

TEST(JqLexerTest, KeywordsAreIdentifiers) {
  LexResult r = LexJq("def define end");
  ASSERT_EQ(r.tokens.size(), 3u);
  EXPECT_TRUE(r.tokens[0].IsKeyword());
  EXPECT_FALSE(r.tokens[1].IsKeyword());
  EXPECT_TRUE(r.tokens[2].IsKeyword());
}

TEST(DecodeJqStringTest, Escapes) {
  EXPECT_EQ(DecodeJqString(R"(a\"b\\c\/\n\t)"), "a\"b\\c/\n\t");
  EXPECT_EQ(DecodeJqString(R"(\u00e9\ud83d\ude00)"), "\xC3\xA9\xF0\x9F\x98\x80");
  EXPECT_EQ(DecodeJqString("caf\xC3\xA9"), "caf\xC3\xA9");
  EXPECT_EQ(DecodeJqString(R"(\x)"), std::nullopt);
  EXPECT_EQ(DecodeJqString(R"(\u12)"), std::nullopt);
  EXPECT_EQ(DecodeJqString(R"(\ud83d)"), std::nullopt);
  EXPECT_EQ(DecodeJqString(R"(\)"), std::nullopt);
}

}  // namespace
}  // namespace cairn::expr
