// Where the CLI keeps its local state, and the small files beside the store:
//
//   <store>                 the SQLite store (backend/local/sqlite_store.h)
//   <dir>/workflows.json    {"<workflow name>": "<absolute path>"}: the
//                           workflows `cairn run` has started, so that
//                           `cairn serve` can resume their executions
//   <store>.server          {"port": N, "pid": P}: the server (cairn run or
//                           cairn serve) that holds the store right now;
//                           removed when it exits
#pragma once

#include <map>
#include <optional>
#include <string>

#include "core/result.h"

namespace cairn::cli {

// The store path: `flag` if not empty, else $CAIRN_STORE, else
// $XDG_STATE_HOME/cairn/cairn.db, else ~/.local/state/cairn/cairn.db.
// Creates the parent folder (mode 0700) when missing. Returns an absolute
// path. Errors: "io" when the folder cannot be created.
Result<std::string> ResolveStorePath(const std::string& flag);

// <dir of store>/workflows.json.
std::string RegistryPath(const std::string& store_path);
// The registered workflows (empty when the file is missing or unreadable).
std::map<std::string, std::string> ReadRegistry(const std::string& store_path);
// Records name → absolute path of `file` (atomically: write + rename).
Status RegisterWorkflow(const std::string& store_path, const std::string& name,
                        const std::string& file);

struct ServerInfo {
  int port = 0;
  int pid = 0;
};

// <store>.server.
std::string ServerFilePath(const std::string& store_path);
// The server file, if it exists and its process is alive.
std::optional<ServerInfo> ReadServerFile(const std::string& store_path);
Status WriteServerFile(const std::string& store_path, const ServerInfo& info);
void RemoveServerFile(const std::string& store_path);

// The absolute form of `path` (relative to the working directory).
std::string AbsolutePath(const std::string& path);

}  // namespace cairn::cli
