// Renders diagnostics for people (compiler style, with the source line and a
// caret) and for machines (JSON, for CI and editors).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/diagnostic.h"

namespace cairn {

struct PrintOptions {
  bool color = false;  // ANSI colors (only when writing to a terminal and NO_COLOR is unset)
};

// One diagnostic as text:
//   file:12:11: error[CRN030]: message
//      12 |     next: markDon
//         |           ^
//      = help: hint
// `source` is the file's text (may be empty: then no snippet is shown).
std::string FormatDiagnostic(const Diagnostic& d, std::string_view source, const PrintOptions& o);

// One diagnostic as a JSON object: {code, severity, file, line, column, path, message, hint}.
nlohmann::json DiagnosticToJson(const Diagnostic& d);

}  // namespace cairn
