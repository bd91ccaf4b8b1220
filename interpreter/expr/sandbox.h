// The expression sandbox: what a cairn expression may not use, and why.
//
// Expressions must not read the environment or files, and must give the same
// result when an execution is replayed. CheckSandbox finds the uses of jq 1.6
// builtins and variables that break this, so that validation can reject them
// with a clear message. It lexes jq (string literals and comments are
// skipped, so `"env"` or `# now` are fine; `.env` and the object key in
// `{env: 1}` or `{env}` are fields, not calls, and are fine too).
//
// Names starting with `__cairn_` are reserved for cairn's combined program
// and are rejected as well. The forbidden names are reserved too: a user's
// own `def now: 1; now` is flagged like the builtin.
//
// This is the first line of defense; ExpressionSet also shadows every
// forbidden builtin at compile time (see ForbiddenBuiltinsPrelude), so an
// expression that skipped validation still cannot leak anything (`$__loc__`
// cannot be shadowed; it only reveals a line of cairn's combined program).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace cairn::expr {

struct SandboxViolation {
  std::string name;     // as written without `$`: "env", "ENV" (for $ENV), "import", "__cairn_x"
  size_t offset = 0;    // byte offset in the jq source of the offending token
  std::string message;  // why it is rejected and what to do instead
};

// Every use of a forbidden name in `jq_source`, in source order. A source
// that does not lex (e.g. an unterminated string) is checked up to the
// problem; compiling it reports the rest.
std::vector<SandboxViolation> CheckSandbox(std::string_view jq_source);

// jq definitions that shadow every forbidden builtin with one that fails
// with the same message CheckSandbox gives, followed by `{} as $ENV |`.
// Prepended to a program, it must be followed by an expression.
const std::string& ForbiddenBuiltinsPrelude();

}  // namespace cairn::expr
