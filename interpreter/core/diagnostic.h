// Diagnostic: one problem found in a workflow, as every phase reports it
// (loading, schema, semantic checks, expression compilation).
//
// Codes are stable ("CRN012") and documented in validate/README.md; tools
// and tests may rely on them. A diagnostic says where (file:line:col and a
// JSON pointer into the document), what, and how to fix it.
#pragma once

#include <string>
#include <vector>

#include "core/source_location.h"

namespace cairn {

enum class Severity { kError, kWarning };

struct Diagnostic {
  std::string code;         // "CRN001"
  Severity severity = Severity::kError;
  SourceLocation location;  // may be unknown for file-level problems
  std::string path;         // JSON pointer into the document, e.g. "/steps/2/next"
  std::string message;      // what is wrong, one sentence
  std::string hint;         // how to fix it; may be empty

  bool is_error() const { return severity == Severity::kError; }
};

using Diagnostics = std::vector<Diagnostic>;

inline bool HasErrors(const Diagnostics& ds) {
  for (const auto& d : ds) {
    if (d.is_error()) return true;
  }
  return false;
}

const char* SeverityName(Severity s);

}  // namespace cairn
