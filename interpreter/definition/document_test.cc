#include "definition/document.h"

#include <gtest/gtest.h>

namespace cairn {
namespace {

Document Load(std::string_view text, Diagnostics* ds) { return LoadDocument(text, "w.yaml", ds); }

TEST(DocumentTest, CoreSchemaScalars) {
  Diagnostics ds;
  auto doc = Load(
      "a: yes\nb: true\nc: '12'\nd: 12\ne: 1.5\nf: ~\ng: 0x1f\nh: \"true\"\ni: 18446744073709551615\n",
      &ds);
  ASSERT_TRUE(ds.empty());
  const auto& r = doc.root();
  EXPECT_EQ(r["a"], "yes");  // YAML 1.1 booleans are strings
  EXPECT_EQ(r["b"], true);
  EXPECT_EQ(r["c"], "12");
  EXPECT_EQ(r["d"], 12);
  EXPECT_TRUE(r["d"].is_number_integer());
  EXPECT_DOUBLE_EQ(r["e"].get<double>(), 1.5);
  EXPECT_TRUE(r["f"].is_null());
  EXPECT_EQ(r["g"], 31);
  EXPECT_EQ(r["h"], "true");
  EXPECT_EQ(r["i"].get<uint64_t>(), 18446744073709551615ull);
}

TEST(DocumentTest, LocationsOfValuesAndKeys) {
  Diagnostics ds;
  auto doc = Load("name: x\nsteps:\n  - name: a\n    wait: 5s\n", &ds);
  ASSERT_TRUE(ds.empty());
  auto v = doc.ValueLocation("/steps/0/wait");
  EXPECT_EQ(v.line, 4);
  EXPECT_EQ(v.column, 11);
  auto k = doc.KeyLocation("/steps/0/wait");
  EXPECT_EQ(k.line, 4);
  EXPECT_EQ(k.column, 5);
  // A pointer that does not exist falls back to its nearest ancestor.
  auto missing = doc.ValueLocation("/steps/0/retry/interval");
  EXPECT_EQ(missing.line, 3);
  EXPECT_EQ(missing.ToString(), "w.yaml:3:5");
}

TEST(DocumentTest, PointerEscaping) {
  Diagnostics ds;
  auto doc = Load("\"a/b~c\": {x: 1}\n", &ds);
  EXPECT_EQ(PointerAppend("", "a/b~c"), "/a~1b~0c");
  EXPECT_EQ(doc.ValueLocation("/a~1b~0c/x").line, 1);
}

TEST(DocumentTest, SyntaxErrorIsADiagnosticWithPosition) {
  Diagnostics ds;
  Load("name: x\nsteps: [a, b\n", &ds);
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_EQ(ds[0].code, "CRN001");
  EXPECT_GT(ds[0].location.line, 0);
}

TEST(DocumentTest, UnquotedExpressionInFlowCollectionGetsAHint) {
  Diagnostics ds;
  Load("key: {executionId: ${ .execution.name }}\n", &ds);
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_EQ(ds[0].code, "CRN001");
  EXPECT_NE(ds[0].hint.find("quote the expression"), std::string::npos) << ds[0].hint;
}

TEST(DocumentTest, DuplicateKeyReported) {
  Diagnostics ds;
  auto doc = Load("name: x\nname: y\n", &ds);
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_EQ(ds[0].code, "CRN002");
  EXPECT_EQ(ds[0].location.line, 2);
  EXPECT_NE(ds[0].message.find("line 1"), std::string::npos);
  EXPECT_EQ(doc.root()["name"], "x");
}

TEST(DocumentTest, AliasBombIsBounded) {
  std::string text = "a: &a [1,1,1,1,1,1,1,1,1,1]\n";
  char prev = 'a';
  for (char c = 'b'; c <= 'j'; ++c) {
    text += std::string(1, c) + ": &" + c + " [";
    for (int i = 0; i < 10; ++i) text += std::string(i ? "," : "") + "*" + prev;
    text += "]\n";
    prev = c;
  }
  Diagnostics ds;
  Load(text, &ds);
  ASSERT_FALSE(ds.empty());
  EXPECT_EQ(ds.back().code, "CRN003");
}

TEST(DocumentTest, DeepNestingIsRejectedNotACrash) {
  std::string text(100000, '[');
  Diagnostics ds;
  Load(text, &ds);
  ASSERT_FALSE(ds.empty());
}

// yaml-cpp 0.7's LoadAll never returns on these (upstream issue 1040).
TEST(DocumentTest, InputsThatHangLoadAllAreSyntaxErrors) {
  for (const char* text : {",", "     ,        switch:", "a: 1\n,\n"}) {
    SCOPED_TRACE(text);
    Diagnostics ds;
    Load(text, &ds);
    ASSERT_FALSE(ds.empty());
  }
}

TEST(DocumentTest, EmptyAndMultiDocument) {
  Diagnostics ds;
  Load("", &ds);
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_NE(ds[0].message.find("empty"), std::string::npos);
  ds.clear();
  Load("a: 1\n---\nb: 2\n", &ds);
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_EQ(ds[0].code, "CRN001");
}

TEST(DocumentTest, UnreadableFileIsAnError) {
  Diagnostics ds;
  auto r = LoadDocumentFile("/nonexistent/w.yaml", &ds);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("/nonexistent/w.yaml"), std::string::npos);
}

}  // namespace
}  // namespace cairn
