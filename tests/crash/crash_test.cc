// Crash safety of `cairn run` end to end: the real binary is SIGKILLed at
// every named kill point of the local service (backend/local/kill_points.h,
// CAIRN_KILL_AT=NAME:N) and at random moments from outside, then resumed by
// running the same command again, for every workflow of tests/crash/
// workflows, workflows/local-callback.yaml and, when present, the workflows
// of tests/conformance. After each trial it checks:
//   * the final status and result equal an uninterrupted run's (timestamps
//     aside), and so does the history, operation by operation (ids of
//     executions, callbacks and requests aside; InvocationCompleted events
//     aside, as a crash changes how many invocations there are);
//   * nothing committed was lost: the events the killed process had stored
//     are, byte for byte, the first events of the final history;
//   * no completed step ran twice: every process.run step appends its name
//     to $CRASH_COUNTER; a step whose completion was stored before the kill
//     never runs again. A step that ran but whose completion was not stored
//     may run again (at least once): such re-runs are counted and printed as
//     allowed. An atMostOncePerRetry step interrupted that way is not re-run
//     and fails with Cairn.Interrupted.
//
// The conformance workflows run with their scenario's Input
// (../shared/conformance/<suite>/<id>.yaml) and the test plays the
// scenario's CallbackActions from outside with `cairn callback`, at their
// Delay after the callback appears in the history.
//
// Trials are independent (own store, port and files) and run --jobs at a
// time; the checks run afterwards, in a fixed order. The test runs a copy
// of the cairn binary, so a build that relinks it meanwhile cannot make
// trials fail to start.
//
// Arguments (after the gtest ones): --full kills at every passing of every
// point (the default kills at the first, the last and one random passing of
// each point; for workflows with real-time waits, one random passing);
// --random=N random-moment trials per workflow (default 2; 1 for slow ones);
// --conformance-seconds=S the budget of the conformance workflows, in
// seconds of trials (default 60; they are visited in a shuffled order);
// --jobs=N trials at a time (default 4); --only=TEXT only the workflows
// whose label contains TEXT; --seed=N. --quick (the default of sanitizer
// builds, see CMakeLists.txt): one random passing of each point and one
// random-moment trial for every workflow, and a 20 s conformance budget
// (a later --conformance-seconds wins).
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "backend/local/kill_points.h"
#include "backend/local/sqlite_store.h"
#include "backend/local/testing/conformance_matcher.h"
#include "backend/local/testing/temp_dir.h"
#include "crash/cairn_process.h"

namespace cairn::crash {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using protocol::ExecutionStatus;

bool g_full = false;
bool g_quick = false;
int g_random_trials = 2;
double g_conformance_seconds = 60;
int g_jobs = 4;
unsigned g_seed = 20260101;
std::string g_only;  // run only the workflows whose label contains this

constexpr const char* kExecutionName = "crash";

struct Workflow {
  std::string label;
  std::string file;
  std::string input = "{}";
  // The test completes the callback whose id the workflow writes to
  // $CRASH_DIR/callback-id with this result.
  std::optional<std::string> callback_result;
  // The workflow's own worker completes its callback; if it is lost (the
  // worker called while no server could take it), the test sends this.
  std::optional<std::string> fallback_callback_result;
  bool at_most_once = false;
  // Real-time waits or retries: fewer trials by default.
  bool slow = false;
  // From tests/conformance: run within a time budget with the scenario's
  // Input; skipped when it does not finish within kConformanceRunSeconds.
  bool conformance = false;
  // The scenario's CallbackActions (variables substituted), played by the
  // test: [{CallbackName, Operation, Payload, Delay}].
  json callback_actions = json::array();
};

// A conformance workflow's run longer than this is not crash-tested.
constexpr double kConformanceRunSeconds = 10;

// The store as a process left it.
struct Snapshot {
  bool exists = false;
  ExecutionStatus status = ExecutionStatus::kRunning;
  std::optional<std::string> result;
  std::optional<protocol::ErrorObject> error;
  std::vector<std::string> events;  // bodies, in EventId order
  std::string problem;              // a store that could not be read
};

Snapshot ReadStore(const std::string& path) {
  Snapshot s;
  if (!fs::exists(path)) return s;
  auto store = backend::local::SqliteStore::Open(path);
  if (!store.ok()) {
    s.problem = store.error().ToString();
    return s;
  }
  if (Status st = (*store)->CheckConsistency(); !st.ok()) {
    s.problem = st.error().ToString();
    return s;
  }
  backend::local::ExecutionQuery q;
  q.name = kExecutionName;
  auto found = (*store)->FindExecutions(q);
  if (!found.ok()) {
    s.problem = found.error().ToString();
    return s;
  }
  if (found->empty()) return s;
  const auto& e = found->front();
  s.exists = true;
  s.status = e.progress.status;
  s.result = e.progress.result;
  s.error = e.progress.error;
  auto events = (*store)->GetEvents(e.arn, 1, 1'000'000, false);
  if (!events.ok()) {
    s.problem = events.error().ToString();
    return s;
  }
  for (size_t i = 0; i < events->size(); ++i) {
    if ((*events)[i].event_id != static_cast<int64_t>(i + 1)) {
      s.problem = "event ids are not 1..n";
    }
    s.events.push_back((*events)[i].body);
  }
  if (e.progress.next_event_id != static_cast<int64_t>(events->size() + 1)) {
    s.problem = "next_event_id does not follow the last event";
  }
  return s;
}

// Timestamps (ISO strings) in results are replaced: two runs start at
// different times.
json NormalizeValue(json v) {
  static const std::regex kIso(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)?)");
  if (v.is_string()) {
    return std::regex_replace(v.get<std::string>(), kIso, "<time>");
  }
  if (v.is_object() || v.is_array()) {
    for (auto& [k, x] : v.items()) x = NormalizeValue(x);
  }
  return v;
}

std::string NormalizeResult(const std::optional<std::string>& result) {
  if (!result) return "<none>";
  auto j = json::parse(*result, nullptr, false);
  if (j.is_discarded()) return *result;
  return NormalizeValue(j).dump();
}

void StripVolatile(json& j) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end();) {
      const std::string& k = it.key();
      if (k.find("Timestamp") != std::string::npos || k == "DurableExecutionArn" ||
          k == "CallbackId" || k == "RequestId" || k == "EventId" || k == "pid" ||
          // Retries with jitter draw their delay at random.
          k == "NextAttemptDelaySeconds") {
        it = j.erase(it);
      } else {
        StripVolatile(*it);
        ++it;
      }
    }
  } else if (j.is_array()) {
    for (auto& x : j) StripVolatile(x);
  } else if (j.is_string()) {
    // Payloads are JSON text that may carry ids and times.
    auto inner = json::parse(j.get<std::string>(), nullptr, false);
    if (!inner.is_discarded() && (inner.is_object() || inner.is_array())) {
      StripVolatile(inner);
      j = NormalizeValue(inner).dump();
    } else {
      j = NormalizeValue(j);
    }
  }
}

// Per operation (and "<execution>"), its events without volatile fields.
std::map<std::string, std::vector<std::string>> ByOperation(const std::vector<std::string>& events) {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& body : events) {
    json e = json::parse(body);
    std::string type = e.value("EventType", "");
    if (type == "InvocationCompleted") continue;
    std::string id = type.rfind("Execution", 0) == 0 ? "<execution>" : e.value("Id", "?");
    StripVolatile(e);
    if (type.rfind("Execution", 0) == 0) e.erase("Id");
    out[id].push_back(e.dump());
  }
  return out;
}

// Steps whose completion is recorded, by step name.
std::map<std::string, int> Completions(const std::vector<std::string>& events) {
  std::map<std::string, int> out;
  for (const auto& body : events) {
    json e = json::parse(body);
    std::string type = e.value("EventType", "");
    if (type == "StepSucceeded" || type == "StepFailed") out[e.value("Name", "")]++;
  }
  return out;
}

std::vector<std::string> Lines(const std::string& path) {
  std::vector<std::string> out;
  std::istringstream in(ReadFile(path));
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

// A killed run's step processes survive it: process.run starts them in a
// process group of their own, out of the SIGKILL's reach, as a crash would
// leave them. One may still append to $CRASH_COUNTER after the kill; waits
// (up to 2 s: a step of these workflows takes milliseconds; a detached
// callback worker may take longer and is left alone) until no process that
// carries this trial's CRASH_DIR is left, so that the line counts for the
// run that started the step, not for the one after it.
void WaitForStepProcesses(const std::string& dir) {
  std::string needle = "CRASH_DIR=" + dir;
  needle.push_back('\0');
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (std::chrono::steady_clock::now() < deadline) {
    bool any = false;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator("/proc", ec)) {
      const std::string name = e.path().filename().string();
      if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
      std::string environ = ReadFile(e.path().string() + "/environ");
      environ.push_back('\0');
      if (environ.find(needle) != std::string::npos) {
        any = true;
        break;
      }
    }
    if (!any) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::string StepOfToken(const std::string& token) { return token.substr(0, token.find('#')); }

std::map<std::string, int> CountByStep(const std::vector<std::string>& lines, size_t from = 0) {
  std::map<std::string, int> out;
  for (size_t i = from; i < lines.size(); ++i) out[StepOfToken(lines[i])]++;
  return out;
}

int FreePortOnce() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

// A free port of 127.0.0.1, never one handed out before: concurrent trials
// must not get the same one between its check here and cairn's bind.
int FreePort() {
  static std::mutex mu;
  static std::set<int> handed_out;
  std::lock_guard lock(mu);
  for (int i = 0; i < 100; ++i) {
    int port = FreePortOnce();
    if (port > 0 && handed_out.insert(port).second) return port;
  }
  return 0;
}

// What the uninterrupted run did.
struct Reference {
  Snapshot final;
  std::map<std::string, std::vector<std::string>> by_operation;
  std::map<std::string, int> runs;      // process.run runs by step
  std::vector<std::string> trace;       // kill points passed, in order
  double seconds = 0;
};

// How one trial kills the process.
struct KillPlan {
  std::string point;  // "" = random moments
  int passing = 0;
  std::vector<int> random_ms;  // kills from outside, one per run
};

struct Totals {
  int trials = 0;
  int named_kills = 0;
  int random_kills = 0;
  int not_reached = 0;  // the run ended before the n-th passing
  int allowed_reruns = 0;
  int interrupted = 0;  // at-most-once steps that failed with Cairn.Interrupted
  std::set<std::string> points;
};

// Runs trials; thread-safe: trials of one runner may run concurrently (each
// has its own directory, store and port).
class CrashRunner {
 public:
  explicit CrashRunner(std::string cairn) : cairn_(std::move(cairn)) {}

  // Runs `w` once in `dir` under `plan` (empty plan = uninterrupted); fills
  // the trace when `trace` is set. Returns the runs' results.
  struct Trial {
    std::vector<ProcessResult> runs;
    std::vector<Snapshot> after_kill;                // the store after each kill
    std::vector<std::vector<std::string>> counters;  // $CRASH_COUNTER after each kill
    Snapshot final;
    std::vector<std::string> counter;
    std::vector<std::string> trace;
    std::vector<std::string> unsent_actions;  // CallbackActions never sent
  };

  Trial Run(const Workflow& w, const std::string& dir, const KillPlan& plan, bool trace) {
    fs::create_directories(dir);
    Trial t;
    const std::string store = dir + "/cairn.db";
    const std::string counter = dir + "/counter";
    int port = FreePort();
    int port_retries = 0;
    std::set<std::string> callbacks_done;
    // The scenario's callback actions, across the runs of this trial: a
    // callback created before a kill is the same one after it.
    std::vector<PlayedAction> actions;
    for (const auto& a : w.callback_actions) actions.push_back({a});
    size_t kill_index = 0;
    for (int attempt = 0; attempt < 6; ++attempt) {
      Snapshot before = ReadStore(store);
      if (before.exists && before.status != ExecutionStatus::kRunning) break;
      ProcessOptions o;
      o.env = {{"CRASH_COUNTER", counter},
               {"CRASH_DIR", dir},
               {"CAIRN_BIN", cairn_},
               {"CAIRN_ENDPOINT", ""},
               {"CAIRN_STORE", ""},
               {"CAIRN_KILL_AT", ""},
               {"CAIRN_KILL_TRACE", ""}};
      if (attempt == 0 && !plan.point.empty()) {
        o.env["CAIRN_KILL_AT"] = plan.point + ":" + std::to_string(plan.passing);
      }
      if (trace) o.env["CAIRN_KILL_TRACE"] = dir + "/trace";
      if (kill_index < plan.random_ms.size()) o.kill_after_ms = plan.random_ms[kill_index++];
      o.timeout_seconds = w.conformance ? kConformanceRunSeconds : 90;
      auto started = std::chrono::steady_clock::now();
      auto last_fallback = started;
      auto last_poll = started - std::chrono::seconds(1);
      o.tick = [&] {
        if (w.callback_result) PlayCallback(dir, store, *w.callback_result, callbacks_done);
        auto now = std::chrono::steady_clock::now();
        if (!actions.empty() && now - last_poll > std::chrono::milliseconds(200)) {
          last_poll = now;
          PlayActions(dir, store, actions);
        }
        if (w.fallback_callback_result && now - started > std::chrono::seconds(8) &&
            now - last_fallback > std::chrono::seconds(3)) {
          last_fallback = now;
          FallbackCallback(dir, store, *w.fallback_callback_result);
        }
      };
      ProcessResult r = RunProcess({cairn_, "run", w.file, "--store", store, "--name",
                                    kExecutionName, "--port", std::to_string(port), "--input",
                                    w.input},
                                   dir + "/run" + std::to_string(attempt), o);
      // The port was free when FreePort looked, but an ephemeral port can be
      // taken meanwhile by any connection on the machine (other tests run
      // beside this one): the run then stops before it starts anything.
      // Run the same attempt again on another port.
      if (r.exited && r.err.find("cannot listen on 127.0.0.1:") != std::string::npos &&
          port_retries < 5) {
        ++port_retries;
        port = FreePort();
        if (o.kill_after_ms >= 0) --kill_index;
        --attempt;
        continue;
      }
      t.runs.push_back(r);
      // Resume only after a kill of the plan: a run that could not start,
      // crashed or hung ends the trial (Check reports it).
      if (!r.killed || r.timed_out) break;
      WaitForStepProcesses(dir);
      t.after_kill.push_back(ReadStore(store));
      t.counters.push_back(Lines(counter));
    }
    t.final = ReadStore(store);
    t.counter = Lines(counter);
    if (trace) t.trace = Lines(dir + "/trace");
    // An action that found no open callback of its name is reported, unless
    // a callback of that name exists and ended without it (timed out between
    // two polls of a loaded machine: the action would have been refused as
    // "already completed"); the final result and history then say whether
    // the scenario still holds.
    std::optional<std::vector<CallbackInfo>> final_callbacks;
    for (const auto& a : actions) {
      if (a.done) continue;
      if (a.target.empty() && a.spec.value("CallbackName", "*") != "*") {
        if (!final_callbacks) final_callbacks = Callbacks(dir, store);
        const std::string wanted = a.spec.value("CallbackName", "*");
        if (final_callbacks && std::any_of(final_callbacks->begin(), final_callbacks->end(),
                                           [&](const CallbackInfo& c) {
                                             return c.name == wanted && !c.open;
                                           })) {
          continue;
        }
      }
      t.unsent_actions.push_back(a.spec.dump());
    }
    return t;
  }

  int fallbacks() const { return fallbacks_.load(); }

 private:
  struct PlayedAction {
    json spec;
    std::string target;  // callback id, once the callback exists
    std::chrono::steady_clock::time_point due;
    bool done = false;
    bool terminal() const { return spec.value("Operation", "") != "heartbeat"; }
  };

  static ProcessOptions CliOptions() {
    ProcessOptions o;
    o.env = {{"CAIRN_ENDPOINT", ""}, {"CAIRN_STORE", ""}, {"CAIRN_KILL_AT", ""},
             {"CAIRN_KILL_TRACE", ""}};
    o.timeout_seconds = 20;
    return o;
  }

  // The callbacks of the execution as the history shows them, in order.
  struct CallbackInfo {
    std::string operation_id;
    std::string callback_id;
    std::string name;
    bool open = true;
  };
  std::optional<std::vector<CallbackInfo>> Callbacks(const std::string& dir,
                                                     const std::string& store) {
    auto h = RunProcess({cairn_, "history", kExecutionName, "--store", store, "--format", "json"},
                        dir + "/history", CliOptions());
    auto j = json::parse(h.out, nullptr, false);
    if (j.is_discarded() || !j.contains("Events")) return std::nullopt;
    std::vector<CallbackInfo> out;
    for (const auto& e : j["Events"]) {
      const std::string type = e.value("EventType", "");
      const std::string id = e.value("Id", "");
      if (type == "CallbackStarted") {
        out.push_back({id, e["CallbackStartedDetails"].value("CallbackId", ""),
                       e.value("Name", ""), true});
      } else if (type == "CallbackSucceeded" || type == "CallbackFailed" ||
                 type == "CallbackTimedOut") {
        for (auto& c : out) {
          if (c.operation_id == id) c.open = false;
        }
      }
    }
    return out;
  }

  // The scenario's external system, as tests/conformance/conformance_runner
  // plays it but in real time: each action takes the first open callback of
  // its CallbackName not taken by an earlier completing action and is sent
  // Delay seconds after the test first saw that callback.
  void PlayActions(const std::string& dir, const std::string& store,
                   std::vector<PlayedAction>& actions) {
    if (std::all_of(actions.begin(), actions.end(), [](const auto& a) { return a.done; })) return;
    auto callbacks = Callbacks(dir, store);
    if (!callbacks) return;
    const auto now = std::chrono::steady_clock::now();
    std::set<std::string> claimed;
    for (auto& a : actions) {
      if (a.target.empty()) {
        const std::string wanted = a.spec.value("CallbackName", "*");
        for (const auto& c : *callbacks) {
          if (!c.open || claimed.count(c.callback_id)) continue;
          if (wanted != "*" && c.name != wanted) continue;
          a.target = c.callback_id;
          a.due = now + std::chrono::milliseconds(
                            static_cast<int64_t>(a.spec.value("Delay", 0.0) * 1000));
          break;
        }
      }
      if (!a.target.empty() && a.terminal()) claimed.insert(a.target);
    }
    std::vector<PlayedAction*> due;
    for (auto& a : actions) {
      if (!a.done && !a.target.empty() && a.due <= now) due.push_back(&a);
    }
    std::stable_sort(due.begin(), due.end(),
                     [](const PlayedAction* x, const PlayedAction* y) { return x->due < y->due; });
    for (PlayedAction* a : due) {
      const std::string op = a->spec.value("Operation", "");
      std::vector<std::string> argv = {cairn_, "callback"};
      if (op == "success") {
        json payload = a->spec.contains("Payload") ? a->spec["Payload"] : json();
        argv.insert(argv.end(), {"succeed", a->target, "--result", payload.dump()});
      } else if (op == "failure") {
        const json p = a->spec.contains("Payload") && a->spec["Payload"].is_object()
                           ? a->spec["Payload"]
                           : json::object();
        argv.insert(argv.end(), {"fail", a->target, "--error", p.value("ErrorType", "Error"),
                                 "--message", p.value("ErrorMessage", "")});
      } else {
        argv.insert(argv.end(), {"heartbeat", a->target});
      }
      argv.insert(argv.end(), {"--store", store});
      auto r = RunProcess(argv, dir + "/action", CliOptions());
      // Sent, or refused because the callback has ended (completed or timed
      // out, as the scenario may intend): done either way. Anything else
      // (e.g. the server was killed meanwhile) is tried again.
      if (r.exited && (r.exit_code == 0 || r.err.find("already completed") != std::string::npos)) {
        a->done = true;
      }
    }
  }

  // The external party: completes each callback id the workflow wrote.
  void PlayCallback(const std::string& dir, const std::string& store, const std::string& result,
                    std::set<std::string>& done) {
    std::string id = ReadFile(dir + "/callback-id");
    if (id.empty() || done.count(id)) return;
    auto r = RunProcess({cairn_, "callback", "succeed", id, "--result", result, "--store", store},
                        dir + "/callback", CliOptions());
    // Sent, or the callback is already complete: either way it is done.
    if (r.exited && (r.exit_code == 0 || r.err.find("already completed") != std::string::npos)) {
      done.insert(id);
    }
  }

  // Sends the result of every callback the history shows still open.
  void FallbackCallback(const std::string& dir, const std::string& store, const std::string& result) {
    auto callbacks = Callbacks(dir, store);
    if (!callbacks) return;
    for (const auto& c : *callbacks) {
      if (!c.open) continue;
      ++fallbacks_;
      RunProcess({cairn_, "callback", "succeed", c.callback_id, "--result", result, "--store", store},
                 dir + "/fallback", CliOptions());
    }
  }

  std::string cairn_;
  std::atomic<int> fallbacks_{0};
};

// Runs jobs on a few threads; a job may add jobs (to the front, to run
// next). Wait() returns when every job has run.
class JobPool {
 public:
  explicit JobPool(int threads) {
    for (int i = 0; i < std::max(1, threads); ++i) threads_.emplace_back([this] { Work(); });
  }
  ~JobPool() { Wait(); }

  void Push(std::function<void()> job, bool front = false) {
    std::lock_guard lock(mu_);
    if (front) {
      queue_.push_front(std::move(job));
    } else {
      queue_.push_back(std::move(job));
    }
    ++pending_;
    cv_.notify_all();
  }

  void Wait() {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return pending_ == 0; });
      stop_ = true;
      cv_.notify_all();
    }
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

 private:
  void Work() {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;
      auto job = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      job();
      lock.lock();
      --pending_;
      cv_.notify_all();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  int pending_ = 0;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

class CrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    built_ = std::string(CAIRN_BINARY_DIR) + "/interpreter/cli/cairn";
    if (!fs::exists(built_)) GTEST_SKIP() << "build the cairn target first (" << built_ << ")";
    if (!backend::local::KillPointsCompiledIn()) {
      GTEST_SKIP() << "this build has no kill points: configure with -DCAIRN_KILL_POINTS=ON";
    }
  }

  // Copies the built cairn into `dir` and returns the copy's path, or "" (a
  // failure is added). The trials run the copy: a build relinking the
  // original meanwhile would make them fail to start (ETXTBSY, ENOEXEC) in
  // the middle of the test. A copy taken while a link is writing is caught
  // by the file changing under it or by the copy not running.
  std::string CopyCairn(const std::string& dir) {
    const std::string copy = dir + "/bin/cairn";
    fs::create_directories(dir + "/bin");
    std::string why;
    for (int attempt = 0; attempt < 30; ++attempt) {
      if (attempt > 0) std::this_thread::sleep_for(std::chrono::seconds(1));
      std::error_code ec;
      auto size = fs::file_size(built_, ec);
      auto mtime = fs::last_write_time(built_, ec);
      if (ec) {
        why = ec.message();
        continue;
      }
      if (!fs::copy_file(built_, copy, fs::copy_options::overwrite_existing, ec)) {
        why = "copy: " + ec.message();
        continue;
      }
      // The execution commands run in cairn-engine, found beside cairn.
      const fs::path engine = fs::path(built_).parent_path() / "cairn-engine";
      if (fs::exists(engine, ec) &&
          !fs::copy_file(engine, dir + "/bin/cairn-engine", fs::copy_options::overwrite_existing,
                         ec)) {
        why = "copy: " + ec.message();
        continue;
      }
      if (fs::file_size(built_, ec) != size || fs::last_write_time(built_, ec) != mtime || ec) {
        why = "it changed while it was copied (a build is relinking it)";
        continue;
      }
      ProcessOptions o;
      o.timeout_seconds = 60;
      auto r = RunProcess({copy, "--version"}, dir + "/bin/version", o);
      if (r.exited && r.exit_code == 0) return copy;
      why = "the copy does not run (" + Describe(r) + ")";
    }
    ADD_FAILURE() << "cannot copy " << built_ << " for the trials: " << why;
    return "";
  }

  std::vector<Workflow> Workflows() {
    const std::string src = CAIRN_SOURCE_DIR;
    std::vector<Workflow> out;
    out.push_back({"sequence", src + "/tests/crash/workflows/sequence.yaml"});
    out.push_back({"fanout", src + "/tests/crash/workflows/fanout.yaml"});
    Workflow cb{"callback", src + "/tests/crash/workflows/callback.yaml"};
    cb.callback_result = R"({"approved": true})";
    out.push_back(cb);
    Workflow amo{"at-most-once", src + "/tests/crash/workflows/at-most-once.yaml"};
    amo.at_most_once = true;
    out.push_back(amo);
    Workflow rw{"retry-wait", src + "/tests/crash/workflows/retry-wait.yaml"};
    rw.slow = true;
    out.push_back(rw);
    Workflow lc{"local-callback", src + "/workflows/local-callback.yaml"};
    lc.input = R"({"message": "one two three", "processingTime": 0})";
    lc.fallback_callback_result = R"({"words": 3, "worker": "local"})";
    lc.slow = true;
    out.push_back(lc);
    // tests/conformance/<suite>/<id>.yaml runs the scenario
    // ../shared/conformance/<suite>/<id>.yaml (as conformance_runner does).
    const fs::path conformance = fs::path(src) / "tests" / "conformance";
    const fs::path scenarios = fs::path(src).parent_path() / "shared" / "conformance";
    if (fs::exists(conformance)) {
      std::vector<fs::path> files;
      for (const auto& e : fs::recursive_directory_iterator(conformance)) {
        if (e.path().extension() == ".yaml" && e.path().parent_path() != conformance) {
          files.push_back(e.path());
        }
      }
      std::sort(files.begin(), files.end());
      std::shuffle(files.begin(), files.end(), std::mt19937(g_seed));
      for (const auto& f : files) {
        const fs::path rel = fs::relative(f, conformance);
        const fs::path scenario_file = scenarios / rel;
        if (!fs::exists(scenario_file)) {
          ++conformance_without_scenario_;
          continue;
        }
        Workflow c{"conformance/" + rel.string(), f.string()};
        c.slow = true;
        c.conformance = true;
        try {
          YAML::Node scenario = YAML::LoadFile(scenario_file.string());
          // Variables (${GEN_STR:N} drawn once) are the same in every trial.
          backend::local::testing::Matcher m(
              backend::local::testing::MakeVariables(scenario["Variables"]));
          c.input = m.Substitute(backend::local::testing::ScenarioJson(scenario["Input"])).dump();
          if (scenario["CallbackActions"]) {
            c.callback_actions =
                m.Substitute(backend::local::testing::ScenarioJson(scenario["CallbackActions"]));
          }
        } catch (const YAML::Exception& e) {
          ADD_FAILURE() << scenario_file << ": " << e.what();
          continue;
        }
        out.push_back(c);
      }
    }
    return out;
  }

  std::string built_;
  int conformance_without_scenario_ = 0;
};

// The checks of one trial against the reference; returns problems.
std::vector<std::string> Check(const Workflow& w, const Reference& ref,
                               const CrashRunner::Trial& t, Totals& totals) {
  std::vector<std::string> problems;
  // Every run ended by exiting or by a kill of the plan: not one that could
  // not start, crashed or hung.
  for (size_t i = 0; i < t.runs.size(); ++i) {
    const ProcessResult& r = t.runs[i];
    if (!r.started || r.timed_out || (!r.exited && !r.killed)) {
      problems.push_back("run " + std::to_string(i + 1) + ": " + Describe(r));
    }
  }
  for (const auto& a : t.unsent_actions) {
    problems.push_back("callback action never sent (no such callback): " + a);
  }
  const Snapshot& f = t.final;
  if (!f.problem.empty()) problems.push_back("store: " + f.problem);
  if (!f.exists) {
    problems.push_back("the execution does not exist after resuming");
    return problems;
  }
  if (f.status == ExecutionStatus::kRunning) {
    problems.push_back("the execution is still RUNNING after resuming");
    return problems;
  }
  bool interrupted = w.at_most_once && f.status == ExecutionStatus::kFailed && f.error &&
                     f.error->type == "Cairn.Interrupted";
  if (interrupted) {
    ++totals.interrupted;
  } else {
    if (f.status != ref.final.status) {
      problems.push_back(std::string("status ") + std::string(protocol::ToString(f.status)) +
                         ", uninterrupted " + std::string(protocol::ToString(ref.final.status)) +
                         (f.error ? " (" + f.error->type + ": " + f.error->message + ")" : ""));
    }
    if (NormalizeResult(f.result) != NormalizeResult(ref.final.result)) {
      problems.push_back("result " + NormalizeResult(f.result) + ", uninterrupted " +
                         NormalizeResult(ref.final.result));
    }
    auto by_op = ByOperation(f.events);
    if (by_op != ref.by_operation) {
      for (const auto& [id, evs] : ref.by_operation) {
        auto it = by_op.find(id);
        if (it == by_op.end()) {
          problems.push_back("history: operation " + id + " is missing");
        } else if (it->second != evs) {
          std::string detail = "history of operation " + id + " differs:";
          for (const auto& e : it->second) detail += "\n    got  " + e;
          for (const auto& e : evs) detail += "\n    want " + e;
          problems.push_back(detail);
        }
      }
      for (const auto& [id, evs] : by_op) {
        if (!ref.by_operation.count(id)) problems.push_back("history: extra operation " + id);
      }
    }
  }
  // Nothing committed was lost: each post-kill store is a prefix of the next.
  std::vector<const Snapshot*> chain;
  for (const auto& s : t.after_kill) chain.push_back(&s);
  chain.push_back(&f);
  for (size_t i = 0; i + 1 < chain.size(); ++i) {
    const auto& a = chain[i]->events;
    const auto& b = chain[i + 1]->events;
    if (!chain[i]->problem.empty()) problems.push_back("store after a kill: " + chain[i]->problem);
    if (a.size() > b.size() || !std::equal(a.begin(), a.end(), b.begin())) {
      problems.push_back("committed events were lost or rewritten after kill " +
                         std::to_string(i + 1) + " (" + std::to_string(a.size()) +
                         " events before, " + std::to_string(b.size()) + " after)");
    }
  }
  // No completed step ran again. Each run is judged on its own: the run
  // after kill k may start a step at most as often as it had runs left
  // without a recorded completion at kill k (each of which may be a re-run
  // of one interrupted by that kill); a run killed in turn leaves its own
  // in-flight steps for the next one to re-run.
  std::map<std::string, int> completed_before;
  for (size_t k = 0; k < t.after_kill.size(); ++k) {
    const size_t from = k == 0 ? 0 : t.counters[k - 1].size();
    const size_t to = t.counters[k].size();
    const auto& next_lines = k + 1 < t.counters.size() ? t.counters[k + 1] : t.counter;
    std::vector<std::string> this_run(t.counters[k].begin() + static_cast<long>(from),
                                      t.counters[k].begin() + static_cast<long>(to));
    auto during = CountByStep(this_run);
    auto completed = Completions(t.after_kill[k].events);
    std::vector<std::string> next_run(next_lines.begin() + static_cast<long>(std::min(to, next_lines.size())),
                                      next_lines.end());
    auto after = CountByStep(next_run);
    std::set<std::string> steps;
    for (const auto& [step, n] : during) steps.insert(step);
    for (const auto& [step, n] : after) steps.insert(step);
    for (const auto& step : steps) {
      const int c = completed.count(step) ? completed[step] : 0;
      const int c_before = completed_before.count(step) ? completed_before[step] : 0;
      const int n = during.count(step) ? during[step] : 0;
      const int total = ref.runs.count(step) ? ref.runs.at(step) : 0;
      const int later = after.count(step) ? after[step] : 0;
      if (later > total - c) {
        problems.push_back("step " + step + " ran " + std::to_string(later) +
                           " time(s) in the run after kill " + std::to_string(k + 1) + " though " +
                           std::to_string(c) + " of its " + std::to_string(total) +
                           " run(s) were already recorded complete");
      }
      const int in_flight = n - (c - c_before);
      if (in_flight > 1) {
        problems.push_back("step " + step + ": " + std::to_string(in_flight) +
                           " runs before kill " + std::to_string(k + 1) +
                           " without a recorded completion");
      }
      if (in_flight > 0 && later > 0) ++totals.allowed_reruns;
    }
    completed_before = completed;
  }
  // Every step ran at least as often as uninterrupted, at most once more
  // per kill (the re-runs counted above).
  auto final_runs = CountByStep(t.counter);
  for (const auto& [step, n] : ref.runs) {
    int got = final_runs.count(step) ? final_runs[step] : 0;
    if (!interrupted && got < n) {
      problems.push_back("step " + step + " ran " + std::to_string(got) + " time(s), uninterrupted " +
                         std::to_string(n));
    }
    if (got > n + static_cast<int>(t.after_kill.size())) {
      problems.push_back("step " + step + " ran " + std::to_string(got) +
                         " time(s), uninterrupted " + std::to_string(n));
    }
  }
  return problems;
}

// The kill plans of a workflow from its reference run: named points, then
// random moments.
std::vector<KillPlan> MakePlans(const Workflow& w, const Reference& ref, std::mt19937& rng) {
  std::map<std::string, int> passings;
  for (const auto& p : ref.trace) passings[p]++;
  std::vector<KillPlan> plans;
  for (const auto& [point, count] : passings) {
    std::set<int> ns;
    if (g_full) {
      for (int n = 1; n <= count; ++n) ns.insert(n);
    } else if (w.conformance) {
      // Within the budget: a third of the points, one passing each.
      if (std::uniform_int_distribution<int>(0, 2)(rng) == 0) {
        ns.insert(std::uniform_int_distribution<int>(1, count)(rng));
      }
    } else if (w.slow || g_quick) {
      ns.insert(std::uniform_int_distribution<int>(1, count)(rng));
    } else {
      ns.insert(1);
      ns.insert(count);
      ns.insert(std::uniform_int_distribution<int>(1, count)(rng));
    }
    for (int n : ns) plans.push_back({point, n, {}});
  }
  const int max_ms = std::max(50, static_cast<int>(ref.seconds * 1000));
  const int random_trials =
      w.conformance || w.slow || g_quick ? std::min(1, g_random_trials) : g_random_trials;
  for (int i = 0; i < random_trials; ++i) {
    KillPlan p;
    p.random_ms.push_back(std::uniform_int_distribution<int>(0, max_ms)(rng));
    if (i % 2 == 1) p.random_ms.push_back(std::uniform_int_distribution<int>(0, max_ms)(rng));
    plans.push_back(p);
  }
  return plans;
}

std::string PlanText(const KillPlan& plan) {
  if (!plan.point.empty()) return plan.point + ":" + std::to_string(plan.passing);
  std::string s = "random kill(s) after";
  for (int ms : plan.random_ms) s += " " + std::to_string(ms) + "ms";
  return s;
}

double SecondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// One workflow's reference run and trials.
struct WorkflowRun {
  enum class State { kNotRun, kOverBudget, kDidNotFinish, kSlow, kTested };
  State state = State::kNotRun;
  Reference ref;
  std::string ref_outcome;  // how the reference run's last run ended
  std::string ref_err;      // and its stderr
  std::vector<KillPlan> plans;
  std::vector<CrashRunner::Trial> trials;
  // Guarded by the test's mutex: the sum of the reference's and the trials'
  // durations, and when the workflow's first and last job ran.
  double job_seconds = 0;
  std::chrono::steady_clock::time_point start, end;
};

TEST_F(CrashTest, EveryKillPointAndRandomKillsLoseNothing) {
  backend::local::testing::TempDir tmp;
  const std::string cairn = CopyCairn(tmp.path());
  if (cairn.empty()) return;
  CrashRunner runner(cairn);
  std::vector<Workflow> workflows;
  for (auto& w : Workflows()) {
    if (g_only.empty() || w.label.find(g_only) != std::string::npos) workflows.push_back(w);
  }
  std::vector<WorkflowRun> runs(workflows.size());
  std::mutex mu;
  double conformance_spent = 0;  // guarded by mu; seconds of conformance jobs
  const auto test_start = std::chrono::steady_clock::now();

  // Adds a job's duration to its workflow's accounts.
  auto account = [&](size_t i, std::chrono::steady_clock::time_point t0) {
    std::lock_guard lock(mu);
    const double s = SecondsSince(t0);
    runs[i].job_seconds += s;
    runs[i].end = std::chrono::steady_clock::now();
    if (workflows[i].conformance) conformance_spent += s;
  };
  {
    JobPool pool(g_jobs);
    // The reference run, then (as the next jobs) the trials its trace plans.
    auto reference_job = [&](size_t i) {
      const Workflow& w = workflows[i];
      WorkflowRun& wr = runs[i];
      {
        std::lock_guard lock(mu);
        if (w.conformance && !g_full && conformance_spent > g_conformance_seconds) {
          wr.state = WorkflowRun::State::kOverBudget;
          return;
        }
      }
      const auto t0 = std::chrono::steady_clock::now();
      wr.start = t0;
      const std::string base = tmp.path() + "/" + std::to_string(i);
      auto ref_trial = runner.Run(w, base + "-ref", {}, /*trace=*/true);
      wr.ref.final = ref_trial.final;
      wr.ref.trace = ref_trial.trace;
      wr.ref.seconds = ref_trial.runs.empty() ? 1 : ref_trial.runs.back().seconds;
      wr.ref.by_operation = ByOperation(wr.ref.final.events);
      wr.ref.runs = CountByStep(ref_trial.counter);
      if (!ref_trial.runs.empty()) {
        wr.ref_outcome = Describe(ref_trial.runs.back());
        wr.ref_err = ref_trial.runs.back().err;
      }
      if (!wr.ref.final.exists || wr.ref.final.status == ExecutionStatus::kRunning ||
          !ref_trial.unsent_actions.empty()) {
        wr.state = WorkflowRun::State::kDidNotFinish;
      } else if (w.conformance && !g_full && wr.ref.seconds > 4) {
        wr.state = WorkflowRun::State::kSlow;
      } else {
        wr.state = WorkflowRun::State::kTested;
        std::mt19937 rng(g_seed + static_cast<unsigned>(i));
        wr.plans = MakePlans(w, wr.ref, rng);
        wr.trials.resize(wr.plans.size());
      }
      account(i, t0);
      // Pushed to the front in reverse: the first plan runs next.
      for (size_t j = wr.plans.size(); j-- > 0;) {
        pool.Push(
            [&, i, j, base] {
              const auto t1 = std::chrono::steady_clock::now();
              runs[i].trials[j] = runner.Run(workflows[i], base + "-" + std::to_string(j),
                                             runs[i].plans[j], false);
              account(i, t1);
            },
            /*front=*/true);
      }
    };
    // The slow workflows first: their trials take longest.
    std::vector<size_t> order(workflows.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_partition(order.begin(), order.end(), [&](size_t i) {
      return workflows[i].slow && !workflows[i].conformance;
    });
    for (size_t i : order) pool.Push([&, i] { reference_job(i); });
    pool.Wait();
  }

  // The checks, in a fixed order.
  Totals totals;
  int conformance_run = 0, conformance_unfinished = 0, conformance_over_budget = 0;
  int conformance_slow = 0;
  std::vector<std::string> unfinished;
  for (size_t i = 0; i < workflows.size(); ++i) {
    const Workflow& w = workflows[i];
    WorkflowRun& wr = runs[i];
    SCOPED_TRACE(w.label);
    switch (wr.state) {
      case WorkflowRun::State::kNotRun:
        ADD_FAILURE() << "not run";
        continue;
      case WorkflowRun::State::kOverBudget:
        ++conformance_over_budget;
        continue;
      case WorkflowRun::State::kSlow:
        ++conformance_slow;
        continue;
      case WorkflowRun::State::kDidNotFinish:
        if (w.conformance) {
          ++conformance_unfinished;
          std::string first_line = wr.ref_err.substr(0, wr.ref_err.find('\n'));
          unfinished.push_back(w.label + ": " + wr.ref_outcome +
                               (first_line.empty() ? "" : ": " + first_line));
        } else {
          ADD_FAILURE() << "the uninterrupted run did not finish (" << wr.ref_outcome
                        << "):\n" << wr.ref_err;
        }
        continue;
      case WorkflowRun::State::kTested:
        break;
    }
    const Reference& ref = wr.ref;
    if (!w.conformance) {
      EXPECT_EQ(ref.final.status, ExecutionStatus::kSucceeded)
          << (ref.final.error ? ref.final.error->type + ": " + ref.final.error->message : "");
    }
    int failures = 0;
    for (size_t j = 0; j < wr.plans.size(); ++j) {
      const KillPlan& plan = wr.plans[j];
      const CrashRunner::Trial& t = wr.trials[j];
      ++totals.trials;
      const bool killed = !t.after_kill.empty();
      if (!plan.point.empty()) {
        if (killed) {
          ++totals.named_kills;
          totals.points.insert(plan.point);
        } else {
          ++totals.not_reached;
        }
      } else {
        totals.random_kills += static_cast<int>(t.after_kill.size());
      }
      auto problems = Check(w, ref, t, totals);
      if (!problems.empty() && ++failures <= 5) {
        std::string all;
        for (const auto& p : problems) all += "\n  " + p;
        std::string outcomes;
        for (size_t k = 0; k < t.runs.size(); ++k) {
          outcomes += (k ? "; " : "") + std::to_string(k + 1) + ": " + Describe(t.runs[k]);
        }
        std::string last_err = t.runs.empty() ? "" : t.runs.back().err;
        ADD_FAILURE() << w.label << " killed at " << PlanText(plan) << ":" << all
                      << "\n  runs: " << outcomes << "\n  last run's stderr:\n"
                      << last_err;
      }
    }
    if (failures > 5) ADD_FAILURE() << w.label << ": " << failures - 5 << " more failed trials";
    if (w.conformance) ++conformance_run;
    std::set<std::string> points(ref.trace.begin(), ref.trace.end());
    std::printf("  %-40s %3zu kill points (%3zu passings), %3zu trials, %5.1f s of runs, %5.1f s\n",
                w.label.c_str(), points.size(), ref.trace.size(), wr.plans.size(), wr.job_seconds,
                std::chrono::duration<double>(wr.end - wr.start).count());
  }
  std::printf(
      "crash test: %d trials; %d kills at %zu distinct named kill points (%d planned passings "
      "not reached), %d random-moment kills; %d allowed at-least-once re-runs of steps that "
      "were running at a kill; %d at-most-once steps interrupted; %d callbacks re-sent by the "
      "test; %.1f s with %d jobs\n",
      totals.trials, totals.named_kills, totals.points.size(), totals.not_reached,
      totals.random_kills, totals.allowed_reruns, totals.interrupted, runner.fallbacks(),
      SecondsSince(test_start), g_jobs);
  if (conformance_run + conformance_unfinished + conformance_over_budget + conformance_slow +
          conformance_without_scenario_ >
      0) {
    std::printf(
        "conformance workflows: %d crash-tested, %d skipped (not finished within %.0f s with the "
        "scenario's input and callback actions), %d skipped as slow (over 4 s uninterrupted), "
        "%d not run (over the %.0f s budget), %d without a scenario; --full runs them all\n",
        conformance_run, conformance_unfinished, kConformanceRunSeconds, conformance_slow,
        conformance_over_budget, g_conformance_seconds, conformance_without_scenario_);
    for (const auto& u : unfinished) std::printf("    not finished: %s\n", u.c_str());
  }
  std::fflush(stdout);
  EXPECT_GT(totals.named_kills, 0);
}

}  // namespace
}  // namespace cairn::crash

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--full") cairn::crash::g_full = true;
    if (a == "--quick") {
      cairn::crash::g_quick = true;
      cairn::crash::g_conformance_seconds = 20;
    }
    if (a.rfind("--random=", 0) == 0) cairn::crash::g_random_trials = std::stoi(a.substr(9));
    if (a.rfind("--conformance-seconds=", 0) == 0) {
      cairn::crash::g_conformance_seconds = std::stod(a.substr(22));
    }
    if (a.rfind("--jobs=", 0) == 0) cairn::crash::g_jobs = std::max(1, std::stoi(a.substr(7)));
    if (a.rfind("--only=", 0) == 0) cairn::crash::g_only = a.substr(7);
    if (a.rfind("--seed=", 0) == 0) cairn::crash::g_seed = static_cast<unsigned>(std::stoul(a.substr(7)));
  }
  return RUN_ALL_TESTS();
}
