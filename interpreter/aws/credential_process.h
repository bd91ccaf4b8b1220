// Running a profile's `credential_process` command.
//
// aws/ may depend only on core/, so it cannot use actions/'
// PosixProcessRunner; this file is the one place in aws/ that starts a
// process. The command line runs through `/bin/sh -c` (as the Go and Java
// SDKs do on POSIX), with cairn's environment, stdin from /dev/null, stderr
// inherited (so a helper can prompt, e.g. for MFA), and stdout captured.
//
// Callers that want another way (tests, an embedding that forbids spawning)
// pass their own CredentialProcessRunner to the credentials chain.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "core/result.h"

namespace cairn::aws {

// Runs `command` and returns its standard output. Fails when the command
// cannot start, exits non-zero, or outlives its time limit. Errors never
// contain the output (it holds secrets). Must be thread-safe.
using CredentialProcessRunner = std::function<Result<std::string>(const std::string& command)>;

// The production runner: `/bin/sh -c command`, killed (the whole process
// group) after `timeout`; output beyond 1 MiB fails. Error code
// "credentials".
Result<std::string> RunCredentialProcess(
    const std::string& command, std::chrono::milliseconds timeout = std::chrono::minutes(1));

}  // namespace cairn::aws
