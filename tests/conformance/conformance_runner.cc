// The conformance test: AWS's durable execution SDK scenarios
// (../shared/conformance, TESTING.md › Conformance scenarios) run as cairn
// workflows on the embedded local backend.
//
// For each scenario <suite>/<id>.yaml of the suites below, the workflow
// tests/conformance/<suite>/<id>.yaml does what the scenario's handler prose
// says. It runs on LocalDurableService (MemoryStore, or SqliteStore with
// --store sqlite) with the scenario's Input and a FakeClock, so waits, retry
// delays and callback timeouts take no time; CallbackActions are sent at
// their Delay (seconds after their callback exists, in the execution's
// time). The execution's history is matched against ExpectedExecutionHistory
// and its status and result against ExpectedResult (placeholder rules in
// backend/local/testing/conformance_matcher.h); ExpectedLogs are matched
// against the messages of the steps' `log:`.
//
// A scenario the language cannot express is listed with its reason in
// tests/conformance/not_expressible.yaml and counted apart, never dropped.
// Prints one line per scenario and closes with exactly one line
// "N passed, N failed, N not expressible"; exits 1 when anything failed,
// 77 (skipped) when the scenarios are not beside the checkout.
//
// Usage: conformance_runner [--scenarios DIR] [--workflows DIR]
//                           [--store memory|sqlite] [--verbose] [ID...]
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "actions/process_action.h"
#include "actions/process_runner.h"
#include "backend/local/history.h"
#include "backend/local/local_durable_service.h"
#include "backend/local/memory_store.h"
#include "backend/local/sqlite_store.h"
#include "backend/local/testing/conformance_matcher.h"
#include "backend/local/testing/temp_dir.h"
#include "compile/compile.h"
#include "core/clock.h"
#include "engine/engine.h"
#include "validate/validate.h"

namespace cairn::conformance {
namespace {

namespace fs = std::filesystem;
using backend::local::testing::Matcher;
using backend::local::testing::MakeVariables;
using backend::local::testing::ScalarText;
using backend::local::testing::ScenarioJson;
using nlohmann::json;

// Every suite but `invoke` (chained invocations of other functions, which
// the local backend does not run).
const std::vector<std::string>& Suites() {
  static const std::vector<std::string> kSuites = {
      "step", "wait", "callback", "wait_for_condition", "wait_for_callback", "child", "parallel", "map"};
  return kSuites;
}

struct Options {
  std::string scenarios = std::string(CAIRN_SOURCE_DIR) + "/../shared/conformance";
  std::string workflows = std::string(CAIRN_SOURCE_DIR) + "/tests/conformance";
  std::string store = "memory";
  bool verbose = false;
  std::set<std::string> only;
};

// "1-10" sorts after "1-9".
std::vector<int> IdKey(const std::string& id) {
  std::vector<int> key;
  std::string part;
  for (char c : id + "-") {
    if (c == '-') {
      key.push_back(part.empty() ? 0 : std::stoi(part));
      part.clear();
    } else {
      part += c;
    }
  }
  return key;
}

// JSON as Python's json.dumps writes it (", " and ": "): how the upstream
// runner serializes callback payloads, which the scenarios' histories show.
std::string PythonDump(const json& v) {
  if (v.is_object()) {
    std::string out = "{";
    bool first = true;
    for (const auto& [k, x] : v.items()) {
      if (!first) out += ", ";
      first = false;
      out += json(k).dump() + ": " + PythonDump(x);
    }
    return out + "}";
  }
  if (v.is_array()) {
    std::string out = "[";
    for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + PythonDump(v[i]);
    return out + "]";
  }
  return v.dump();
}

// Collects `log:` messages; thread-safe because the service may invoke
// from its own threads.
class LogSink {
 public:
  void Add(std::string message) {
    std::lock_guard lock(mu_);
    messages_.push_back(std::move(message));
  }
  std::vector<std::string> messages() {
    std::lock_guard lock(mu_);
    return messages_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> messages_;
};

struct Verdict {
  bool passed = false;
  std::string why;
};

class ScenarioRun {
 public:
  ScenarioRun(const Options& options, YAML::Node scenario)
      : options_(options), scenario_(std::move(scenario)), matcher_(MakeVariables(scenario_["Variables"])) {}

  Verdict Run(const std::string& workflow_path) {
    ValidationResult validated = ValidateFile(workflow_path);
    for (const auto& d : validated.diagnostics) {
      if (d.severity == Severity::kError) {
        return Fail("the workflow does not validate: " + d.location.ToString() + " " + d.code + " " + d.message);
      }
    }
    auto def = std::make_shared<const WorkflowDefinition>(std::move(validated.definition));
    auto table = std::make_shared<const expr::ExpressionTable>(std::move(validated.expressions));
    auto graph = CompileWorkflow(def, table);
    if (!graph.ok()) return Fail("compile: " + graph.error().ToString());

    actions::PosixProcessRunner process_runner(clock_);
    actions::ActionRegistry actions;
    actions.Register("process.run", std::make_unique<actions::ProcessAction>(process_runner));
    engine::EngineOptions engine_options;
    engine_options.clock = &clock_;
    engine_options.on_event = [this](const engine::StepEvent& e) {
      if (e.kind == engine::StepEvent::Kind::kLog) logs_.Add(e.detail);
    };
    engine::Engine engine(*graph, &actions, engine_options);

    std::unique_ptr<backend::local::Store> store;
    backend::local::testing::TempDir dir;
    if (options_.store == "sqlite") {
      auto opened = backend::local::SqliteStore::Open(dir.File("cairn.db"));
      if (!opened.ok()) return Fail("sqlite store: " + opened.error().ToString());
      store = std::move(*opened);
    } else {
      store = std::make_unique<backend::local::MemoryStore>();
    }
    auto service = backend::local::LocalDurableService::Create(*store, clock_, &engine);
    if (!service.ok()) return Fail("service: " + service.error().ToString());
    service_ = std::move(*service);

    json input = matcher_.Substitute(ScenarioJson(scenario_["Input"]));
    backend::local::StartExecutionRequest start;
    start.function_name = "conformance";
    start.input = input.dump();
    auto started = service_->StartExecution(start);
    if (!started.ok()) return Fail("start: " + started.error().ToString());
    arn_ = started->arn;

    if (auto driven = Drive(); !driven.passed) return driven;
    return Check();
  }

 private:
  static Verdict Fail(std::string why) { return {false, std::move(why)}; }

  Result<json> History() {
    json events = json::array();
    backend::local::HistoryRequest request;
    request.arn = arn_;
    while (true) {
      auto page = service_->GetHistory(request);
      if (!page.ok()) return page.error();
      for (const auto& e : page->events) events.push_back(backend::local::HistoryEventToJson(e, true));
      if (page->next_marker.empty()) break;
      request.marker = page->next_marker;
    }
    return events;
  }

  // One callback of the execution, from its history.
  struct CallbackInfo {
    std::string operation_id;
    std::string callback_id;
    std::string name;
    bool open = true;
  };

  std::vector<CallbackInfo> Callbacks(const json& events) {
    std::vector<CallbackInfo> out;
    for (const auto& e : events) {
      const std::string type = e.value("EventType", "");
      const std::string id = e.value("Id", "");
      if (type == "CallbackStarted") {
        out.push_back({id, e["CallbackStartedDetails"].value("CallbackId", ""), e.value("Name", ""), true});
      } else if (type == "CallbackSucceeded" || type == "CallbackFailed" || type == "CallbackTimedOut") {
        for (auto& c : out) {
          if (c.operation_id == id) c.open = false;
        }
      }
    }
    return out;
  }

  struct Action {
    json spec;
    std::optional<std::string> target;  // callback id
    int64_t due = 0;
    bool done = false;
    bool terminal() const { return spec.value("Operation", "") != "heartbeat"; }
  };

  // Runs the execution to its end, sending the CallbackActions on the way.
  // Time moves only here: to the next timer or the next action, whichever
  // comes first, so the order of events is the order of a real run.
  Verdict Drive() {
    std::vector<Action> actions;
    if (scenario_["CallbackActions"]) {
      for (const auto& a : matcher_.Substitute(ScenarioJson(scenario_["CallbackActions"]))) {
        actions.push_back({a});
      }
    }
    for (int round = 0; round < 10'000; ++round) {
      if (auto s = service_->RunUntilIdle(); !s.ok()) return Fail("drive: " + s.error().ToString());
      auto events = History();
      if (!events.ok()) return Fail("history: " + events.error().ToString());
      const std::vector<CallbackInfo> callbacks = Callbacks(*events);
      std::set<std::string> claimed;
      for (auto& a : actions) {
        if (a.done) continue;
        if (!a.target) {
          const std::string wanted = a.spec.value("CallbackName", "*");
          for (const auto& c : callbacks) {
            if (!c.open || claimed.count(c.callback_id)) continue;
            if (wanted != "*" && c.name != wanted) continue;
            a.target = c.callback_id;
            a.due = clock_.NowMillis() + static_cast<int64_t>(a.spec.value("Delay", 0.0) * 1000);
            break;
          }
        }
        if (a.target && a.terminal()) claimed.insert(*a.target);
      }
      Action* next = nullptr;
      for (auto& a : actions) {
        if (!a.done && a.target && (!next || a.due < next->due)) next = &a;
      }
      std::optional<int64_t> timer = service_->NextTimerDue();
      if (!next && !timer) break;
      if (next && (!timer || next->due <= *timer)) {
        clock_.Set(std::max(clock_.NowMillis(), next->due));
        Send(*next);
        next->done = true;
      } else {
        clock_.Set(std::max(clock_.NowMillis(), *timer));
      }
    }
    for (const auto& a : actions) {
      if (!a.done) return Fail("callback action never sent (no such callback): " + a.spec.dump());
    }
    return {true, ""};
  }

  void Send(const Action& a) {
    const std::string op = a.spec.value("Operation", "");
    Status s;
    if (op == "success") {
      std::string payload;
      if (a.spec.contains("Payload") && !a.spec["Payload"].is_null()) payload = PythonDump(a.spec["Payload"]);
      s = service_->SendCallbackSuccess(*a.target, payload);
    } else if (op == "failure") {
      protocol::ErrorObject error;
      const json& p = a.spec.contains("Payload") ? a.spec["Payload"] : json::object();
      error.type = p.value("ErrorType", "");
      error.message = p.value("ErrorMessage", "");
      s = service_->SendCallbackFailure(*a.target, error);
    } else if (op == "heartbeat") {
      s = service_->SendCallbackHeartbeat(*a.target);
    }
    if (!s.ok() && options_.verbose) std::cerr << "  callback " << op << ": " << s.error().ToString() << "\n";
  }

  Verdict Check() {
    auto events = History();
    if (!events.ok()) return Fail("history: " + events.error().ToString());
    auto shown = [&] { return options_.verbose ? "\nhistory: " + events->dump(1) : std::string(); };
    json expected_history = matcher_.Substitute(ScenarioJson(scenario_["ExpectedExecutionHistory"]));
    std::string why;
    if (!matcher_.MatchHistory(expected_history, *events, &why)) return Fail(why + shown());

    auto exec = service_->GetExecution(arn_);
    if (!exec.ok()) return Fail("execution: " + exec.error().ToString());
    const YAML::Node expected = scenario_["ExpectedResult"];
    if (expected && expected.IsMap()) {
      std::string status(protocol::ToString(exec->progress.status));
      if (expected["ExecutionStatus"] && expected["ExecutionStatus"].as<std::string>() != status) {
        std::string error = exec->progress.error ? exec->progress.error->type + ": " + exec->progress.error->message : "";
        return Fail("status " + status + ", expected " + expected["ExecutionStatus"].as<std::string>() +
                    (error.empty() ? "" : " (" + error + ")") + shown());
      }
      if (expected["Result"]) {
        json want = matcher_.Substitute(ScenarioJson(expected["Result"]));
        json got = exec->progress.result ? json::parse(*exec->progress.result, nullptr, false) : json();
        if (want.is_null()) {
          if (!got.is_null()) return Fail("result " + got.dump() + ", expected none");
        } else if (!matcher_.Match(want, got, "result", &why, /*exact_objects=*/true)) {
          return Fail(why);
        }
      }
    }
    if (scenario_["ExpectedLogs"]) {
      const std::vector<std::string> messages = logs_.messages();
      for (const auto& rule : matcher_.Substitute(ScenarioJson(scenario_["ExpectedLogs"]))) {
        std::string pattern = ScalarText(rule["match"]["message"]);
        if (pattern.size() >= 2 && pattern.front() == '/' && pattern.back() == '/') {
          pattern = pattern.substr(1, pattern.size() - 2);
        }
        std::regex re(pattern);
        int64_t count = std::count_if(messages.begin(), messages.end(),
                                      [&](const std::string& m) { return std::regex_search(m, re); });
        if (count != rule.value("count", int64_t{0})) {
          return Fail("log /" + pattern + "/ seen " + std::to_string(count) + " times, expected " +
                      ScalarText(rule["count"]));
        }
      }
    }
    return {true, ""};
  }

  const Options& options_;
  YAML::Node scenario_;
  Matcher matcher_;
  FakeClock clock_;
  LogSink logs_;
  std::unique_ptr<backend::local::LocalDurableService> service_;
  std::string arn_;
};

int Main(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--scenarios" && i + 1 < argc) {
      options.scenarios = argv[++i];
    } else if (a == "--workflows" && i + 1 < argc) {
      options.workflows = argv[++i];
    } else if (a == "--store" && i + 1 < argc) {
      options.store = argv[++i];
    } else if (a == "--verbose" || a == "-v") {
      options.verbose = true;
    } else {
      options.only.insert(a);
    }
  }
  if (!fs::is_directory(options.scenarios)) {
    std::cout << "the conformance scenarios are not at " << options.scenarios
              << " (shared/conformance beside the checkout); skipped\n";
    return 77;
  }
  // id → reason
  std::map<std::string, std::string> not_expressible;
  const std::string ne_path = options.workflows + "/not_expressible.yaml";
  if (fs::exists(ne_path)) {
    for (const auto& kv : YAML::LoadFile(ne_path)) {
      not_expressible[kv.first.as<std::string>()] = kv.second.as<std::string>();
    }
  }

  int passed = 0, failed = 0, skipped = 0;
  std::set<std::string> seen;
  for (const auto& suite : Suites()) {
    std::vector<std::string> ids;
    for (const auto& entry : fs::directory_iterator(options.scenarios + "/" + suite)) {
      if (entry.path().extension() == ".yaml") ids.push_back(entry.path().stem().string());
    }
    std::sort(ids.begin(), ids.end(), [](const auto& a, const auto& b) { return IdKey(a) < IdKey(b); });
    for (const auto& id : ids) {
      seen.insert(id);
      if (!options.only.empty() && !options.only.count(id) && !options.only.count(suite)) continue;
      const std::string workflow = options.workflows + "/" + suite + "/" + id + ".yaml";
      auto ne = not_expressible.find(id);
      if (ne != not_expressible.end()) {
        if (fs::exists(workflow)) {
          ++failed;
          std::cout << "FAIL " << suite << "/" << id << ": listed as not expressible but has a workflow\n";
        } else {
          ++skipped;
          std::cout << "NOT EXPRESSIBLE " << suite << "/" << id << ": " << ne->second << "\n";
        }
        continue;
      }
      if (!fs::exists(workflow)) {
        ++failed;
        std::cout << "FAIL " << suite << "/" << id << ": no workflow " << workflow
                  << " and not listed in not_expressible.yaml\n";
        continue;
      }
      YAML::Node scenario = YAML::LoadFile(options.scenarios + "/" + suite + "/" + id + ".yaml");
      ScenarioRun run(options, scenario);
      Verdict v = run.Run(workflow);
      if (v.passed) {
        ++passed;
        std::cout << "PASS " << suite << "/" << id << "\n";
      } else {
        ++failed;
        std::cout << "FAIL " << suite << "/" << id << ": " << v.why << "\n";
      }
    }
  }
  for (const auto& [id, reason] : not_expressible) {
    if (!seen.count(id)) {
      ++failed;
      std::cout << "FAIL not_expressible.yaml names " << id << ", which is no scenario of these suites\n";
    }
  }
  std::cout << passed << " passed, " << failed << " failed, " << skipped << " not expressible\n";
  return failed == 0 ? 0 : 1;
}

}  // namespace
}  // namespace cairn::conformance

int main(int argc, char** argv) { return cairn::conformance::Main(argc, argv); }
