#include "cli/local_state.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/environment.h"

namespace cairn::cli {
namespace fs = std::filesystem;

namespace {

std::string Dir(const std::string& path) {
  return fs::path(path).parent_path().string();
}

Status MakeDirs(const std::string& dir) {
  if (dir.empty()) return {};
  std::error_code ec;
  if (fs::is_directory(dir, ec)) return {};
  std::string parent = Dir(dir);
  if (!parent.empty() && parent != dir) {
    Status s = MakeDirs(parent);
    if (!s.ok()) return s;
  }
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return MakeError("io", "cannot create folder " + dir + ": " + std::strerror(errno));
  }
  return {};
}

Status WriteAtomically(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) return MakeError("io", "cannot write " + tmp);
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return MakeError("io", "cannot write " + path + ": " + ec.message());
  return {};
}

std::optional<nlohmann::json> ReadJson(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream buf;
  buf << in.rdbuf();
  auto j = nlohmann::json::parse(buf.str(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

}  // namespace

std::string AbsolutePath(const std::string& path) {
  std::error_code ec;
  fs::path p = fs::absolute(path, ec);
  return ec ? path : p.lexically_normal().string();
}

Result<std::string> ResolveStorePath(const std::string& flag) {
  std::string path;
  if (!flag.empty()) {
    path = flag;
  } else if (auto v = GetEnv("CAIRN_STORE"); v && !v->empty()) {
    path = *v;
  } else if (auto x = GetEnv("XDG_STATE_HOME"); x && !x->empty()) {
    path = *x + "/cairn/cairn.db";
  } else if (auto h = GetEnv("HOME"); h && !h->empty()) {
    path = *h + "/.local/state/cairn/cairn.db";
  } else {
    return MakeError("io", "no store path: set --store, CAIRN_STORE or HOME");
  }
  path = AbsolutePath(path);
  Status s = MakeDirs(Dir(path));
  if (!s.ok()) return s.error();
  return path;
}

std::string RegistryPath(const std::string& store_path) {
  return (fs::path(store_path).parent_path() / "workflows.json").string();
}

std::map<std::string, std::string> ReadRegistry(const std::string& store_path) {
  std::map<std::string, std::string> out;
  auto j = ReadJson(RegistryPath(store_path));
  if (!j) return out;
  for (auto it = j->begin(); it != j->end(); ++it) {
    if (it.value().is_string()) out[it.key()] = it.value().get<std::string>();
  }
  return out;
}

Status RegisterWorkflow(const std::string& store_path, const std::string& name,
                        const std::string& file) {
  auto j = ReadJson(RegistryPath(store_path)).value_or(nlohmann::json::object());
  j[name] = AbsolutePath(file);
  return WriteAtomically(RegistryPath(store_path), j.dump(2) + "\n");
}

std::string ServerFilePath(const std::string& store_path) { return store_path + ".server"; }

std::optional<ServerInfo> ReadServerFile(const std::string& store_path) {
  auto j = ReadJson(ServerFilePath(store_path));
  if (!j || !(*j)["port"].is_number_integer() || !(*j)["pid"].is_number_integer()) {
    return std::nullopt;
  }
  ServerInfo info{(*j)["port"].get<int>(), (*j)["pid"].get<int>()};
  if (info.pid <= 0 || (::kill(info.pid, 0) != 0 && errno == ESRCH)) return std::nullopt;
  return info;
}

Status WriteServerFile(const std::string& store_path, const ServerInfo& info) {
  nlohmann::json j = {{"port", info.port}, {"pid", info.pid}};
  return WriteAtomically(ServerFilePath(store_path), j.dump() + "\n");
}

void RemoveServerFile(const std::string& store_path) {
  std::error_code ec;
  fs::remove(ServerFilePath(store_path), ec);
}

}  // namespace cairn::cli
