#include "cli/environment.h"

#include <cstdlib>
#include <mutex>

#include "core/environment_lock.h"

namespace cairn::cli {

std::optional<std::string> GetEnv(const std::string& name) {
  std::lock_guard<std::mutex> lock(EnvironmentMutex());
  const char* v = std::getenv(name.c_str());
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

const char* RawGetEnv(const char* name) { return std::getenv(name); }

void SetEnv(const std::string& name, const std::string& value) {
  std::lock_guard<std::mutex> lock(EnvironmentMutex());
  ::setenv(name.c_str(), value.c_str(), 1);
}

}  // namespace cairn::cli
