#include "validate/scalar_location.h"

#include <algorithm>
#include <cctype>

namespace cairn::validate {
namespace {

// The byte offset where 1-based `line` starts, or npos.
size_t LineStart(std::string_view source, int line) {
  size_t pos = 0;
  for (int l = 1; l < line; ++l) {
    pos = source.find('\n', pos);
    if (pos == std::string_view::npos) return pos;
    ++pos;
  }
  return pos;
}

// Walks a quoted scalar from just after its opening quote to the source
// index of value byte `offset`; npos when the scalar leaves the line or uses
// an escape whose length differs in the value.
size_t WalkQuoted(std::string_view source, size_t from, size_t line_end, char quote,
                  size_t offset) {
  size_t i = from;
  for (size_t v = 0; v < offset; ++v) {
    if (i >= line_end) return std::string_view::npos;
    if (quote == '"' && source[i] == '\\') {
      if (i + 1 >= line_end) return std::string_view::npos;
      char e = source[i + 1];
      if (e == 'x' || e == 'u' || e == 'U') return std::string_view::npos;
      i += 2;
    } else if (quote == '\'' && source[i] == '\'') {
      if (i + 1 >= line_end || source[i + 1] != '\'') return std::string_view::npos;
      i += 2;
    } else if (source[i] == quote) {
      return std::string_view::npos;
    } else {
      ++i;
    }
  }
  return i < line_end ? i : std::string_view::npos;
}

SourceLocation LocateInLiteralBlock(std::string_view source, const SourceLocation& scalar,
                                    size_t header, size_t header_end, std::string_view value,
                                    size_t offset) {
  for (size_t i = header + 1; i < header_end; ++i) {
    if (std::isdigit(static_cast<unsigned char>(source[i]))) return scalar;  // explicit indentation
    if (source[i] == '#') break;
  }
  const size_t before = value.substr(0, offset).rfind('\n');
  const size_t k =
      std::count(value.begin(), value.begin() + static_cast<std::ptrdiff_t>(offset), '\n');
  const size_t in_line = before == std::string_view::npos ? offset : offset - before - 1;
  // Indentation: that of the first non-empty content line.
  size_t indent = std::string_view::npos;
  for (size_t p = header_end + 1; p < source.size();) {
    size_t e = std::min(source.find('\n', p), source.size());
    size_t first = source.find_first_not_of(' ', p);
    if (first < e && source[first] != '\r') {
      indent = first - p;
      break;
    }
    p = e + 1;
  }
  if (indent == std::string_view::npos) return scalar;
  const int line = scalar.line + 1 + static_cast<int>(k);
  const size_t start = LineStart(source, line);
  if (start == std::string_view::npos) return scalar;
  const size_t at = start + indent + in_line;
  if (offset < value.size() && (at >= source.size() || source[at] != value[offset])) return scalar;
  return SourceLocation{scalar.file, line, static_cast<int>(indent + in_line) + 1};
}

}  // namespace

SourceLocation LocateInScalar(std::string_view source, const SourceLocation& scalar,
                              std::string_view value, size_t offset) {
  if (source.empty() || !scalar.known() || scalar.column < 1) return scalar;
  offset = std::min(offset, value.size());
  const size_t line_start = LineStart(source, scalar.line);
  if (line_start == std::string_view::npos) return scalar;
  const size_t line_end = std::min(source.find('\n', line_start), source.size());
  const size_t start = line_start + static_cast<size_t>(scalar.column) - 1;
  if (start >= line_end) return scalar;
  auto at = [&](size_t index) {
    return SourceLocation{scalar.file, scalar.line, static_cast<int>(index - line_start) + 1};
  };
  const char c = source[start];
  if (c == '"' || c == '\'') {
    size_t index = WalkQuoted(source, start + 1, line_end, c, offset);
    return index == std::string_view::npos ? scalar : at(index);
  }
  if (c == '|') return LocateInLiteralBlock(source, scalar, start, line_end, value, offset);
  if (c == '>') return scalar;
  // Plain: the value is the source text, on this line up to the offset.
  const size_t first_line = std::min(value.find('\n'), value.size());
  if (offset > first_line) return scalar;
  if (source.substr(start, first_line) != value.substr(0, first_line)) return scalar;
  return at(start + offset);
}

}  // namespace cairn::validate
