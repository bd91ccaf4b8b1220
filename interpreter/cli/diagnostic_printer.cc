#include "cli/diagnostic_printer.h"

#include <cctype>

namespace cairn {
namespace {

constexpr const char* kReset = "\033[0m";
constexpr const char* kBold = "\033[1m";
constexpr const char* kRed = "\033[1;31m";
constexpr const char* kYellow = "\033[1;33m";
constexpr const char* kBlue = "\033[1;34m";
constexpr const char* kCyan = "\033[1;36m";

// The 1-based line `line` of `text`, without its line break; empty when absent.
std::string_view LineOf(std::string_view text, int line) {
  size_t start = 0;
  for (int i = 1; i < line; ++i) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) return {};
    start = nl + 1;
  }
  size_t end = text.find('\n', start);
  std::string_view l = text.substr(start, end == std::string_view::npos ? text.size() - start : end - start);
  if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
  return l;
}

// Length of the token starting at `col` (1-based) to underline: a word, a
// quoted string or `${ ... }`, at least one character.
size_t TokenLength(std::string_view line, int col) {
  size_t i = static_cast<size_t>(col - 1);
  if (i >= line.size()) return 1;
  size_t j = i;
  if (line.compare(i, 2, "${") == 0) {
    size_t close = line.find('}', i);
    return close == std::string_view::npos ? line.size() - i : close - i + 1;
  }
  if (line[i] == '"' || line[i] == '\'') {
    size_t close = line.find(line[i], i + 1);
    return close == std::string_view::npos ? 1 : close - i + 1;
  }
  // A word: a name, a number, a duration, a dotted error name's part.
  while (j < line.size() && (std::isalnum(static_cast<unsigned char>(line[j])) ||
                             line[j] == '_' || line[j] == '-' || line[j] == '$' ||
                             static_cast<unsigned char>(line[j]) >= 0x80)) {
    ++j;
  }
  return j > i ? j - i : 1;
}

}  // namespace

std::string FormatDiagnostic(const Diagnostic& d, std::string_view source, const PrintOptions& o) {
  auto paint = [&](const char* color, std::string_view s) {
    return o.color ? std::string(color) + std::string(s) + kReset : std::string(s);
  };
  const char* sev_color = d.is_error() ? kRed : kYellow;
  std::string out = paint(kBold, d.location.ToString()) + ": " +
                    paint(sev_color, std::string(SeverityName(d.severity)) + "[" + d.code + "]") +
                    ": " + paint(kBold, d.message) + "\n";
  std::string_view line = d.location.known() ? LineOf(source, d.location.line) : std::string_view{};
  std::string gutter(std::to_string(d.location.line).size() + 1, ' ');
  if (!line.empty()) {
    out += paint(kBlue, " " + std::to_string(d.location.line) + " |") + " " + std::string(line) + "\n";
    int col = d.location.column > 0 ? d.location.column : 1;
    std::string pad;
    for (int i = 1; i < col && static_cast<size_t>(i - 1) < line.size(); ++i) {
      pad += line[i - 1] == '\t' ? '\t' : ' ';
    }
    out += paint(kBlue, gutter + " |") + " " + pad +
           paint(sev_color, std::string(TokenLength(line, col), '^')) + "\n";
  }
  if (!d.hint.empty()) out += paint(kBlue, gutter + " =") + " " + paint(kCyan, "help") + ": " + d.hint + "\n";
  return out;
}

nlohmann::json DiagnosticToJson(const Diagnostic& d) {
  return {{"code", d.code},
          {"severity", SeverityName(d.severity)},
          {"file", d.location.file},
          {"line", d.location.line},
          {"column", d.location.column},
          {"path", d.path},
          {"message", d.message},
          {"hint", d.hint}};
}

}  // namespace cairn
