// Where a byte of a YAML scalar's value stands in the YAML source, so that a
// diagnostic about an expression points at the expression itself.
#pragma once

#include <cstddef>
#include <string_view>

#include "core/source_location.h"

namespace cairn::validate {

// `scalar` is where the scalar starts (Document::ValueLocation), `value` its
// value and `offset` a byte offset into that value. Returns the line and
// column of that byte in `source` for plain, single-quoted and double-quoted
// scalars on one line and for literal block scalars (`|`); for anything else
// (folded or multi-line flow scalars, escapes that change lengths, a source
// that does not match the value) returns `scalar` unchanged.
SourceLocation LocateInScalar(std::string_view source, const SourceLocation& scalar,
                              std::string_view value, size_t offset);

}  // namespace cairn::validate
