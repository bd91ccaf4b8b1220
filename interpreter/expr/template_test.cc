#include "expr/template.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace cairn::expr {
namespace {

using ::testing::HasSubstr;

// "L(text)@offset" / "E(source)@offset" for each part.
std::vector<std::string> Parts(std::string_view text) {
  Result<Template> t = ParseTemplate(text);
  if (!t.ok()) return {"error: " + t.error().message};
  std::vector<std::string> out;
  for (const TemplatePart& p : t->parts) {
    out.push_back(std::string(p.is_expression() ? "E(" : "L(") + p.text + ")@" +
                  std::to_string(p.offset));
  }
  return out;
}

TEST(ParseTemplateTest, Cases) {
  struct Case {
    std::string text;
    std::vector<std::string> parts;
  };
  const Case cases[] = {
      {"", {}},
      {"plain", {"L(plain)@0"}},
      {"${ .a }", {"E( .a )@2"}},
      {"x=${.a}, y=${.b}!", {"L(x=)@0", "E(.a)@4", "L(, y=)@7", "E(.b)@13", "L(!)@16"}},
      {"${ {a: {b: 1}} }", {"E( {a: {b: 1}} )@2"}},
      {R"(${ "}" })", {R"(E( "}" )@2)"}},
      {R"(${ "a\"}" })", {R"(E( "a\"}" )@2)"}},
      {R"t(${ "\( {x: "}"} | .x )" })t", {R"t(E( "\( {x: "}"} | .x )" )@2)t"}},
      {"${ [.a, (.b)] }", {"E( [.a, (.b)] )@2"}},
      {"${ .a # note }\n}", {"E( .a # note }\n)@2"}},
      {"$${ .a }", {"L(${ .a })@0"}},
      {"cost: $$${.a}", {"L(cost: $${.a})@0"}},
      {"$5 and $x{", {"L($5 and $x{)@0"}},
      {"${.a}${.b}", {"E(.a)@2", "E(.b)@7"}},
      {"caf\xC3\xA9 ${ \"\xC3\xA9\" }", {"L(caf\xC3\xA9 )@0", "E( \"\xC3\xA9\" )@8"}},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Parts(c.text), c.parts) << c.text;
  }
}

TEST(ParseTemplateTest, Errors) {
  struct Case {
    std::string text;
    std::string error;
  };
  const Case cases[] = {
      {"${ .a", "`${` at offset 0 is not closed by `}`"},
      {"ab ${", "`${` at offset 3 is not closed by `}`"},
      {"${ (.a }", "`${` at offset 0: `}` does not match `(` (offset 7)"},
      {"x ${ \"abc }", "`${` at offset 2: string literal is not terminated (offset 5)"},
      {"${ .a ) }", "`${` at offset 0: `)` closes nothing (offset 6)"},
      {"${ .a # }", "`${` at offset 0 is not closed by `}`"},
      {"${.a} ${ [ }", "`${` at offset 6: `}` does not match `[` (offset 11)"},
  };
  for (const Case& c : cases) {
    Result<Template> t = ParseTemplate(c.text);
    ASSERT_FALSE(t.ok()) << c.text;
    EXPECT_EQ(t.error().code, "expr.template");
    EXPECT_EQ(t.error().message, c.error) << c.text;
  }
}

TEST(ParseTemplateTest, SingleExpression) {
  EXPECT_TRUE(ParseTemplate("${ .a }")->is_single_expression());
  EXPECT_TRUE(ParseTemplate("  ${ .a }\n")->is_single_expression());
  EXPECT_EQ(ParseTemplate("\t${.a} ")->single_expression().text, ".a");
  EXPECT_FALSE(ParseTemplate("x${ .a }")->is_single_expression());
  EXPECT_FALSE(ParseTemplate("${.a}${.b}")->is_single_expression());
  EXPECT_FALSE(ParseTemplate("plain")->is_single_expression());
  EXPECT_FALSE(ParseTemplate(" $${.a}")->is_single_expression());
  EXPECT_EQ(ParseTemplate("a${.x}b${.y}")->expression_count(), 2u);
}

TEST(ContainsExpressionTest, Cases) {
  EXPECT_TRUE(ContainsExpression("${ .a }"));
  EXPECT_TRUE(ContainsExpression("x ${"));
  EXPECT_TRUE(ContainsExpression("$${.a} ${.b}"));
  EXPECT_FALSE(ContainsExpression("$$${.a}"));  // `$` followed by the escape `$${`
  EXPECT_FALSE(ContainsExpression("$${.a}"));
  EXPECT_FALSE(ContainsExpression("plain $ { }"));
  EXPECT_FALSE(ContainsExpression(""));
}

TEST(ContainsExpressionTest, AgreesWithParseTemplate) {
  for (std::string_view text : {"$${.a}", "$$${.a}", "a$${b}${.c}", "$${", "${.a}", "$", "$$"}) {
    Result<Template> t = ParseTemplate(text);
    const bool has = !t.ok() || t->expression_count() > 0;
    EXPECT_EQ(ContainsExpression(text), has) << text;
  }
}

TEST(ParseTemplateTest, OffsetsPointIntoTheOriginal) {
  const std::string text = "id: ${ .steps.create.id } at ${ .execution.startedAt }";
  Result<Template> t = ParseTemplate(text);
  ASSERT_TRUE(t.ok());
  for (const TemplatePart& p : t->parts) {
    if (p.is_expression()) {
      EXPECT_EQ(text.substr(p.offset, p.text.size()), p.text);
    }
  }
  EXPECT_THAT(t->parts[1].text, HasSubstr(".steps.create.id"));
}

}  // namespace
}  // namespace cairn::expr
