// Document: a workflow file read into JSON, with the source position of every
// value and every mapping key, addressed by JSON pointer ("/steps/2/next").
//
// YAML is read with the YAML 1.2 core schema: only true/false are booleans
// (no "yes"/"no"/"on"), quoted scalars are always strings, and numbers are
// integers when written as integers. Aliases are expanded (bounded in total
// size). yaml-cpp exceptions never escape: every problem is a Diagnostic.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/diagnostic.h"
#include "core/result.h"

namespace cairn {

// Limits on untrusted input.
inline constexpr size_t kMaxDocumentBytes = 4 * 1024 * 1024;
inline constexpr int kMaxDocumentDepth = 128;
inline constexpr size_t kMaxDocumentNodes = 200'000;

class Document {
 public:
  const std::string& file() const { return file_; }
  const nlohmann::json& root() const { return root_; }

  // Position of the value at `pointer`; falls back to the nearest ancestor
  // that has one (so a missing property points at its parent object).
  SourceLocation ValueLocation(std::string_view pointer) const;
  // Position of the mapping key whose value is at `pointer` (for "unknown
  // key" messages); falls back to ValueLocation.
  SourceLocation KeyLocation(std::string_view pointer) const;
  // The keys of the mapping at `pointer` in the order they were written
  // (root() is a JSON object, whose keys are sorted); empty when `pointer`
  // is not a mapping.
  const std::vector<std::string>& KeyOrder(std::string_view pointer) const;

 private:
  friend struct DocumentBuilder;
  friend Document LoadDocument(std::string_view, std::string, Diagnostics*);
  std::string file_;
  nlohmann::json root_;
  std::unordered_map<std::string, std::pair<int, int>> values_;  // pointer -> (line, col)
  std::unordered_map<std::string, std::pair<int, int>> keys_;
  std::unordered_map<std::string, std::vector<std::string>> key_order_;
};

// Reads YAML text. Diagnostics: CRN001 (YAML syntax), CRN002 (duplicate
// key), CRN003 (too large or too deep), CRN004 (non-scalar key or value that
// JSON cannot hold). Returns a document even when diagnostics were found
// (holding what could be read), so later phases can report more problems.
Document LoadDocument(std::string_view text, std::string file, Diagnostics* diagnostics);

// Reads a file and calls LoadDocument. An unreadable file is an Error.
Result<Document> LoadDocumentFile(const std::string& path, Diagnostics* diagnostics);

// JSON pointer helpers (RFC 6901).
std::string PointerEscape(std::string_view token);
std::string PointerAppend(std::string_view pointer, std::string_view token);
std::string PointerAppend(std::string_view pointer, size_t index);

}  // namespace cairn
