// Static references from an expression into its context, for validation
// ("reference to a step that has not run", "`.item` outside a `map`").
//
// A reference is a path that starts with `.` and names its first keys
// statically: `.steps.NAME`, `.steps["NAME"]`, `.steps."NAME"` (an optional
// `?` may follow each key). "Starts" means the `.` is not applied to a
// previous term, so `.foo.steps.x`, `$v.steps.x` and `f.steps.x` are not
// references, while `(.steps.x)`, `[.steps.x]`, `1 + .steps.x`,
// `"\(.steps.x)"` and `if .steps.x then ...` are.
//
// This is lexing, not analysis; documented limits:
//  * It does not know what `.` is at that point: after `|`, inside `map(...)`,
//    `select(...)`, `reduce` or a `def`, `.` may not be the context, so such
//    paths are reported too (over-approximation).
//  * Dynamic access is not seen: `.steps[$name]`, `.steps | .x`,
//    `getpath(["steps","x"])`, `. as $c | $c.steps.x`, `..` (under-
//    approximation). A bare `.` passed on (e.g. `tojson`) reads everything.
//  * A source that does not lex is scanned up to the problem.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace cairn::expr {

struct StepReference {
  std::string name;   // the step name, decoded (`.steps."a\u0062"` gives "ab")
  size_t offset = 0;  // byte offset in the jq source of the name as written (for the
                      // quoted forms, of its opening quote)
};

// Every static `.steps.NAME` reference, in source order (repeats included).
std::vector<StepReference> FindStepReferences(std::string_view jq_source);

// The distinct top-level context fields read statically (`.input`,
// `."item"`, `.["error"]`, ...), in order of first use.
std::vector<std::string> FindRootFields(std::string_view jq_source);

}  // namespace cairn::expr
