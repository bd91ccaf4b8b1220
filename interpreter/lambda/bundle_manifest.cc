#include "lambda/bundle_manifest.h"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "aws/hash.h"
#include "lambda/workflow_bundle.h"
#include "validate/validate.h"
#include "validate/workflow_schema.h"

namespace cairn::lambda {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

bool ReadWhole(const std::string& path, std::string* text) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  text->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return !in.bad();
}

}  // namespace

std::string ValidatorId(std::string_view build) {
  return std::string(build) + "; schema sha256:" + std::string(WorkflowSchemaDigest());
}

BundleManifest BundleManifest::Read(const std::string& dir, std::string_view build,
                                    std::string* note) {
  BundleManifest manifest;
  const std::string path = (fs::path(dir) / kManifestFileName).string();
  auto unused = [&](const std::string& why) {
    if (note) *note = path + " not used: " + why;
    return BundleManifest();
  };
  std::error_code ec;
  if (!fs::exists(path, ec)) return manifest;
  std::string text;
  if (!ReadWhole(path, &text)) return unused("unreadable");
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return unused("not a JSON object");
  auto validator = doc.find("validator");
  auto files = doc.find("files");
  if (validator == doc.end() || !validator->is_string() || files == doc.end() ||
      !files->is_object()) {
    return unused("expected {\"validator\": ..., \"files\": {...}}");
  }
  if (*validator != ValidatorId(build)) {
    return unused("written by " + validator->get<std::string>() + ", this is " +
                  ValidatorId(build));
  }
  for (const auto& [name, digest] : files->items()) {
    if (!digest.is_string()) return unused("the digest of " + name + " is not a string");
    manifest.digests_.emplace(name, digest.get<std::string>());
  }
  return manifest;
}

bool BundleManifest::Vouches(const std::string& file_name, std::string_view text) const {
  auto it = digests_.find(file_name);
  return it != digests_.end() && it->second == aws::Sha256Hex(text);
}

Result<ManifestReport> WriteBundleManifest(const std::string& dir, std::string_view build) {
  auto files = ListWorkflowFiles(dir);
  if (!files.ok()) return files.error();
  ManifestReport report;
  json listed = json::object();
  for (const auto& [stem, path] : *files) {
    const std::string name = fs::path(path).filename().string();
    std::string text;
    if (!ReadWhole(path, &text)) {
      report.invalid.push_back(name);
      continue;
    }
    // Validated from the very bytes that are hashed.
    if (!ValidateText(text, path).ok()) {
      report.invalid.push_back(name);
      continue;
    }
    listed[name] = aws::Sha256Hex(text);
    report.listed.push_back(name);
  }
  const json manifest = {{"validator", ValidatorId(build)}, {"files", std::move(listed)}};
  const std::string path = (fs::path(dir) / kManifestFileName).string();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << manifest.dump(2) << '\n';
  out.close();
  if (!out) return MakeError("bundle", "cannot write " + path);
  return report;
}

}  // namespace cairn::lambda
