// Where something stands in a workflow file: file name, 1-based line and column.
#pragma once

#include <string>

namespace cairn {

struct SourceLocation {
  std::string file;  // as given by the user (not made absolute)
  int line = 0;      // 1-based; 0 = unknown
  int column = 0;    // 1-based; 0 = unknown

  bool known() const { return line > 0; }
  // "file:line:col", or "file" when the position is unknown.
  std::string ToString() const {
    if (!known()) return file;
    return file + ":" + std::to_string(line) + ":" + std::to_string(column);
  }
};

}  // namespace cairn
