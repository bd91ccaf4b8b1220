#include "definition/document.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unordered_set>

namespace cairn {

std::string PointerEscape(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

std::string PointerAppend(std::string_view pointer, std::string_view token) {
  std::string out(pointer);
  out += '/';
  out += PointerEscape(token);
  return out;
}

std::string PointerAppend(std::string_view pointer, size_t index) {
  return std::string(pointer) + "/" + std::to_string(index);
}

namespace {

SourceLocation Find(const std::unordered_map<std::string, std::pair<int, int>>& map,
                    const std::string& file, std::string_view pointer) {
  std::string p(pointer);
  while (true) {
    auto it = map.find(p);
    if (it != map.end()) return SourceLocation{file, it->second.first, it->second.second};
    if (p.empty()) return SourceLocation{file, 0, 0};
    p.resize(p.rfind('/'));
  }
}

// YAML 1.2 core schema resolution of a plain scalar.
nlohmann::json ResolvePlain(const std::string& s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  const char* c = s.c_str();
  char* end = nullptr;
  bool looks_int = (std::isdigit(static_cast<unsigned char>(c[0])) ||
                    ((c[0] == '-' || c[0] == '+') && std::isdigit(static_cast<unsigned char>(c[1]))));
  if (looks_int) {
    errno = 0;
    if (s.rfind("0x", 0) == 0 || s.rfind("0o", 0) == 0) {
      long long v = std::strtoll(c + 2, &end, s[1] == 'x' ? 16 : 8);
      if (*end == '\0' && errno == 0) return v;
    } else {
      long long v = std::strtoll(c, &end, 10);
      if (*end == '\0' && errno == 0) return v;
      if (*end == '\0' && c[0] != '-') {
        errno = 0;
        unsigned long long u = std::strtoull(c, &end, 10);
        if (*end == '\0' && errno == 0) return u;
      }
    }
  }
  // Floats: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?  (no inf/nan: JSON has none)
  bool float_chars = !s.empty() && s.find_first_not_of("0123456789.eE+-") == std::string::npos &&
                     s.find_first_of("0123456789") != std::string::npos;
  if (float_chars) {
    errno = 0;
    double d = std::strtod(c, &end);
    if (*end == '\0' && errno == 0 && std::isfinite(d)) return d;
  }
  return s;
}

}  // namespace

// A hint for a YAML syntax error. The common mistake: an unquoted `${ }`
// inside a flow collection (`{a: ${ .x }}`), whose braces YAML reads as its own.
static std::string SyntaxHint(std::string_view text, const YAML::Mark& mark) {
  auto line_text = [&](int line) -> std::string_view {
    size_t start = 0;
    for (int i = 0; i < line; ++i) {
      start = text.find('\n', start);
      if (start == std::string_view::npos) return {};
      ++start;
    }
    size_t end = text.find('\n', start);
    return text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
  };
  for (int line = mark.line; line >= 0 && line >= mark.line - 1; --line) {
    std::string_view l = line_text(line);
    size_t expr = l.find("${");
    if (expr != std::string_view::npos && l.find_first_of("[{") < expr) {
      return "inside [ ] or { }, quote the expression: \"${ ... }\" (or use block style, "
             "one key per line)";
    }
  }
  return "check indentation and quoting on this line or the one before it";
}

// 1-based line of the first line that is neither blank, a comment nor a
// document marker; 0 when there is none.
static int FirstContentLine(std::string_view text) {
  int line = 0;
  size_t start = 0;
  while (start <= text.size()) {
    ++line;
    size_t end = text.find('\n', start);
    std::string_view l = text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    size_t b = l.find_first_not_of(" \t\r");
    bool marker = l.substr(0, 3) == "---" || l.substr(0, 3) == "...";
    if (b != std::string_view::npos && l[b] != '#' && !marker) return line;
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return 0;
}

// 1-based line of a `---` that starts a second document (one after content),
// 0 when there is none.
static int SecondDocumentLine(std::string_view text) {
  int first = FirstContentLine(text);
  if (first == 0) return 0;
  int line = 0;
  size_t start = 0;
  while (start < text.size()) {
    ++line;
    size_t end = text.find('\n', start);
    std::string_view l = text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (line > first && l.substr(0, 3) == "---" &&
        (l.size() == 3 || l[3] == ' ' || l[3] == '\t' || l[3] == '\r')) {
      return line;
    }
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return 0;
}

SourceLocation Document::ValueLocation(std::string_view pointer) const {
  return Find(values_, file_, pointer);
}

const std::vector<std::string>& Document::KeyOrder(std::string_view pointer) const {
  static const std::vector<std::string> kNone;
  auto it = key_order_.find(std::string(pointer));
  return it == key_order_.end() ? kNone : it->second;
}

SourceLocation Document::KeyLocation(std::string_view pointer) const {
  auto it = keys_.find(std::string(pointer));
  if (it != keys_.end()) return SourceLocation{file_, it->second.first, it->second.second};
  return ValueLocation(pointer);
}

struct DocumentBuilder {
  Document* doc;
  Diagnostics* diags;
  size_t nodes = 0;
  bool too_big = false;

  void Report(const char* code, const YAML::Mark& mark, std::string path, std::string message,
              std::string hint = {}) {
    diags->push_back(Diagnostic{code, Severity::kError,
                                SourceLocation{doc->file_, mark.line + 1, mark.column + 1},
                                std::move(path), std::move(message), std::move(hint)});
  }

  nlohmann::json Convert(const YAML::Node& node, const std::string& path, int depth) {
    if (too_big) return nullptr;
    if (++nodes > kMaxDocumentNodes) {
      too_big = true;
      Report("CRN003", node.Mark(), path,
             "the document has more than " + std::to_string(kMaxDocumentNodes) +
                 " values (after expanding aliases)",
             "split the workflow or avoid repeated aliases");
      return nullptr;
    }
    if (depth > kMaxDocumentDepth) {
      too_big = true;
      Report("CRN003", node.Mark(), path,
             "the document is nested more than " + std::to_string(kMaxDocumentDepth) + " levels deep");
      return nullptr;
    }
    const YAML::Mark mark = node.Mark();
    if (mark.line >= 0) doc->values_.emplace(path, std::make_pair(mark.line + 1, mark.column + 1));
    switch (node.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        return nullptr;
      case YAML::NodeType::Scalar: {
        const std::string& tag = node.Tag();
        const std::string& text = node.Scalar();
        if (tag == "!" || tag == "tag:yaml.org,2002:str") return text;
        return ResolvePlain(text);
      }
      case YAML::NodeType::Sequence: {
        nlohmann::json arr = nlohmann::json::array();
        size_t i = 0;
        for (const auto& item : node) {
          arr.push_back(Convert(item, PointerAppend(path, i), depth + 1));
          ++i;
        }
        return arr;
      }
      case YAML::NodeType::Map: {
        nlohmann::json obj = nlohmann::json::object();
        for (const auto& kv : node) {
          const YAML::Node& key = kv.first;
          if (!key.IsScalar()) {
            Report("CRN004", key.Mark(), path, "a mapping key must be a plain string",
                   "write keys as words, e.g. `name:`");
            continue;
          }
          const std::string& k = key.Scalar();
          std::string child = PointerAppend(path, k);
          if (obj.contains(k)) {
            auto first = doc->keys_[child];
            Report("CRN002", key.Mark(), child,
                   "duplicate key '" + k + "' (first written at line " +
                       std::to_string(first.first) + ")",
                   "remove one of them; YAML keeps only one value per key");
            continue;
          }
          if (key.Mark().line >= 0) {
            doc->keys_[child] = {key.Mark().line + 1, key.Mark().column + 1};
          }
          doc->key_order_[path].push_back(k);
          obj[k] = Convert(kv.second, child, depth + 1);
        }
        return obj;
      }
    }
    return nullptr;
  }
};

Document LoadDocument(std::string_view text, std::string file, Diagnostics* diagnostics) {
  Document doc;
  doc.file_ = std::move(file);
  auto report_file = [&](std::string message, std::string hint = {}) {
    diagnostics->push_back(Diagnostic{"CRN003", Severity::kError, SourceLocation{doc.file_, 0, 0},
                                      "", std::move(message), std::move(hint)});
  };
  if (text.size() > kMaxDocumentBytes) {
    report_file("the file is larger than " + std::to_string(kMaxDocumentBytes / 1024 / 1024) +
                " MiB");
    return doc;
  }
  DocumentBuilder builder{&doc, diagnostics};
  try {
    // YAML::Load, not LoadAll: yaml-cpp 0.7's LoadAll loops forever, growing
    // memory, after some syntax errors (a lone `,`; upstream issue 1040).
    YAML::Node root = YAML::Load(std::string(text));
    if (int second = SecondDocumentLine(text); second > 0) {
      YAML::Mark mark;
      mark.line = second - 1;
      mark.column = 0;
      builder.Report("CRN001", mark, "",
                     "the file holds more than one YAML document (a second '---')",
                     "put each workflow in its own file");
    }
    if (root.IsNull()) {
      if (int line = FirstContentLine(text); line > 0) {
        YAML::Mark mark;
        mark.line = line - 1;
        mark.column = 0;
        builder.Report("CRN001", mark, "", "YAML syntax error: no document could be read",
                       SyntaxHint(text, mark));
      } else {
        report_file("the file is empty", "start with `cairn: 1`, a `name:` and `steps:`");
      }
      return doc;
    }
    doc.root_ = builder.Convert(root, "", 0);
  } catch (const YAML::ParserException& e) {
    builder.Report("CRN001", e.mark, "", "YAML syntax error: " + e.msg, SyntaxHint(text, e.mark));
  } catch (const YAML::Exception& e) {
    builder.Report("CRN001", e.mark, "", std::string("YAML error: ") + e.msg);
  } catch (const std::exception& e) {  // e.g. yaml-cpp's DeepRecursion, std::bad_alloc
    report_file(std::string("the file could not be read as YAML: ") + e.what());
  }
  return doc;
}

Result<Document> LoadDocumentFile(const std::string& path, Diagnostics* diagnostics) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return MakeError("io", "cannot open '" + path + "': " + std::strerror(errno));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return MakeError("io", "cannot read '" + path + "'");
  return LoadDocument(buffer.str(), path, diagnostics);
}

}  // namespace cairn
