// FakeProcessRunner: a scripted ProcessRunner for tests of the code above
// it. It starts nothing; each Run records the spec and answers with what the
// script returns.
#pragma once

#include <functional>
#include <mutex>
#include <utility>
#include <vector>

#include "actions/process_runner.h"

namespace cairn::actions {

class FakeProcessRunner final : public ProcessRunner {
 public:
  using Script = std::function<Result<ProcessResult>(const ProcessSpec&)>;

  // A runner whose every process exits with status 0 and writes nothing.
  FakeProcessRunner() : FakeProcessRunner([](const ProcessSpec&) { return ProcessResult{}; }) {}
  explicit FakeProcessRunner(Script script) : script_(std::move(script)) {}

  // A runner that always answers `result`.
  static FakeProcessRunner Returning(const Result<ProcessResult>& result) {
    return FakeProcessRunner([result](const ProcessSpec&) { return result; });
  }

  // Thread-safe; the script is called under the runner's lock.
  Result<ProcessResult> Run(const ProcessSpec& spec) override {
    std::lock_guard lock(mu_);
    specs_.push_back(spec);
    return script_(spec);
  }

  // Every spec Run was given, in order. Thread-safe.
  std::vector<ProcessSpec> specs() const {
    std::lock_guard lock(mu_);
    return specs_;
  }

 private:
  Script script_;
  mutable std::mutex mu_;
  std::vector<ProcessSpec> specs_;  // guarded by mu_
};

}  // namespace cairn::actions
