// BundleManifest: which workflows of a Lambda bundle passed validation when
// the package was built, so that `cairn lambda` can skip the JSON-schema
// pass for them at run time. That pass builds valijson's tree of the
// embedded ~50 KB schema, ~4 ms of a cold start's CPU; every other check,
// the compile and the `params` resolution still run.
//
// The file, DIR/cairn-manifest.json, is written by `cairn lambda
// --write-manifest` (scripts/package-lambda does it with the binary it
// ships):
//   {"validator": "cairn 0.1.0; schema sha256:<hex>",
//    "files": {"local-callback.yaml": "<SHA-256 of the file's bytes, hex>", ...}}
// Only files whose whole validation reported no error are listed.
//
// A file is vouched for only when the manifest was written by this build
// (same version and same embedded schema) and the file's bytes have the
// recorded digest: an edited, added or renamed file, a manifest of another
// build, a missing or malformed manifest all mean full validation, so a
// workflow that does not validate still fails with the validator's
// diagnostics. The manifest is no security boundary: it ships beside the
// workflows, and whoever can change one can change the other.
//
// Thread-safety: a BundleManifest is immutable after Read; Vouches is
// thread-safe.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace cairn::lambda {

inline constexpr const char* kManifestFileName = "cairn-manifest.json";

// Who validated: `build` (e.g. "cairn 0.1.0") and the embedded schema's digest.
std::string ValidatorId(std::string_view build);

class BundleManifest {
 public:
  BundleManifest() = default;

  // Reads DIR/cairn-manifest.json. Never fails: a manifest that is absent,
  // unreadable, malformed or written by another validator than
  // ValidatorId(build) gives an empty one, and `*note` (if not null) says
  // why when the file exists but is not used.
  static BundleManifest Read(const std::string& dir, std::string_view build,
                             std::string* note = nullptr);

  // True when the manifest lists `file_name` (a name inside DIR, no
  // folder) with the SHA-256 of `text`.
  bool Vouches(const std::string& file_name, std::string_view text) const;

  size_t size() const { return digests_.size(); }

 private:
  std::map<std::string, std::string> digests_;  // file name → SHA-256 hex
};

// What WriteBundleManifest did.
struct ManifestReport {
  std::vector<std::string> listed;   // files that validated (names inside DIR)
  std::vector<std::string> invalid;  // files with errors: not listed
};

// Validates every *.yaml / *.yml file of `dir` (ValidateFile, every check)
// and writes DIR/cairn-manifest.json listing those without errors, for
// ValidatorId(build). Errors ("bundle"): the folder cannot be listed or
// holds no workflow, the manifest cannot be written.
Result<ManifestReport> WriteBundleManifest(const std::string& dir, std::string_view build);

}  // namespace cairn::lambda
