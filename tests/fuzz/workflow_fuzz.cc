// libFuzzer target: arbitrary bytes through load + validate + compile +
// render, the path every workflow file takes. Nothing may crash, leak or
// trip a sanitizer, whatever the input.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "compile/compile.h"
#include "compile/graph_export.h"
#include "validate/validate.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  cairn::ValidationResult r = cairn::ValidateText(text, "fuzz.yaml");
  if (!r.ok()) return 0;
  auto def = std::make_shared<const cairn::WorkflowDefinition>(std::move(r.definition));
  auto table = std::make_shared<const cairn::expr::ExpressionTable>(std::move(r.expressions));
  auto graph = cairn::CompileWorkflow(def, table);
  if (graph.ok()) {
    (void)cairn::ToDot(**graph);
    (void)cairn::ToMermaid(**graph);
  }
  return 0;
}
