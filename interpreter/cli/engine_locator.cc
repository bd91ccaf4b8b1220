#include "cli/engine_locator.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>

namespace cairn::cli {

namespace fs = std::filesystem;

std::vector<std::string> EngineCandidates(const std::string& self_dir) {
  const fs::path dir(self_dir);
  return {(dir / kEngineName).string(),
          (dir.parent_path() / "libexec" / "cairn" / kEngineName).string()};
}

int ExecEngine(char** argv, std::ostream& err) {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) {
    err << "cairn: cannot start " << kEngineName
        << " (the executable that runs this command): the path of cairn itself is unknown "
           "(/proc/self/exe: "
        << ec.message() << ")\n";
    return 127;
  }
  std::cout.flush();
  std::vector<std::pair<std::string, int>> failures;
  for (const std::string& candidate : EngineCandidates(self.parent_path().string())) {
    execv(candidate.c_str(), argv);
    failures.emplace_back(candidate, errno);  // execv returns only on failure
  }
  bool any_exists = false;
  for (const auto& [path, error] : failures) {
    any_exists = any_exists || (error != ENOENT && error != ENOTDIR);
  }
  err << "cairn: cannot start " << kEngineName
      << ", the executable that runs this command (validate and graph run without it); "
         "tried:\n";
  for (const auto& [path, error] : failures) err << "  " << path << ": " << std::strerror(error) << "\n";
  err << "It is built with cairn (the cairn target builds both) and installed beside it or in "
         "../libexec/cairn/.\n";
  return any_exists ? 126 : 127;
}

}  // namespace cairn::cli
