// The only file of cairn that calls libjq (jq_* and jv_*).
#include "expr/expression_set.h"

extern "C" {
#include <jq.h>
}

#include <algorithm>
#include <cassert>
#include <cfloat>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <mutex>
#include <optional>
#include <string_view>
#include <utility>

#include "core/environment_lock.h"
#include "expr/jq_lexer.h"
#include "expr/native_expression.h"
#include "expr/sandbox.h"

#if defined(__SANITIZE_ADDRESS__)
#define CAIRN_EXPR_HAS_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CAIRN_EXPR_HAS_LSAN 1
#endif
#endif
#ifdef CAIRN_EXPR_HAS_LSAN
#include <sanitizer/lsan_interface.h>
#endif

namespace cairn::expr {
namespace {

using nlohmann::json;

constexpr std::string_view kReservedPrefix = "__cairn_";
constexpr std::string_view kTopLevelMarker = " at <top-level>, line ";
// HOME while jq compiles (see JqCompile): a directory that cannot hold `.jq`.
constexpr char kNoJqHome[] = "/dev/null";

// ---- jv <-> json ----------------------------------------------------------

jv InvalidJv(const std::string& message) { return jv_invalid_with_msg(jv_string(message.c_str())); }

// A new jv for `value`, or an invalid jv with a message. Recursion is bounded
// by kMaxValueDepth.
jv ToJv(const json& value, int depth) {
  switch (value.type()) {
    case json::value_t::null:
      return jv_null();
    case json::value_t::boolean:
      return jv_bool(value.get<bool>());
    case json::value_t::number_integer:
      return jv_number(static_cast<double>(value.get<int64_t>()));
    case json::value_t::number_unsigned:
      return jv_number(static_cast<double>(value.get<uint64_t>()));
    case json::value_t::number_float:
      return jv_number(value.get<double>());
    case json::value_t::string: {
      const std::string& s = value.get_ref<const std::string&>();
      if (s.size() > static_cast<size_t>(INT_MAX)) return InvalidJv("a string is too long for jq");
      return jv_string_sized(s.data(), static_cast<int>(s.size()));
    }
    case json::value_t::array: {
      if (depth >= kMaxValueDepth) {
        return InvalidJv("value nested deeper than " + std::to_string(kMaxValueDepth) + " levels");
      }
      jv out = jv_array_sized(static_cast<int>(std::min<size_t>(value.size(), INT_MAX)));
      for (const json& item : value) {
        jv v = ToJv(item, depth + 1);
        if (!jv_is_valid(v)) {
          jv_free(out);
          return v;
        }
        out = jv_array_append(out, v);
      }
      return out;
    }
    case json::value_t::object: {
      if (depth >= kMaxValueDepth) {
        return InvalidJv("value nested deeper than " + std::to_string(kMaxValueDepth) + " levels");
      }
      jv out = jv_object();
      for (const auto& [key, item] : value.items()) {
        jv v = ToJv(item, depth + 1);
        if (!jv_is_valid(v)) {
          jv_free(out);
          return v;
        }
        if (key.size() > static_cast<size_t>(INT_MAX)) {
          jv_free(v);
          jv_free(out);
          return InvalidJv("a key is too long for jq");
        }
        out = jv_object_set(out, jv_string_sized(key.data(), static_cast<int>(key.size())), v);
      }
      return out;
    }
    case json::value_t::binary:
    case json::value_t::discarded:
      break;
  }
  return InvalidJv("binary values cannot be used in expressions");
}

std::string JvStringToStd(jv s) {
  return std::string(jv_string_value(s), static_cast<size_t>(jv_string_length_bytes(jv_copy(s))));
}

// Converts `value` (borrowed, not freed).
Result<json> FromJv(jv value, int depth) {
  switch (jv_get_kind(value)) {
    case JV_KIND_NULL:
      return json(nullptr);
    case JV_KIND_TRUE:
      return json(true);
    case JV_KIND_FALSE:
      return json(false);
    case JV_KIND_NUMBER:
      return NumberFromJq(jv_number_value(value));
    case JV_KIND_STRING:
      return json(JvStringToStd(value));
    case JV_KIND_ARRAY:
    case JV_KIND_OBJECT:
      break;
    case JV_KIND_INVALID:
      return MakeError(kExpressionErrorCode, "jq returned an invalid value");
  }
  if (depth >= kMaxValueDepth) {
    return MakeError(kExpressionErrorCode,
                     "result nested deeper than " + std::to_string(kMaxValueDepth) + " levels");
  }
  if (jv_get_kind(value) == JV_KIND_ARRAY) {
    json out = json::array();
    const int n = jv_array_length(jv_copy(value));
    for (int i = 0; i < n; ++i) {
      jv item = jv_array_get(jv_copy(value), i);
      Result<json> converted = FromJv(item, depth + 1);
      jv_free(item);
      if (!converted.ok()) return converted;
      out.push_back(std::move(converted).value());
    }
    return out;
  }
  json out = json::object();
  for (int it = jv_object_iter(value); jv_object_iter_valid(value, it);
       it = jv_object_iter_next(value, it)) {
    jv key = jv_object_iter_key(value, it);
    jv item = jv_object_iter_value(value, it);
    Result<json> converted = FromJv(item, depth + 1);
    std::string k = JvStringToStd(key);
    jv_free(key);
    jv_free(item);
    if (!converted.ok()) return converted;
    out[std::move(k)] = std::move(converted).value();
  }
  return out;
}

std::string CompactJson(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

// The text of a message jq hands to a callback (consumed).
std::string TakeMessage(jv message) {
  std::string text;
  if (jv_get_kind(message) == JV_KIND_STRING) {
    text = JvStringToStd(message);
  } else {
    jv dumped = jv_dump_string(jv_copy(message), 0);
    text = JvStringToStd(dumped);
    jv_free(dumped);
  }
  jv_free(message);
  return text;
}

void CollectMessage(void* data, jv message) {
  static_cast<std::vector<std::string>*>(data)->push_back(TakeMessage(message));
}

void IgnoreMessage(void*, jv message) { jv_free(message); }

// jq_compile. jq 1.6 leaks a little on some invalid programs (a syntax error
// inside `"\(...)"`, a constant array as an object key, a broken ~/.jq);
// under LeakSanitizer, what jq_compile allocates is not checked for leaks,
// so every module's sanitizer tests can compile bad expressions.
//
// jq 1.6 also prepends `import "" {search: $HOME, optional: true}` to every
// program (linker.c, load_program: it reads getenv("HOME") on each compile),
// so $HOME/.jq would be read and its definitions would shadow the builtins:
// whoever can write that file could change what every expression computes.
// No jq attribute turns the import off (an empty JQ_LIBRARY_PATH does not:
// the import names its own search path); HOME is its only input. So HOME
// reads /dev/null while jq compiles: "/dev/null/.jq" can never be opened
// (ENOTDIR). The value is replaced in place (setenv of a variable that
// exists never moves other entries, so concurrent getenv calls of other
// variables are unaffected) and restored afterwards; compiles of all sets
// are serialized on EnvironmentMutex (core/environment_lock.h), which readers
// of the environment hold too, so nobody sees the stand-in value.
// When HOME is not set, jq 1.6 imports nothing.
bool JqCompile(jq_state* jq, const std::string& program) {
  std::lock_guard<std::mutex> home_lock(EnvironmentMutex());
  const char* home = std::getenv("HOME");
  const std::optional<std::string> saved_home =
      home ? std::optional<std::string>(home) : std::nullopt;
  if (saved_home) ::setenv("HOME", kNoJqHome, 1);
#ifdef CAIRN_EXPR_HAS_LSAN
  __lsan_disable();
#endif
  const bool ok = jq_compile(jq, program.c_str()) != 0;
#ifdef CAIRN_EXPR_HAS_LSAN
  __lsan_enable();
#endif
  if (saved_home) ::setenv("HOME", saved_home->c_str(), 1);
  return ok;
}

// ---- per-expression checks ------------------------------------------------

struct Problem {
  std::string message;
  std::optional<size_t> offset;
};

// Checks that `source` can sit alone in `def __cairn_eN: <source>;` without
// ending it early: lexes, brackets balanced, every `;` at the top level ends
// a `def` of the expression, no reserved names.
std::optional<Problem> PrecheckExpression(std::string_view source) {
  if (size_t nul = source.find('\0'); nul != std::string_view::npos) {
    return Problem{"the expression contains a NUL byte", nul};
  }
  const LexResult lexed = LexJq(source);
  if (lexed.error) return Problem{lexed.error->message, lexed.error->offset};
  if (lexed.tokens.empty()) return Problem{"the expression is empty", 0};
  int depth = 0;
  std::vector<size_t> open_defs;  // offsets of top-level `def`s not yet ended by `;`
  for (const Token& t : lexed.tokens) {
    switch (t.kind) {
      case TokenKind::kPunct:
        if (t.text == "(" || t.text == "[" || t.text == "{") ++depth;
        if (t.text == ")" || t.text == "]" || t.text == "}") --depth;
        if (t.text == ";" && depth == 0) {
          if (open_defs.empty()) return Problem{"syntax error, unexpected `;`", t.offset};
          open_defs.pop_back();
        }
        break;
      case TokenKind::kStringStart:
        ++depth;
        break;
      case TokenKind::kStringEnd:
        --depth;
        break;
      case TokenKind::kIdentifier:
      case TokenKind::kVariable:
        if (t.text.substr(0, kReservedPrefix.size()) == kReservedPrefix) {
          return Problem{
              "names starting with `" + std::string(kReservedPrefix) + "` are reserved for cairn",
              t.offset};
        }
        if (depth == 0 && t.Is(TokenKind::kIdentifier, "def")) open_defs.push_back(t.offset);
        break;
      default:
        break;
    }
  }
  if (!open_defs.empty()) {
    return Problem{"a `def` must end with `;` and be followed by an expression", open_defs.back()};
  }
  return std::nullopt;
}

// ---- the combined program -------------------------------------------------

// Where one expression sits in a combined program.
struct Slot {
  int index = 0;
  int first_line = 0;  // 1-based line of the expression's first byte
  int last_line = 0;   // the line of the `;` that ends its def
};

struct Program {
  std::string text;
  std::vector<Slot> slots;          // in order of lines
  std::vector<size_t> line_starts;  // byte offset of each line of text
};

std::string DefName(int index) {
  return std::string(kReservedPrefix) + "e" + std::to_string(index);
}

int CountLines(std::string_view s) {
  return static_cast<int>(std::count(s.begin(), s.end(), '\n'));
}

// Leaves per jq function: jq 1.6 rejects a function whose bytecode exceeds
// 64 KiB, and a leaf of the dispatch tree takes a few dozen bytes.
constexpr size_t kLeavesPerFunction = 256;

// Appends the dispatch over members[lo, hi): a balanced tree of `if`s whose
// leaves define and call one expression each. Keeping each `def` local to
// its leaf matters: jq binds a `def` by walking everything after it in its
// scope, so top-level defs would make parsing quadratic in their number.
// Subtrees of at most kLeavesPerFunction leaves under a larger tree become
// functions of their own.
void AppendDispatch(const std::vector<std::string>& sources, const std::vector<int>& members,
                    size_t lo, size_t hi, bool in_large_tree, Program& p, int& line) {
  if (hi - lo == 1) {
    const int index = members[lo];
    const std::string& source = sources[static_cast<size_t>(index)];
    p.text += "def " + DefName(index) + ":\n";
    ++line;
    Slot slot{index, line, 0};
    p.text += source;
    p.text += "\n;\n" + DefName(index);
    line += CountLines(source) + 1;
    slot.last_line = line;
    ++line;
    p.slots.push_back(slot);
    return;
  }
  const bool large = hi - lo > kLeavesPerFunction;
  const std::string group = std::string(kReservedPrefix) + "g" + std::to_string(members[lo]);
  if (in_large_tree && !large) p.text += "def " + group + ": ";
  const size_t mid = lo + (hi - lo) / 2;
  p.text += "if $__cairn_i < " + std::to_string(members[mid]) + " then ";
  AppendDispatch(sources, members, lo, mid, large, p, line);
  p.text += " else ";
  AppendDispatch(sources, members, mid, hi, large, p, line);
  p.text += " end";
  if (in_large_tree && !large) p.text += "; " + group;
}

Program BuildProgram(const std::vector<std::string>& sources, const std::vector<int>& members) {
  Program p;
  p.text = ForbiddenBuiltinsPrelude();
  if (members.empty()) {
    p.text += "null";
  } else {
    p.text += ".[0] as $__cairn_i | .[2] as $ctx | .[1] | ";
    int line = 1 + CountLines(p.text);
    AppendDispatch(sources, members, 0, members.size(), false, p, line);
  }
  p.line_starts.push_back(0);
  for (size_t i = 0; i < p.text.size(); ++i) {
    if (p.text[i] == '\n') p.line_starts.push_back(i + 1);
  }
  return p;
}

// One error reported by jq_compile, placed in an expression when possible.
struct LocatedError {
  std::string message;  // without "jq: error: " and the position
  std::optional<int> index;
  std::optional<size_t> offset;
};

std::string StripSuffix(std::string s, std::string_view suffix) {
  if (std::string_view(s).ends_with(suffix)) s.resize(s.size() - suffix.size());
  return s;
}

// The line number after `marker_end` if the text there is "<digits>:\n".
std::optional<int> LineAfterMarker(std::string_view text, size_t marker_end) {
  const size_t colon = text.find(":\n", marker_end);
  if (colon == std::string_view::npos || colon == marker_end || colon - marker_end > 9) {
    return std::nullopt;
  }
  int line = 0;
  for (size_t i = marker_end; i < colon; ++i) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
    line = line * 10 + (text[i] - '0');
  }
  return line;
}

// Splits one of jq's compile messages, "jq: error: <message> at <top-level>,
// line N:\n<line text><one space per column>", and places it in an expression.
LocatedError LocateError(const std::string& raw, const Program& program,
                         const std::vector<std::string>& sources) {
  std::string_view text = raw;
  if (text.starts_with("jq: error: ")) text.remove_prefix(11);
  // The message may quote user text; jq's own position is the last marker
  // followed by "N:\n" (the quoted line after it holds no newline).
  size_t at = text.size();
  std::optional<int> line;
  while (!line && at > 0 && (at = text.rfind(kTopLevelMarker, at - 1)) != std::string_view::npos) {
    line = LineAfterMarker(text, at + kTopLevelMarker.size());
  }
  LocatedError e;
  if (!line) {
    e.message = StripSuffix(std::string(text), "\n<unknown location>");
    return e;
  }
  e.message = StripSuffix(std::string(text.substr(0, at)), " (Unix shell quoting issues?)");
  // jq 1.6 binds `break $x` to a hidden variable `$*label-x`.
  constexpr std::string_view kLabel = "$*label-";
  constexpr std::string_view kNotDefined = " is not defined";
  if (e.message.starts_with(kLabel) && e.message.ends_with(kNotDefined)) {
    const std::string name =
        e.message.substr(kLabel.size(), e.message.size() - kLabel.size() - kNotDefined.size());
    e.message = "`break $" + name + "` has no matching `label $" + name + "`";
  }
  auto slot = std::upper_bound(program.slots.begin(), program.slots.end(), *line,
                               [](int l, const Slot& s) { return l < s.first_line; });
  if (slot == program.slots.begin() || *line > std::prev(slot)->last_line) return e;
  --slot;
  e.index = slot->index;
  const std::string& source = sources[static_cast<size_t>(slot->index)];
  if (*line == slot->last_line) {
    // The `;` that ends the def: the expression stopped early.
    e.offset = source.size();
    constexpr std::string_view kSemicolon = "unexpected ';'";
    if (size_t k = e.message.find(kSemicolon); k != std::string::npos) {
      e.message.replace(k, kSemicolon.size(), "unexpected end of expression");
    }
    return e;
  }
  // The column is the number of spaces jq printed after the line's text.
  const size_t line_start = program.line_starts[static_cast<size_t>(*line - 1)];
  const size_t line_end = program.text.find('\n', line_start);
  const std::string_view line_text =
      std::string_view(program.text)
          .substr(line_start,
                  line_end == std::string::npos ? std::string::npos : line_end - line_start);
  const std::string_view printed = text.substr(text.find(":\n", at) + 2);
  if (!printed.starts_with(line_text)) return e;
  const size_t column = printed.size() - line_text.size();
  const size_t source_start = program.line_starts[static_cast<size_t>(slot->first_line - 1)];
  e.offset = std::min(line_start - source_start + column, source.size());
  return e;
}

// "jq: 2 compile errors": a count, not an error.
bool IsSummary(std::string_view message) {
  return message.starts_with("jq: ") && !message.starts_with("jq: error") &&
         message.find(" compile error") != std::string_view::npos;
}

// Errors found after parsing (names not bound) are independent of each
// other; syntax errors after the first may be consequences of it.
bool IsBindingError(const std::string& message) {
  return message.find(" is not defined") != std::string::npos ||
         message.find("break used outside labeled control structure") != std::string::npos;
}

// The start of `source` on one line, for error contexts.
std::string Quote(std::string_view source) {
  size_t n = std::min<size_t>(source.size(), 60);
  while (n < source.size() && n > 0 && (static_cast<unsigned char>(source[n]) & 0xC0) == 0x80) --n;
  std::string s(source.substr(0, n));
  std::replace(s.begin(), s.end(), '\n', ' ');
  return "`" + s + (n < source.size() ? "...`" : "`");
}

}  // namespace

// ---- ExpressionSet --------------------------------------------------------

class ExpressionSet::Impl {
 public:
  explicit Impl(Options options) : options_(options) {}
  ~Impl() {
    if (jq_ != nullptr) jq_teardown(&jq_);
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  int Add(std::string source) {
    assert(!compiled_);
    natives_.push_back(options_.native ? NativeExpression::Parse(source) : std::nullopt);
    if (!natives_.back()) ++jq_sources_;
    sources_.push_back(std::move(source));
    return static_cast<int>(sources_.size() - 1);
  }

  bool needs_jq() const { return jq_sources_ > 0; }

  std::optional<std::vector<std::string>> StepReads() const {
    std::vector<std::string> names;
    for (const auto& native : natives_) {
      if (!native) return std::nullopt;  // jq: not analysed
      std::optional<std::vector<std::string>> reads = native->StepReads();
      if (!reads) return std::nullopt;
      names.insert(names.end(), std::make_move_iterator(reads->begin()),
                   std::make_move_iterator(reads->end()));
    }
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    return names;
  }

  std::vector<CompileIssue> Compile();
  // `ctx`: the value of $ctx; null means `context` itself.
  Result<json> Evaluate(int index, const json& context, const json* ctx) const;
  Result<json> Render(const TemplateProgram& program, const json& context, const json* ctx) const;

  const std::vector<std::string>& sources() const { return sources_; }
  int compile_count() const { return compile_count_; }

 private:
  struct Attempt {
    bool ok = false;
    std::vector<std::string> messages;  // jq's error messages, summaries dropped
    Program program;
  };

  // Creates the jq_state on first use: a set whose expressions are all
  // native never needs one.
  void EnsureJq();
  Attempt TryCompile(const std::vector<int>& members);
  // The faulty expressions that jq's messages point at (may be empty).
  std::vector<CompileIssue> Attribute(const Attempt& attempt) const;
  // Finds at least one faulty expression among `members`, whose combined
  // compile failed with `failure`, by compiling parts of it.
  std::vector<CompileIssue> Bisect(std::vector<int> members, Attempt failure);

  // Runs native expression `index`. `in_template`: errors about the input
  // are not quoted with the expression, as for the jq path in Render.
  Result<json> EvaluateNative(int index, const json& context, const json* ctx,
                              bool in_template) const;
  // Runs expression `index` on `context` (consumed). REQUIRES: mu_ held.
  Result<json> EvaluateWithLock(int index, jv context, jv ctx) const;
  // The result of a run whose first output is `out` (borrowed).
  Result<json> ResultOf(int index, jv out) const;
  Error ErrorFor(int index, std::string message) const;

  const Options options_;
  std::vector<std::string> sources_;
  std::vector<std::optional<std::string>> issues_;  // per expression, after Compile
  // Per expression, after Compile: set when it runs natively (immutable, so
  // read without mu_).
  std::vector<std::optional<NativeExpression>> natives_;  // parsed by Add
  int jq_sources_ = 0;  // sources not in the native subset
  bool compiled_ = false;
  int compile_count_ = 0;

  mutable std::mutex mu_;
  // A jq_state runs one program at a time and its jv values are refcounted
  // without atomics: every use after Compile holds mu_. Null until a
  // non-native expression is compiled.
  jq_state* jq_ = nullptr;
  std::vector<std::string> messages_;  // filled by jq's error callback
};

void ExpressionSet::Impl::EnsureJq() {
  if (jq_ != nullptr) return;
  jq_ = jq_init();
  assert(jq_ != nullptr);
  jq_set_error_cb(jq_, CollectMessage, &messages_);
  jq_set_debug_cb(jq_, IgnoreMessage, nullptr);
  // Without a library path, jq 1.6 asserts in module lookup.
  jq_set_attr(jq_, jv_string("JQ_LIBRARY_PATH"), jv_array());
}

ExpressionSet::Impl::Attempt ExpressionSet::Impl::TryCompile(const std::vector<int>& members) {
  EnsureJq();
  Attempt attempt;
  attempt.program = BuildProgram(sources_, members);
  messages_.clear();
  ++compile_count_;
  attempt.ok = JqCompile(jq_, attempt.program.text);
  for (std::string& m : messages_) {
    if (!IsSummary(m)) attempt.messages.push_back(std::move(m));
  }
  messages_.clear();
  return attempt;
}

std::vector<CompileIssue> ExpressionSet::Impl::Attribute(const Attempt& attempt) const {
  std::vector<CompileIssue> found;
  const bool all_binding = std::all_of(attempt.messages.begin(), attempt.messages.end(),
                                       [](const std::string& m) { return IsBindingError(m); });
  for (const std::string& raw : attempt.messages) {
    LocatedError e = LocateError(raw, attempt.program, sources_);
    if (!e.index) {
      if (!all_binding) break;
      continue;
    }
    const bool seen = std::any_of(found.begin(), found.end(),
                                  [&](const CompileIssue& i) { return i.index == *e.index; });
    if (!seen) found.push_back({*e.index, std::move(e.message), e.offset});
    if (!all_binding) break;
  }
  return found;
}

std::vector<CompileIssue> ExpressionSet::Impl::Bisect(std::vector<int> members, Attempt failure) {
  auto message = [this](const Attempt& a) {
    return a.messages.empty() ? std::string("jq could not compile it")
                              : LocateError(a.messages.front(), a.program, sources_).message;
  };
  auto all = [&](const std::string& text) {
    std::vector<CompileIssue> issues;
    issues.reserve(members.size());
    for (int index : members) issues.push_back({index, text, {}});
    return issues;
  };
  if (Attempt empty = TryCompile({}); !empty.ok) {
    // Not the expressions' fault (e.g. a broken $HOME/.jq): all fail alike.
    return all("jq cannot compile: " + message(empty));
  }
  while (members.size() > 1) {
    const auto mid = members.begin() + static_cast<std::ptrdiff_t>(members.size() / 2);
    std::vector<int> halves[2] = {{members.begin(), mid}, {mid, members.end()}};
    bool narrowed = false;
    for (std::vector<int>& half : halves) {
      Attempt a = TryCompile(half);
      if (a.ok) continue;
      std::vector<CompileIssue> found = Attribute(a);
      if (!found.empty()) return found;
      members = std::move(half);
      failure = std::move(a);
      narrowed = true;
      break;
    }
    if (!narrowed) return all("cannot be compiled together with the others: " + message(failure));
  }
  return all(message(failure));
}

std::vector<CompileIssue> ExpressionSet::Impl::Compile() {
  std::lock_guard<std::mutex> lock(mu_);
  assert(!compiled_);
  compiled_ = true;
  issues_.assign(sources_.size(), std::nullopt);
  std::vector<CompileIssue> issues;
  std::vector<int> members;
  for (size_t i = 0; i < sources_.size(); ++i) {
    if (natives_[i]) continue;
    if (std::optional<Problem> p = PrecheckExpression(sources_[i])) {
      issues.push_back({static_cast<int>(i), std::move(p->message), p->offset});
    } else {
      members.push_back(static_cast<int>(i));
    }
  }
  while (!members.empty()) {
    Attempt attempt = TryCompile(members);
    if (attempt.ok) break;
    std::vector<CompileIssue> found = Attribute(attempt);
    if (found.empty()) found = Bisect(members, std::move(attempt));
    for (CompileIssue& issue : found) {
      members.erase(std::remove(members.begin(), members.end(), issue.index), members.end());
      issues.push_back(std::move(issue));
    }
  }
  std::sort(issues.begin(), issues.end(),
            [](const CompileIssue& a, const CompileIssue& b) { return a.index < b.index; });
  for (const CompileIssue& issue : issues) {
    issues_[static_cast<size_t>(issue.index)] = issue.message;
  }
  return issues;
}

Error ExpressionSet::Impl::ErrorFor(int index, std::string message) const {
  return MakeError(kExpressionErrorCode, std::move(message),
                   "evaluating " + Quote(sources_[static_cast<size_t>(index)]));
}

Result<json> ExpressionSet::Impl::ResultOf(int index, jv out) const {
  if (jv_is_valid(out)) {
    Result<json> value = FromJv(out, 0);
    if (!value.ok()) return ErrorFor(index, value.error().message);
    return value;
  }
  if (jv_invalid_has_msg(jv_copy(out))) {
    return ErrorFor(index, TakeMessage(jv_invalid_get_msg(jv_copy(out))));
  }
  return ErrorFor(index, "the expression produced no output");
}

Result<json> ExpressionSet::Impl::EvaluateWithLock(int index, jv context, jv ctx) const {
  jq_start(jq_, JV_ARRAY(jv_number(index), context, ctx), 0);
  jv out = jq_next(jq_);
  Result<json> result = ResultOf(index, out);
  jv_free(out);
  // Let go of the context and of the rest of the run.
  jq_start(jq_, jv_null(), 0);
  return result;
}

// $ctx as jq reads it: `ctx` converted, or else a reference to `context`.
// On failure `context` is freed and the error returned.
Result<jv> CtxJv(jv context, const json* ctx) {
  if (ctx == nullptr) return jv_copy(context);
  jv out = ToJv(*ctx, 0);
  if (!jv_is_valid(out)) {
    jv_free(context);
    return MakeError(kExpressionErrorCode, "$ctx: " + TakeMessage(jv_invalid_get_msg(out)));
  }
  return out;
}

Result<json> ExpressionSet::Impl::Evaluate(int index, const json& context, const json* ctx) const {
  assert(compiled_);
  assert(index >= 0 && static_cast<size_t>(index) < sources_.size());
  if (const auto& issue = issues_[static_cast<size_t>(index)]) {
    return ErrorFor(index, "the expression did not compile: " + *issue);
  }
  if (natives_[static_cast<size_t>(index)]) return EvaluateNative(index, context, ctx, false);
  jv input = ToJv(context, 0);
  if (!jv_is_valid(input)) {
    return ErrorFor(index, "context: " + TakeMessage(jv_invalid_get_msg(input)));
  }
  Result<jv> ctx_jv = CtxJv(input, ctx);
  if (!ctx_jv.ok()) return ErrorFor(index, ctx_jv.error().message);
  std::lock_guard<std::mutex> lock(mu_);
  return EvaluateWithLock(index, input, *ctx_jv);
}

Result<json> ExpressionSet::Impl::Render(const TemplateProgram& program, const json& context,
                                         const json* ctx) const {
  assert(compiled_);
  const Template& tmpl = program.source;
  assert(program.indices.size() == tmpl.parts.size());
  if (tmpl.is_single_expression()) {
    for (size_t i = 0; i < tmpl.parts.size(); ++i) {
      if (tmpl.parts[i].is_expression()) return Evaluate(program.indices[i], context, ctx);
    }
  }
  for (size_t i = 0; i < tmpl.parts.size(); ++i) {
    const int index = program.indices[i];
    if (index < 0) continue;
    if (const auto& issue = issues_[static_cast<size_t>(index)]) {
      return ErrorFor(index, "the expression did not compile: " + *issue);
    }
  }
  std::string text;
  // The jq form of the inputs, converted at the first part that needs jq.
  bool converted = false;
  jv input = jv_null();
  jv ctx_input = jv_null();
  auto release = [&] {
    jv_free(input);
    jv_free(ctx_input);
  };
  for (size_t i = 0; i < tmpl.parts.size(); ++i) {
    if (!tmpl.parts[i].is_expression()) {
      text += tmpl.parts[i].text;
      continue;
    }
    const int index = program.indices[i];
    Result<json> value = json();
    if (natives_[static_cast<size_t>(index)]) {
      value = EvaluateNative(index, context, ctx, true);
    } else {
      if (!converted) {
        converted = true;
        input = ToJv(context, 0);
        if (!jv_is_valid(input)) {
          return MakeError(kExpressionErrorCode,
                           "context: " + TakeMessage(jv_invalid_get_msg(input)));
        }
        Result<jv> ctx_jv = CtxJv(input, ctx);
        if (!ctx_jv.ok()) {
          input = jv_null();
          return ctx_jv.error();
        }
        ctx_input = *ctx_jv;
      }
      std::lock_guard<std::mutex> lock(mu_);
      value = EvaluateWithLock(index, jv_copy(input), jv_copy(ctx_input));
    }
    if (!value.ok()) {
      release();
      return value;
    }
    text += value->is_string() ? value->get_ref<const std::string&>() : CompactJson(*value);
  }
  release();
  return json(std::move(text));
}

Result<json> ExpressionSet::Impl::EvaluateNative(int index, const json& context, const json* ctx,
                                                 bool in_template) const {
  NativeExpression::Outcome outcome = natives_[static_cast<size_t>(index)]->Evaluate(context, ctx);
  if (outcome.value) return std::move(*outcome.value);
  if (in_template && outcome.error.about_input) {
    return MakeError(kExpressionErrorCode, std::move(outcome.error.message));
  }
  return ErrorFor(index, std::move(outcome.error.message));
}

ExpressionSet::ExpressionSet() : ExpressionSet(Options{}) {}
ExpressionSet::ExpressionSet(Options options) : impl_(std::make_unique<Impl>(options)) {}
ExpressionSet::~ExpressionSet() = default;
ExpressionSet::ExpressionSet(ExpressionSet&&) noexcept = default;
ExpressionSet& ExpressionSet::operator=(ExpressionSet&&) noexcept = default;

int ExpressionSet::Add(std::string jq_source) { return impl_->Add(std::move(jq_source)); }

TemplateProgram ExpressionSet::AddTemplate(Template tmpl) {
  TemplateProgram program;
  for (const TemplatePart& part : tmpl.parts) {
    program.indices.push_back(part.is_expression() ? impl_->Add(part.text) : -1);
  }
  program.source = std::move(tmpl);
  return program;
}

std::vector<CompileIssue> ExpressionSet::Compile() { return impl_->Compile(); }

Result<json> ExpressionSet::Evaluate(int index, const json& context) const {
  return impl_->Evaluate(index, context, nullptr);
}

Result<json> ExpressionSet::Evaluate(int index, const json& dot, const json& ctx) const {
  return impl_->Evaluate(index, dot, &ctx);
}

Result<json> ExpressionSet::Render(const TemplateProgram& program, const json& context) const {
  return impl_->Render(program, context, nullptr);
}

Result<json> ExpressionSet::Render(const TemplateProgram& program, const json& dot,
                                   const json& ctx) const {
  return impl_->Render(program, dot, &ctx);
}

int ExpressionSet::size() const { return static_cast<int>(impl_->sources().size()); }

const std::string& ExpressionSet::source(int index) const {
  assert(index >= 0 && static_cast<size_t>(index) < impl_->sources().size());
  return impl_->sources()[static_cast<size_t>(index)];
}

bool ExpressionSet::NeedsJq() const { return impl_->needs_jq(); }

std::optional<std::vector<std::string>> ExpressionSet::StepReads() const {
  return impl_->StepReads();
}

int ExpressionSet::jq_compile_count() const { return impl_->compile_count(); }

JqParsedNumber ParseNumberLikeJq(std::string_view text) {
  // f_tonumber hands jv_parse the string's bytes as a C string.
  const std::string c_text(text.substr(0, text.find('\0')));
  jv parsed = jv_parse(c_text.c_str());
  JqParsedNumber out;
  if (jv_is_valid(parsed)) {
    if (jv_get_kind(parsed) == JV_KIND_NUMBER) out.number = jv_number_value(parsed);
    jv_free(parsed);
    return out;
  }
  // jv_parse gives every failure a message ("Expected JSON value" for none).
  out.error = jv_invalid_has_msg(jv_copy(parsed)) ? TakeMessage(jv_invalid_get_msg(parsed))
                                                  : (jv_free(parsed), "Expected JSON value");
  return out;
}

}  // namespace cairn::expr
