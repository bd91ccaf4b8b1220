#include <cstdint>

#include "core/strings.h"
#include "validate/checks.h"

namespace cairn::validate {

void CheckContext::Report(const char* code, Severity severity, std::string_view pointer,
                          std::string message, std::string hint, bool at_key) const {
  const Document& doc = def.document;
  // A mapping or list is pointed at by its key (the line that names it),
  // not by its first entry.
  if (!at_key && !pointer.empty()) {
    try {
      nlohmann::json::json_pointer p{std::string(pointer)};
      const auto& root = doc.root();
      at_key = root.contains(p) && root.at(p).is_structured();
    } catch (const nlohmann::json::exception&) {
      // Not a pointer into this document: locate it as a value.
    }
  }
  SourceLocation where = at_key ? doc.KeyLocation(pointer) : doc.ValueLocation(pointer);
  out->push_back(Diagnostic{code, severity, std::move(where), std::string(pointer),
                            std::move(message), std::move(hint)});
}

void CheckContext::ReportAt(const char* code, Severity severity, SourceLocation where,
                            std::string_view pointer, std::string message, std::string hint) const {
  out->push_back(Diagnostic{code, severity, std::move(where), std::string(pointer),
                            std::move(message), std::move(hint)});
}

namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 when it is not one
// (overlong forms, surrogates and code points past U+10FFFF are invalid).
size_t Utf8Length(std::string_view s, size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  const size_t len = c < 0x80           ? 1
                     : (c >> 5) == 0x6  ? 2
                     : (c >> 4) == 0xE  ? 3
                     : (c >> 3) == 0x1E ? 4
                                        : 0;
  if (len <= 1 || i + len > s.size()) return i + len <= s.size() ? len : 0;
  uint32_t cp = c & (0x7F >> len);
  for (size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3F);
  }
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  const bool ok = cp >= kMin[len] && cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF);
  return ok ? len : 0;
}

}  // namespace

bool IsValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t len = Utf8Length(s, i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

std::string ValidUtf8(std::string_view s) {
  if (IsValidUtf8(s)) return std::string(s);
  std::string out;
  for (size_t i = 0; i < s.size();) {
    const size_t len = Utf8Length(s, i);
    if (len == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD
      ++i;
    } else {
      out.append(s, i, len);
      i += len;
    }
  }
  return out;
}

std::string JsonText(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string StepLabel(const Step& step) {
  if (!step.name.empty()) return "step " + Quote(step.name);
  return "the step at " + step.path;
}

std::string Quote(std::string_view text) { return "`" + std::string(text) + "`"; }

std::string JoinOr(const std::vector<std::string>& items, bool quote) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += i + 1 == items.size() ? " or " : ", ";
    out += quote ? Quote(items[i]) : items[i];
  }
  return out;
}

std::string JoinAnd(const std::vector<std::string>& items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += i + 1 == items.size() ? " and " : ", ";
    out += Quote(items[i]);
  }
  return out;
}

std::string DidYouMean(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best = ClosestMatch(word, candidates);
  if (best.empty() || best == word) return {};
  return "did you mean " + Quote(best) + "?";
}

}  // namespace cairn::validate
