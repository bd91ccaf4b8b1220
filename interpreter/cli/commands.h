// The subcommands of `cairn`. Each returns the process exit status:
// 0 success, 1 the workflow has errors (or the execution failed), 2 usage.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "core/diagnostic.h"

namespace cairn {

struct Terminal {
  std::ostream* out;
  std::ostream* err;
  bool color = false;
};

enum class OutputFormat { kText, kJson };
enum class GraphFormat { kMermaid, kDot };

// Prints diagnostics of `file` compiler-style (with source lines) to `out`.
void PrintDiagnostics(const Diagnostics& ds, const std::string& file, const Terminal& term,
                      std::ostream& out);

// `cairn validate FILE...`: every problem of every file; exit 1 if any error.
int RunValidate(const std::vector<std::string>& files, OutputFormat format, bool quiet,
                const Terminal& term);

// `cairn graph FILE`: the compiled step graph; exit 1 (with diagnostics on
// stderr) when the workflow does not validate.
int RunGraph(const std::string& file, GraphFormat format, const Terminal& term);

}  // namespace cairn
