#include "expr/sandbox.h"

#include <array>

#include "expr/jq_lexer.h"

namespace cairn::expr {
namespace {

constexpr std::string_view kReservedPrefix = "__cairn_";

struct ForbiddenName {
  std::string_view name;
  // Arities to shadow at compile time (-1: none). The keywords import and
  // include have none: inside the combined program they are syntax errors.
  std::array<int, 2> arities;
  std::string_view message;
};

constexpr std::array<ForbiddenName, 19> kForbiddenNames = {{
    {"env",
     {0, -1},
     "`env` reads the process environment; pass values in through the workflow's `params` or "
     "`input` instead"},
    {"input",
     {0, -1},
     "`input` reads jq's input stream, which expressions do not have; read the context instead "
     "(e.g. `.input`)"},
    {"inputs",
     {0, -1},
     "`inputs` reads jq's input stream, which expressions do not have; read the context instead "
     "(e.g. `.input`)"},
    {"_input",
     {0, -1},
     "`_input` reads jq's input stream, which expressions do not have; read the context instead "
     "(e.g. `.input`)"},
    {"input_line_number",
     {0, -1},
     "`input_line_number` reads jq's input stream, which expressions do not have; remove it"},
    {"input_filename", {0, -1}, "`input_filename` reveals file names of the host; remove it"},
    {"debug",
     {0, 1},
     "`debug` writes to the interpreter's stderr; remove it (to inspect a value, store it with a "
     "`set:` step)"},
    {"stderr",
     {0, -1},
     "`stderr` writes to the interpreter's stderr; remove it (to inspect a value, store it with a "
     "`set:` step)"},
    {"halt",
     {0, -1},
     "`halt` would stop the interpreter; use a `fail:` step or `error(...)` instead"},
    {"halt_error",
     {0, 1},
     "`halt_error` would stop the interpreter; use a `fail:` step or `error(...)` instead"},
    {"import",
     {-1, -1},
     "`import` loads jq modules from files; define helper functions inline with `def` instead"},
    {"include",
     {-1, -1},
     "`include` loads jq modules from files; define helper functions inline with `def` instead"},
    {"modulemeta", {0, -1}, "`modulemeta` reads jq modules from files; remove it"},
    {"get_search_list", {0, -1}, "`get_search_list` reveals paths of the host; remove it"},
    {"get_prog_origin", {0, -1}, "`get_prog_origin` reveals paths of the host; remove it"},
    {"get_jq_origin", {0, -1}, "`get_jq_origin` reveals paths of the host; remove it"},
    {"localtime",
     {0, -1},
     "`localtime` depends on the host's time zone; use `gmtime` (UTC) instead"},
    {"strflocaltime",
     {1, -1},
     "`strflocaltime` depends on the host's time zone; use `strftime` (UTC) instead"},
    {"now",
     {0, -1},
     "`now` is not deterministic: a replayed execution would see another time; use "
     "`.execution.startedAt` (the execution's start time) instead"},
}};

struct ForbiddenVariable {
  std::string_view name;  // without `$`
  std::string_view message;
};

constexpr std::array<ForbiddenVariable, 3> kForbiddenVariables = {{
    {"ENV",
     "`$ENV` is the process environment; pass values in through the workflow's `params` or "
     "`input` instead"},
    {"__loc__",
     "`$__loc__` gives a position in cairn's combined jq program, not in your workflow; remove "
     "it"},
    {"__prog_args", "`$__prog_args` is internal to jq; remove it"},
}};

std::string ReservedMessage(std::string_view name) {
  return "`" + std::string(name) + "`: names starting with `" + std::string(kReservedPrefix) +
         "` are reserved for cairn; rename it";
}

// True when tokens[i] is an object key written as a bare name (`{env: 1}`,
// `{a: 1, env}`): a key, or a field shorthand, never a call.
bool IsObjectKey(const std::vector<Token>& tokens, size_t i, char innermost) {
  if (innermost != '{' || i == 0 || i + 1 >= tokens.size()) return false;
  const Token& prev = tokens[i - 1];
  const Token& next = tokens[i + 1];
  return (prev.IsPunct("{") || prev.IsPunct(",")) &&
         (next.IsPunct(":") || next.IsPunct(",") || next.IsPunct("}"));
}

// Quotes a message as a jq string literal (messages hold no `"`, `\` or control bytes).
std::string JqStringLiteral(std::string_view text) { return "\"" + std::string(text) + "\""; }

std::string BuildPrelude() {
  std::string prelude;
  for (const ForbiddenName& f : kForbiddenNames) {
    for (int arity : f.arities) {
      if (arity < 0) continue;
      prelude += "def " + std::string(f.name) + (arity == 1 ? "(_)" : "") + ": error(" +
                 JqStringLiteral(f.message) + ");\n";
    }
  }
  prelude += "{} as $ENV |\n";
  return prelude;
}

}  // namespace

std::vector<SandboxViolation> CheckSandbox(std::string_view jq_source) {
  std::vector<SandboxViolation> violations;
  const LexResult lexed = LexJq(jq_source);
  const std::vector<Token>& tokens = lexed.tokens;
  std::vector<char> open;  // innermost bracket: ( [ { or i (interpolation)
  for (size_t i = 0; i < tokens.size(); ++i) {
    const Token& t = tokens[i];
    switch (t.kind) {
      case TokenKind::kPunct:
        if (t.text == "(" || t.text == "[" || t.text == "{") open.push_back(t.text[0]);
        if ((t.text == ")" || t.text == "]" || t.text == "}") && !open.empty()) open.pop_back();
        break;
      case TokenKind::kStringStart:
        open.push_back('i');
        break;
      case TokenKind::kStringEnd:
        if (!open.empty()) open.pop_back();
        break;
      case TokenKind::kIdentifier: {
        if (IsObjectKey(tokens, i, open.empty() ? '\0' : open.back())) break;
        if (t.text.substr(0, kReservedPrefix.size()) == kReservedPrefix) {
          violations.push_back({std::string(t.text), t.offset, ReservedMessage(t.text)});
          break;
        }
        for (const ForbiddenName& f : kForbiddenNames) {
          if (t.text == f.name) {
            violations.push_back({std::string(t.text), t.offset, std::string(f.message)});
          }
        }
        break;
      }
      case TokenKind::kVariable: {
        if (t.text.substr(0, kReservedPrefix.size()) == kReservedPrefix) {
          violations.push_back({std::string(t.text), t.offset, ReservedMessage(t.text)});
          break;
        }
        for (const ForbiddenVariable& v : kForbiddenVariables) {
          if (t.text == v.name) {
            violations.push_back({std::string(t.text), t.offset, std::string(v.message)});
          }
        }
        break;
      }
      default:
        break;
    }
  }
  return violations;
}

const std::string& ForbiddenBuiltinsPrelude() {
  static const std::string* const prelude = new std::string(BuildPrelude());
  return *prelude;
}

}  // namespace cairn::expr
