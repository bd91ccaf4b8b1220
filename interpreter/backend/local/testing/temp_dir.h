// A temporary directory for a test, removed (with its contents) when the
// object is destroyed. Created under $TMPDIR (or /tmp).
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

namespace cairn::backend::local::testing {

class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string templ = std::string(base && *base ? base : "/tmp") + "/cairn-test-XXXXXX";
    if (char* p = mkdtemp(templ.data())) path_ = p;
  }
  ~TempDir() {
    if (path_.empty()) return;
    std::error_code ec;
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::add, ec);
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace cairn::backend::local::testing
