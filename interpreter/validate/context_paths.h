// Paths into the expression context that a jq expression reads, for the
// reference checks (CRN043–CRN046): `.steps.NAME`, `.params.NAME`, `.item`...
//
// Like expr::FindStepReferences it lexes (expr/jq_lexer.h) and reads paths
// that start with `.` and name their first keys statically (`.a.b`,
// `."a"`, `.["a"]`, each optionally followed by `?`). In addition it tracks
// whether `.` at the start of the path is certainly the context, so that the
// validator can reject a reference without false alarms:
//  * `.` stays the context inside (), [], {} and string interpolation, in
//    `if`/`then`/`else`, around operators, and in the arguments of calls that
//    run them on their own input (select, has, test, ...);
//  * it is no longer known after `|` (except the `|` that ends `... as $x`
//    or `label $x`, which keep `.`), in the arguments of the builtins that
//    run them on other values (map, sort_by, any, with_entries, walk, ...),
//    in `reduce`/`foreach` bodies, in `def` bodies and after `catch`.
// Paths where `.` is not known are still returned, with certain = false.
// Dynamic access (`.steps[$n]`, `getpath`) is not seen. A source that does
// not lex is scanned up to the problem.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cairn::validate {

struct ContextPath {
  std::string root;                // "steps"
  size_t root_offset = 0;          // byte offset of the path's first token (its `.`)
  std::optional<std::string> key;  // the second key, e.g. the step name; nullopt if not static
  size_t key_offset = 0;           // byte offset of the second key as written
  bool certain = false;            // `.` is certainly the expression's context here
};

// Every static context path in `jq_source`, in source order.
std::vector<ContextPath> FindContextPaths(std::string_view jq_source);

}  // namespace cairn::validate
