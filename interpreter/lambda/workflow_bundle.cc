#include "lambda/workflow_bundle.h"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>

#include "compile/compile.h"
#include "validate/validate.h"

namespace cairn::lambda {
namespace fs = std::filesystem;
namespace {

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) return std::nullopt;
  return text;
}

}  // namespace

WorkflowBundle::WorkflowBundle(WorkflowBundleOptions options) : options_(std::move(options)) {}

Result<std::map<std::string, std::string>> ListWorkflowFiles(const std::string& dir) {
  std::map<std::string, std::string> files;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return MakeError("bundle", "the workflow folder " + dir + " does not exist");
  }
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path& p = it->path();
    if (p.extension() != ".yaml" && p.extension() != ".yml") continue;
    if (!it->is_regular_file(ec)) continue;
    files.emplace(p.stem().string(), p.string());
  }
  if (ec) return MakeError("bundle", "cannot list " + dir + ": " + ec.message());
  if (files.empty()) {
    return MakeError("bundle", "the workflow folder " + dir + " holds no *.yaml file");
  }
  return files;
}

Status WorkflowBundle::Init() {
  auto files = ListWorkflowFiles(options_.dir);
  if (!files.ok()) return files.error();
  files_ = std::move(*files);
  if (!options_.build.empty()) {
    manifest_ = BundleManifest::Read(options_.dir, options_.build, &manifest_note_);
  }
  return {};
}

std::vector<std::string> WorkflowBundle::FileNames() const {
  std::vector<std::string> names;
  for (const auto& [name, file] : files_) names.push_back(name);
  return names;
}

Result<std::shared_ptr<engine::Engine>> WorkflowBundle::Load(const std::string& file) {
  std::optional<std::string> text;
  if (manifest_.size() > 0) text = ReadFile(file);
  ValidationResult r;
  if (text) {
    ValidateOptions validate_options;
    validate_options.skip_schema_check =
        manifest_.Vouches(fs::path(file).filename().string(), *text);
    r = ValidateText(*text, file, validate_options);
  } else {
    r = ValidateFile(file);  // also says why a file cannot be read (CRN000)
  }
  if (!r.ok()) {
    std::string message = file + " does not validate:";
    int shown = 0;
    for (const auto& d : r.diagnostics) {
      if (!d.is_error()) continue;
      if (++shown > 20) {
        message += "\n  …";
        break;
      }
      message += "\n  " + d.location.ToString() + ": " + d.code + " " + d.message;
    }
    return MakeError(kInvalidWorkflow, message);
  }
  auto params = engine::ResolveParams(r.definition, options_.lookup_env);
  if (!params.ok()) return MakeError(kWorkflowParams, file + ": " + params.error().ToString());
  auto definition = std::make_shared<const WorkflowDefinition>(std::move(r.definition));
  auto expressions = std::make_shared<const expr::ExpressionTable>(std::move(r.expressions));
  auto graph = CompileWorkflow(definition, expressions);
  if (!graph.ok()) return MakeError(kInvalidWorkflow, file + ": " + graph.error().ToString());
  engine::EngineOptions options = options_.engine_options;
  options.params = std::move(*params);
  return std::make_shared<engine::Engine>(*graph, options_.actions, std::move(options));
}

Result<std::shared_ptr<engine::Engine>> WorkflowBundle::Find(const std::string& name) {
  std::lock_guard lock(mu_);
  if (auto it = engines_.find(name); it != engines_.end()) return it->second;
  auto keep = [&](const std::string& file, std::shared_ptr<engine::Engine> e) {
    compiled_files_[file] = true;
    engines_.emplace(e->graph().definition().name, e);
  };
  if (auto f = files_.find(name); f != files_.end()) {
    auto e = Load(f->second);
    if (!e.ok()) return e.error();
    keep(f->second, *e);
    engines_[name] = *e;
    return *e;
  }
  // Slow path: a `name:` that differs from its file name.
  for (const auto& [stem, file] : files_) {
    if (compiled_files_.count(file)) continue;
    auto e = Load(file);
    if (!e.ok()) continue;  // reported when asked for by its file name
    keep(file, *e);
    if ((*e)->graph().definition().name == name) return *e;
  }
  std::string known;
  for (const auto& [stem, file] : files_) known += (known.empty() ? "" : ", ") + stem;
  return MakeError(kUnknownWorkflow, "no workflow '" + name + "' in " + options_.dir +
                                         " (there are: " + known + ")");
}

}  // namespace cairn::lambda
