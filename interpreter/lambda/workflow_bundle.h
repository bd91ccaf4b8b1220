// WorkflowBundle: the workflows deployed with the function — a folder of
// YAML files (`--workflows DIR`, by default $LAMBDA_TASK_ROOT/workflows) —
// compiled lazily, once per container, and kept for warm invocations.
//
// Names: a workflow is found by its file name without .yaml/.yml
// (`ecs-callback` → DIR/ecs-callback.yaml), else by the `name:` inside a
// file (each file of the folder is compiled until one matches). Init only
// lists the folder and reads its manifest, so a cold start pays for the one
// workflow it runs.
//
// Validation: every check runs on every file, except the JSON-schema pass
// for a file the folder's manifest vouches for (bundle_manifest.h: the same
// bytes passed it in this build when the package was made).
//
// Errors of Find (Error.code):
//   kUnknownWorkflow  no file and no `name:` matches (the message lists the
//                     names there are)
//   kInvalidWorkflow  the file does not validate; the message carries every
//                     error diagnostic as file:line:col: CODE message
//   kWorkflowParams   a `params` environment variable is missing or malformed
// A workflow that failed is not cached as failed: the next invocation tries
// again (the folder of a deployed function never changes, so the result is
// the same, but nothing stale is kept either).
//
// Thread-safety: Init must finish before Find is called; Find is then
// thread-safe.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "actions/action.h"
#include "core/result.h"
#include "engine/engine.h"
#include "lambda/bundle_manifest.h"

namespace cairn::lambda {

inline constexpr const char* kUnknownWorkflow = "Cairn.UnknownWorkflow";
inline constexpr const char* kInvalidWorkflow = "Cairn.InvalidWorkflow";
inline constexpr const char* kWorkflowParams = "Cairn.WorkflowParams";

struct WorkflowBundleOptions {
  std::string dir;
  actions::ActionRunner* actions = nullptr;  // outlives the bundle
  // Copied into every engine (clock, on_event, should_stop); params are
  // resolved per workflow.
  engine::EngineOptions engine_options;
  // Reads `params` environment variables (getenv-like); required.
  std::function<const char*(const char*)> lookup_env;
  // This build, e.g. "cairn 0.1.0": the manifest is used only when written by
  // it (ValidatorId). Empty: no manifest is read.
  std::string build;
};

// The *.yaml / *.yml regular files of `dir`: file stem → path. Errors
// ("bundle"): `dir` does not exist, cannot be listed or holds no such file.
Result<std::map<std::string, std::string>> ListWorkflowFiles(const std::string& dir);

class WorkflowBundle {
 public:
  explicit WorkflowBundle(WorkflowBundleOptions options);

  // Lists the folder (ListWorkflowFiles, whose errors it returns) and reads
  // its manifest, if any.
  Status Init();

  // The engine of workflow `name`, compiled on first use.
  Result<std::shared_ptr<engine::Engine>> Find(const std::string& name);

  // Workflow names by file (sorted).
  std::vector<std::string> FileNames() const;

  // How many files the manifest lists (0 without a usable one), and why an
  // existing manifest is not used (empty otherwise). Set by Init.
  size_t manifest_size() const { return manifest_.size(); }
  const std::string& manifest_note() const { return manifest_note_; }

 private:
  Result<std::shared_ptr<engine::Engine>> Load(const std::string& file);

  WorkflowBundleOptions options_;
  std::map<std::string, std::string> files_;  // file stem → path; set by Init
  BundleManifest manifest_;                   // set by Init
  std::string manifest_note_;                 // set by Init

  std::mutex mu_;
  std::map<std::string, std::shared_ptr<engine::Engine>> engines_;  // guarded by mu_
  std::map<std::string, bool> compiled_files_;                     // guarded by mu_
};

}  // namespace cairn::lambda
