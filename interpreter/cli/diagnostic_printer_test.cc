#include "cli/diagnostic_printer.h"

#include <gtest/gtest.h>

namespace cairn {
namespace {

Diagnostic Make(int line, int col, std::string hint = "did you mean 'markDone'?") {
  return Diagnostic{"CRN030", Severity::kError, SourceLocation{"w.yaml", line, col}, "/steps/1/next",
                    "'markDon' names no step", std::move(hint)};
}

TEST(DiagnosticPrinterTest, CompilerStyleWithSnippetCaretAndHint) {
  std::string source = "steps:\n  - name: a\n    next: markDon\n";
  EXPECT_EQ(FormatDiagnostic(Make(3, 11), source, {}),
            "w.yaml:3:11: error[CRN030]: 'markDon' names no step\n"
            " 3 |     next: markDon\n"
            "   |           ^^^^^^^\n"
            "   = help: did you mean 'markDone'?\n");
}

TEST(DiagnosticPrinterTest, UnderlinesAWholeExpression) {
  std::string source = "x: ${ env.HOME }\n";
  std::string out = FormatDiagnostic(Make(1, 4, ""), source, {});
  EXPECT_NE(out.find("   ^^^^^^^^^^^^^\n"), std::string::npos) << out;
}

TEST(DiagnosticPrinterTest, NoSnippetWithoutSourceOrPosition) {
  EXPECT_EQ(FormatDiagnostic(Make(0, 0, ""), "", {}),
            "w.yaml: error[CRN030]: 'markDon' names no step\n");
  EXPECT_EQ(FormatDiagnostic(Make(9, 1, ""), "one line\n", {}),
            "w.yaml:9:1: error[CRN030]: 'markDon' names no step\n");
}

TEST(DiagnosticPrinterTest, ColorOnlyWhenAsked) {
  std::string source = "a\n";
  EXPECT_EQ(FormatDiagnostic(Make(1, 1), source, {}).find('\033'), std::string::npos);
  EXPECT_NE(FormatDiagnostic(Make(1, 1), source, {.color = true}).find('\033'), std::string::npos);
}

TEST(DiagnosticPrinterTest, Json) {
  auto j = DiagnosticToJson(Make(3, 11));
  EXPECT_EQ(j["code"], "CRN030");
  EXPECT_EQ(j["severity"], "error");
  EXPECT_EQ(j["line"], 3);
  EXPECT_EQ(j["path"], "/steps/1/next");
}

}  // namespace
}  // namespace cairn
