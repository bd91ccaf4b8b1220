// Operation ids: the stable names of durable operations.
//
// An id is derived from where an operation sits, never from execution order:
// OperationId(parent operation id, name, visit number). Editing an unrelated
// part of a workflow therefore leaves every other id unchanged, and a replay
// finds each operation under the id it was checkpointed with.
//
// Format: a readable prefix (the name with every run of characters outside
// [A-Za-z0-9_-] replaced by one '_', cut to kOperationIdPrefixLength) and
// '-', then 16 lowercase hex digits of a 64-bit FNV-1a hash of (parent id,
// name, visit). The result is at most 57 characters of [A-Za-z0-9_-], within
// the protocol's 64. The hash depends only on the bytes given, so ids are the
// same on every platform and in every run. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace cairn {

inline constexpr size_t kMaxOperationIdLength = 64;     // PROTOCOL.md: Id ≤ 64
inline constexpr size_t kMaxOperationNameLength = 256;  // PROTOCOL.md: Name ≤ 256
inline constexpr size_t kMaxSubTypeLength = 32;         // PROTOCOL.md: SubType ≤ 32
inline constexpr size_t kOperationIdPrefixLength = 40;

// The id of the operation named `name` inside the operation `parent_id`
// (empty at the top level, which has no parent), on its `visit`-th run in
// that scope (0 the first time; a loop that runs a step again increments it).
// The children of a CONTEXT use the same rule with the child's key as the
// name (see ChildOperationId in step_graph.h).
std::string OperationId(std::string_view parent_id, std::string_view name, uint64_t visit);

// True when `id` is a legal protocol Id: 1..64 characters of [A-Za-z0-9_-].
bool IsValidOperationId(std::string_view id);

// 64-bit FNV-1a of `bytes` (offset basis 14695981039346656037, prime
// 1099511628211). Exposed for tests.
uint64_t Fnv1a64(std::string_view bytes);

}  // namespace cairn
