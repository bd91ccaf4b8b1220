// How the `cairn` front end finds and starts `cairn-engine`, the executable
// that runs the execution commands (run, serve, callback, list, show,
// history, stop, lambda).
//
// Why two executables: the dynamic loader maps and relocates every shared
// library an executable links before main() runs. The execution commands
// need OpenSSL, SQLite, cpp-httplib and spdlog (libcurl and its ~25
// dependencies are loaded only by the first AWS call): 17-19 libraries,
// ~20 ms of CPU per start on the 2-core dev VM, whatever the command. validate and graph need libjq, yaml-cpp and libstdc++ only (~7 ms
// to start), and must answer in under 20 ms from a cold process. So `cairn`
// links only what validate/graph/--help/--version need and execs the engine,
// with the same argv, for every other command (bench/README.md,
// validate_bench).
//
// The engine is looked for next to the front end (a build tree, or a folder
// holding both), then in ../libexec/cairn/ (an install prefix: bin/cairn and
// libexec/cairn/cairn-engine), relative to the front end's own file
// (/proc/self/exe, symlinks resolved). Never on PATH: `cairn` must not run
// whatever executable of that name comes first on the user's PATH.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace cairn::cli {

// The engine's file name.
inline constexpr const char* kEngineName = "cairn-engine";

// The paths tried, in order, for a front end whose file is in `self_dir`:
// self_dir/cairn-engine, then <parent of self_dir>/libexec/cairn/cairn-engine.
std::vector<std::string> EngineCandidates(const std::string& self_dir);

// Replaces this process with the engine (execv of the first candidate that
// starts), passing argv unchanged: argv[0] stays what the user typed, and
// the engine's messages say "cairn" whatever argv[0] is. Returns only when
// no candidate could be started, after printing to `err` each path tried
// and why it failed; the result is then the exit status, as a shell's: 127
// when no candidate exists, 126 when one exists but cannot be executed.
// REQUIRES: argv is null-terminated; no other thread is running.
int ExecEngine(char** argv, std::ostream& err);

}  // namespace cairn::cli
