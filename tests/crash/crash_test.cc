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
// Arguments (after the gtest ones): --full kills at every passing of every
// point (the default kills at the first, the last and one random passing of
// each point; for workflows with real-time waits, one random passing);
// --random=N random-moment trials per workflow (default 2; 1 for slow ones);
// --conformance-seconds=S the time budget of the conformance workflows
// (default 30; they are visited in a shuffled order); --seed=N.
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "backend/local/kill_points.h"
#include "backend/local/sqlite_store.h"
#include "backend/local/testing/temp_dir.h"
#include "crash/cairn_process.h"

namespace cairn::crash {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using protocol::ExecutionStatus;

bool g_full = false;
int g_random_trials = 2;
double g_conformance_seconds = 30;
unsigned g_seed = 20260101;

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
  // From tests/conformance: run within a time budget, skipped when it does
  // not finish on its own with input {}.
  bool conformance = false;
};

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

std::string StepOfToken(const std::string& token) { return token.substr(0, token.find('#')); }

std::map<std::string, int> CountByStep(const std::vector<std::string>& lines, size_t from = 0) {
  std::map<std::string, int> out;
  for (size_t i = from; i < lines.size(); ++i) out[StepOfToken(lines[i])]++;
  return out;
}

int FreePort() {
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

class CrashRunner {
 public:
  CrashRunner(std::string cairn, std::string tmp) : cairn_(std::move(cairn)), tmp_(std::move(tmp)) {}

  // Runs `w` once in `dir` under `plan` (empty plan = uninterrupted); fills
  // the trace when `trace` is set. Returns the runs' results.
  struct Trial {
    std::vector<ProcessResult> runs;
    std::vector<Snapshot> after_kill;                // the store after each kill
    std::vector<std::vector<std::string>> counters;  // $CRASH_COUNTER after each kill
    Snapshot final;
    std::vector<std::string> counter;
    std::vector<std::string> trace;
  };

  Trial Run(const Workflow& w, const std::string& dir, const KillPlan& plan, bool trace) {
    fs::create_directories(dir);
    Trial t;
    const std::string store = dir + "/cairn.db";
    const std::string counter = dir + "/counter";
    const int port = FreePort();
    std::set<std::string> callbacks_done;
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
      o.timeout_seconds = w.conformance ? 6 : 90;
      auto started = std::chrono::steady_clock::now();
      auto last_fallback = started;
      o.tick = [&] {
        if (w.callback_result) PlayCallback(dir, store, *w.callback_result, callbacks_done);
        auto now = std::chrono::steady_clock::now();
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
      t.runs.push_back(r);
      if (!r.killed) break;
      t.after_kill.push_back(ReadStore(store));
      t.counters.push_back(Lines(counter));
    }
    t.final = ReadStore(store);
    t.counter = Lines(counter);
    if (trace) t.trace = Lines(dir + "/trace");
    return t;
  }

 private:
  // The external party: completes each callback id the workflow wrote.
  void PlayCallback(const std::string& dir, const std::string& store, const std::string& result,
                    std::set<std::string>& done) {
    std::string id = ReadFile(dir + "/callback-id");
    if (id.empty() || done.count(id)) return;
    ProcessOptions o;
    o.env = {{"CAIRN_ENDPOINT", ""}, {"CAIRN_STORE", ""}, {"CAIRN_KILL_AT", ""},
             {"CAIRN_KILL_TRACE", ""}};
    o.timeout_seconds = 20;
    auto r = RunProcess({cairn_, "callback", "succeed", id, "--result", result, "--store", store},
                        dir + "/callback", o);
    // Sent, or the callback is already complete: either way it is done.
    if (r.exited && (r.exit_code == 0 || r.err.find("already completed") != std::string::npos)) {
      done.insert(id);
    }
  }

  // Sends the result of every callback the history shows still open.
  void FallbackCallback(const std::string& dir, const std::string& store, const std::string& result) {
    ProcessOptions o;
    o.env = {{"CAIRN_ENDPOINT", ""}, {"CAIRN_STORE", ""}, {"CAIRN_KILL_AT", ""},
             {"CAIRN_KILL_TRACE", ""}};
    o.timeout_seconds = 20;
    auto h = RunProcess({cairn_, "history", kExecutionName, "--store", store, "--format", "json"},
                        dir + "/history", o);
    auto j = json::parse(h.out, nullptr, false);
    if (j.is_discarded() || !j.contains("Events")) return;
    std::set<std::string> open;
    std::map<std::string, std::string> id_of_op;
    for (const auto& e : j["Events"]) {
      std::string type = e.value("EventType", "");
      if (type == "CallbackStarted") {
        open.insert(e.value("Id", ""));
        id_of_op[e.value("Id", "")] = e["CallbackStartedDetails"].value("CallbackId", "");
      } else if (type.rfind("Callback", 0) == 0) {
        open.erase(e.value("Id", ""));
      }
    }
    for (const auto& op : open) {
      ++fallbacks_;
      RunProcess({cairn_, "callback", "succeed", id_of_op[op], "--result", result, "--store", store},
                 dir + "/fallback", o);
    }
  }

  std::string cairn_;
  std::string tmp_;

 public:
  int fallbacks_ = 0;
};

class CrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cairn_ = std::string(CAIRN_BINARY_DIR) + "/interpreter/cli/cairn";
    if (!fs::exists(cairn_)) GTEST_SKIP() << "build the cairn target first (" << cairn_ << ")";
    if (!backend::local::KillPointsCompiledIn()) {
      GTEST_SKIP() << "this build has no kill points: configure with -DCAIRN_KILL_POINTS=ON";
    }
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
    const fs::path conformance = fs::path(src) / "tests" / "conformance";
    if (fs::exists(conformance)) {
      std::vector<fs::path> files;
      for (const auto& e : fs::recursive_directory_iterator(conformance)) {
        if (e.path().extension() == ".yaml") files.push_back(e.path());
      }
      std::sort(files.begin(), files.end());
      std::shuffle(files.begin(), files.end(), std::mt19937(g_seed));
      for (const auto& f : files) {
        Workflow c{"conformance/" + fs::relative(f, conformance).string(), f.string()};
        c.slow = true;
        c.conformance = true;
        out.push_back(c);
      }
    }
    return out;
  }

  std::string cairn_;
};

// The checks of one trial against the reference; returns problems.
std::vector<std::string> Check(const Workflow& w, const Reference& ref,
                               const CrashRunner::Trial& t, Totals& totals) {
  std::vector<std::string> problems;
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
  // No completed step ran again.
  size_t seen = 0;
  for (size_t k = 0; k < t.after_kill.size(); ++k) {
    const auto& lines = t.counters[k];
    auto before = CountByStep(lines);
    auto completed = Completions(t.after_kill[k].events);
    auto after = CountByStep(t.counter, lines.size());
    for (const auto& [step, n] : before) {
      int c = completed.count(step) ? completed[step] : 0;
      int total = ref.runs.count(step) ? ref.runs.at(step) : 0;
      int later = after.count(step) ? after[step] : 0;
      if (later > total - c) {
        problems.push_back("step " + step + " ran " + std::to_string(later) +
                           " time(s) after kill " + std::to_string(k + 1) + " though " +
                           std::to_string(c) + " of its " + std::to_string(total) +
                           " run(s) were already recorded complete");
      }
      if (n - c > 1) {
        problems.push_back("step " + step + ": " + std::to_string(n - c) +
                           " runs before the kill without a recorded completion");
      }
      if (n > c && later > 0) ++totals.allowed_reruns;
    }
    seen = lines.size();
  }
  (void)seen;
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

TEST_F(CrashTest, EveryKillPointAndRandomKillsLoseNothing) {
  backend::local::testing::TempDir tmp;
  CrashRunner runner(cairn_, tmp.path());
  std::mt19937 rng(g_seed);
  Totals totals;
  int trial_no = 0;
  double conformance_spent = 0;
  int conformance_run = 0, conformance_skipped = 0, conformance_over_budget = 0;
  int conformance_slow = 0;
  for (const Workflow& w : Workflows()) {
    SCOPED_TRACE(w.label);
    if (w.conformance && !g_full && conformance_spent > g_conformance_seconds) {
      ++conformance_over_budget;
      continue;
    }
    auto t0 = std::chrono::steady_clock::now();
    auto spent = [&] {
      if (w.conformance) {
        conformance_spent +=
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      }
    };
    const std::string base = tmp.path() + "/" + std::to_string(trial_no++);
    auto ref_trial = runner.Run(w, base + "-ref", {}, /*trace=*/true);
    Reference ref;
    ref.final = ref_trial.final;
    ref.trace = ref_trial.trace;
    ref.seconds = ref_trial.runs.empty() ? 1 : ref_trial.runs.back().seconds;
    ref.by_operation = ByOperation(ref.final.events);
    ref.runs = CountByStep(ref_trial.counter);
    const bool conformance = w.conformance;
    if (!ref.final.exists || ref.final.status == ExecutionStatus::kRunning) {
      if (conformance) {
        ++conformance_skipped;
        spent();
        continue;
      }
      ADD_FAILURE() << "the uninterrupted run did not finish: "
                    << (ref_trial.runs.empty() ? "" : ref_trial.runs.back().err);
      continue;
    }
    if (conformance && !g_full && ref.seconds > 4) {
      ++conformance_slow;
      spent();
      continue;
    }
    if (!conformance) {
      EXPECT_EQ(ref.final.status, ExecutionStatus::kSucceeded)
          << (ref.final.error ? ref.final.error->type + ": " + ref.final.error->message : "");
    }

    // The kill plans: named points, then random moments.
    std::map<std::string, int> passings;
    for (const auto& p : ref.trace) passings[p]++;
    std::vector<KillPlan> plans;
    for (const auto& [point, count] : passings) {
      std::set<int> ns;
      if (g_full) {
        for (int n = 1; n <= count; ++n) ns.insert(n);
      } else if (conformance) {
        // Within the budget: a third of the points, one passing each.
        if (std::uniform_int_distribution<int>(0, 2)(rng) == 0) {
          ns.insert(std::uniform_int_distribution<int>(1, count)(rng));
        }
      } else if (w.slow) {
        ns.insert(std::uniform_int_distribution<int>(1, count)(rng));
      } else {
        ns.insert(1);
        ns.insert(count);
        ns.insert(std::uniform_int_distribution<int>(1, count)(rng));
      }
      for (int n : ns) plans.push_back({point, n, {}});
    }
    const int max_ms = std::max(50, static_cast<int>(ref.seconds * 1000));
    const int random_trials = conformance || w.slow ? std::min(1, g_random_trials) : g_random_trials;
    for (int i = 0; i < random_trials; ++i) {
      KillPlan p;
      p.random_ms.push_back(std::uniform_int_distribution<int>(0, max_ms)(rng));
      if (i % 2 == 1) p.random_ms.push_back(std::uniform_int_distribution<int>(0, max_ms)(rng));
      plans.push_back(p);
    }

    int failures = 0;
    for (const auto& plan : plans) {
      const std::string what = plan.point.empty()
                                   ? "random kill(s) after " + [&] {
                                       std::string s;
                                       for (int ms : plan.random_ms) s += std::to_string(ms) + "ms ";
                                       return s;
                                     }()
                                   : plan.point + ":" + std::to_string(plan.passing);
      auto t = runner.Run(w, base + "-" + std::to_string(totals.trials), plan, false);
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
        std::string last_err = t.runs.empty() ? "" : t.runs.back().err;
        ADD_FAILURE() << w.label << " killed at " << what << ":" << all
                      << "\n  last run's stderr:\n" << last_err;
      }
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    spent();
    if (conformance) ++conformance_run;
    std::printf("  %-40s %3zu kill points (%3zu passings), %3zu trials, %5.1f s\n",
                w.label.c_str(), passings.size(), ref.trace.size(), plans.size(), secs);
    std::fflush(stdout);
  }
  std::printf(
      "crash test: %d trials; %d kills at %zu distinct named kill points (%d planned passings "
      "not reached), %d random-moment kills; %d allowed at-least-once re-runs of steps that "
      "were running at a kill; %d at-most-once steps interrupted; %d callbacks re-sent by the "
      "test\n",
      totals.trials, totals.named_kills, totals.points.size(), totals.not_reached,
      totals.random_kills, totals.allowed_reruns, totals.interrupted, runner.fallbacks_);
  if (conformance_run + conformance_skipped + conformance_over_budget > 0) {
    std::printf(
        "conformance workflows: %d crash-tested, %d skipped (they do not finish on their own "
        "with input {}), %d skipped as slow (over 4 s uninterrupted), %d not run (over the "
        "%.0f s budget); --full runs them all\n",
        conformance_run, conformance_skipped, conformance_slow, conformance_over_budget,
        g_conformance_seconds);
  }
  EXPECT_GT(totals.named_kills, 0);
}

}  // namespace
}  // namespace cairn::crash

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--full") cairn::crash::g_full = true;
    if (a.rfind("--random=", 0) == 0) cairn::crash::g_random_trials = std::stoi(a.substr(9));
    if (a.rfind("--conformance-seconds=", 0) == 0) {
      cairn::crash::g_conformance_seconds = std::stod(a.substr(22));
    }
    if (a.rfind("--seed=", 0) == 0) cairn::crash::g_seed = static_cast<unsigned>(std::stoul(a.substr(7)));
  }
  return RUN_ALL_TESTS();
}
