// The process environment, as the CLI sees it: the one file of cli/ that
// reads (getenv) or changes (setenv) environment variables.
//
// Contract: SetEnv may only be called while cairn has a single thread (at
// start-up of a command), because PosixProcessRunner and libc read the
// environment concurrently later on.
#pragma once

#include <optional>
#include <string>

namespace cairn::cli {

// The variable's value, or nullopt when unset (an empty value is a value).
std::optional<std::string> GetEnv(const std::string& name);

// A getenv-compatible function pointer (for engine::ResolveParams).
const char* RawGetEnv(const char* name);

// Sets (overwriting) a variable of cairn's own environment.
// REQUIRES: no other thread is running.
void SetEnv(const std::string& name, const std::string& value);

}  // namespace cairn::cli
