#include "cli/exec_commands.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <functional>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <httplib.h>
#include <iomanip>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "backend/local/history.h"
#include "backend/local/http_api.h"
#include "backend/local/kill_points.h"
#include "backend/local/local_durable_service.h"
#include "backend/local/sqlite_store.h"
#include "cli/environment.h"
#include "cli/local_state.h"
#include "cli/workflow_catalog.h"
#include "core/scheduling.h"
#include "engine/engine.h"
#include "validate/validate.h"

namespace cairn::cli {
namespace {

using nlohmann::json;
namespace local = backend::local;
namespace fs = std::filesystem;

constexpr const char* kApi = "/2025-12-01";

// ---- small helpers ----

Result<std::string> ReadArgument(const std::string& value, const char* what) {
  if (value == "-") {
    std::ostringstream buf;
    buf << std::cin.rdbuf();
    return buf.str();
  }
  if (!value.empty() && value[0] == '@') {
    std::ifstream in(value.substr(1), std::ios::binary);
    if (!in) return MakeError("usage", std::string(what) + ": cannot read " + value.substr(1));
    std::ostringstream buf;
    buf << in.rdbuf();
    return buf.str();
  }
  return value;
}

Result<std::string> JsonArgument(const std::string& value, const char* what) {
  auto text = ReadArgument(value, what);
  if (!text.ok()) return text;
  auto j = json::parse(*text, nullptr, false);
  if (j.is_discarded()) return MakeError("usage", std::string(what) + " is not valid JSON");
  return j.dump();
}

std::string PercentEncode(const std::string& s) {
  std::ostringstream out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out << c;
    } else {
      out << '%' << std::uppercase << std::hex << std::setw(2) << std::setfill('0')
          << static_cast<int>(c) << std::dec;
    }
  }
  return out.str();
}

std::string FormatMs(int64_t ms) {
  if (ms < 1000) return std::to_string(ms) + " ms";
  std::ostringstream out;
  out << std::fixed << std::setprecision(1) << static_cast<double>(ms) / 1000.0 << " s";
  return out.str();
}

// An API timestamp (epoch seconds, number) as "2026-01-02 03:04:05" (local time).
std::string FormatTime(const json& t) {
  if (!t.is_number()) return t.is_string() ? t.get<std::string>() : "-";
  auto secs = static_cast<std::time_t>(t.get<double>());
  std::tm tm{};
  localtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

std::string Shorten(std::string s, size_t max) {
  for (char& c : s) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  if (s.size() > max) s = s.substr(0, max - 3) + "...";
  return s;
}

std::string StoreFlag(const std::string& flag, const std::string& path) {
  return flag.empty() ? "" : " --store " + path;
}

// ---- signals: SIGINT/SIGTERM are blocked in every thread and taken by sigwait ----

class SignalWatcher {
 public:
  // REQUIRES: no other thread runs yet (the mask is inherited by threads).
  SignalWatcher() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
  }
  ~SignalWatcher() {
    done_ = true;
    if (thread_.joinable()) thread_.join();
  }
  // Calls `on_signal` (on the watcher's thread) at the first signal.
  void Start(std::function<void()> on_signal) {
    thread_ = std::thread([this, on_signal = std::move(on_signal)] {
      timespec tick{0, 100'000'000};
      while (!done_) {
        if (sigtimedwait(&set_, nullptr, &tick) > 0) {
          signaled_ = true;
          on_signal();
          return;
        }
      }
    });
  }
  void Finish() {
    done_ = true;
    if (thread_.joinable()) thread_.join();
  }
  bool signaled() const { return signaled_; }

 private:
  sigset_t set_;
  std::atomic<bool> done_{false};
  std::atomic<bool> signaled_{false};
  std::thread thread_;
};

// A free TCP port of 127.0.0.1 (`requested` when not 0).
Result<int> PickPort(int requested) {
  if (requested != 0) return requested;
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return MakeError("io", "cannot open a socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  if (port <= 0) return MakeError("io", "cannot find a free port on 127.0.0.1");
  return port;
}

std::string StoreOpenMessage(const Error& e, const std::string& path) {
  if (e.code == local::kStoreLockedError) {
    std::string msg = "the store " + path + " is held by another cairn process";
    if (auto server = ReadServerFile(path)) {
      msg += " (a server, pid " + std::to_string(server->pid) + ", port " +
             std::to_string(server->port) + ")";
    }
    return msg + ": stop it (Ctrl-C) or use another --store";
  }
  return "cannot open the store " + path + ": " + e.ToString();
}

// ---- the server part shared by `run` and `serve` ----

class LocalServer {
 public:
  // Opens the store, exports CAIRN_ENDPOINT/CAIRN_STORE/CAIRN_BIN and builds
  // the service. REQUIRES: single-threaded (it calls SetEnv).
  Status Open(const std::string& store_path, int port, EventSink sink) {
    store_path_ = store_path;
    // Crash tests only (kill_points.h): refused by builds without kill points.
    if (auto spec = GetEnv("CAIRN_KILL_AT"); spec && !spec->empty()) {
      if (Status s = local::ArmKillPoint(*spec); !s.ok()) return s;
    }
    if (auto trace = GetEnv("CAIRN_KILL_TRACE"); trace && !trace->empty()) {
      if (Status s = local::TraceKillPoints(*trace); !s.ok()) return s;
    }
    local::SqliteStoreOptions so;
    so.busy_timeout_ms = 500;
    auto store = local::SqliteStore::Open(store_path, so);
    if (!store.ok()) return MakeError("store", StoreOpenMessage(store.error(), store_path));
    store_ = std::move(*store);
    auto picked = PickPort(port);
    if (!picked.ok()) return picked.error();
    port_ = *picked;
    SetEnv("CAIRN_ENDPOINT", "http://127.0.0.1:" + std::to_string(port_));
    SetEnv("CAIRN_STORE", store_path);
    if (!GetEnv("CAIRN_BIN")) {
      std::error_code ec;
      auto self = fs::read_symlink("/proc/self/exe", ec);
      if (!ec) SetEnv("CAIRN_BIN", self.string());
    }
    catalog_ = std::make_unique<WorkflowCatalog>(store_path, std::move(sink));
    return {};
  }

  WorkflowCatalog& catalog() { return *catalog_; }
  local::LocalDurableService& service() { return *service_; }
  int port() const { return port_; }

  // Creates the service, starts the HTTP API, the server file and Serve().
  Status Start() {
    auto service =
        local::LocalDurableService::Create(*store_, SystemClock::Instance(), catalog_.get());
    if (!service.ok()) return service.error();
    service_ = std::move(*service);
    local::HttpApiOptions ho;
    ho.port = port_;
    api_ = std::make_unique<local::HttpApi>(*service_, ho);
    auto bound = api_->Start();
    if (!bound.ok()) return bound.error();
    Status s = WriteServerFile(store_path_, {port_, static_cast<int>(::getpid())});
    if (!s.ok()) return s;
    wrote_server_file_ = true;
    serve_thread_ = std::thread([this] {
      Status r = service_->Serve();
      if (!r.ok()) std::cerr << "cairn: serve: " << r.error().ToString() << "\n";
    });
    return {};
  }

  void Shutdown() {
    if (service_) service_->Stop();
    if (serve_thread_.joinable()) serve_thread_.join();
    if (api_) api_->Stop();
    if (wrote_server_file_) RemoveServerFile(store_path_);
    wrote_server_file_ = false;
  }

  ~LocalServer() { Shutdown(); }

 private:
  std::string store_path_;
  int port_ = 0;
  std::unique_ptr<local::SqliteStore> store_;
  std::unique_ptr<WorkflowCatalog> catalog_;
  std::unique_ptr<local::LocalDurableService> service_;
  std::unique_ptr<local::HttpApi> api_;
  std::thread serve_thread_;
  bool wrote_server_file_ = false;
};

// One live step event as a line (plus the command for a callback).
std::string FormatEvent(const engine::StepEvent& e, const std::string& store_hint) {
  using K = engine::StepEvent::Kind;
  std::string attempt = e.attempt > 1 ? " (attempt " + std::to_string(e.attempt) + ")" : "";
  switch (e.kind) {
    case K::kStarted:
      return "  ▸ " + e.step + " started" + attempt;
    case K::kSucceeded:
      return "  ✓ " + e.step + " " + FormatMs(e.duration_ms);
    case K::kFailed:
      return "  ✗ " + e.step + " " + FormatMs(e.duration_ms) + ": " + e.detail;
    case K::kRetrying:
      return "  ↻ " + e.step + " " + FormatMs(e.duration_ms) + ": " + e.detail + " (will retry)";
    case K::kWaiting:
      return "  ⏸ " + e.step + " waiting " + e.detail;
    case K::kCallbackWaiting:
      return "  ☎ " + e.step + " waits for callback " + e.detail +
             "\n    complete it: cairn callback succeed " + e.detail + " --result '{...}'" +
             store_hint;
    case K::kLog:
      return "  · " + e.step + ": " + e.detail;
  }
  return "";
}

std::string ErrorText(const std::optional<protocol::ErrorObject>& e) {
  if (!e) return "(no error)";
  return e->type + (e->message.empty() ? "" : ": " + e->message);
}

}  // namespace

// ---- cairn run ----

int RunRun(const RunCommand& cmd, const Terminal& term) {
  ValidationResult r = ValidateFile(cmd.file);
  if (!r.ok()) {
    PrintDiagnostics(r.diagnostics, cmd.file, term, *term.err);
    *term.err << cmd.file << ": not run: the workflow has errors (see above)\n";
    return 1;
  }
  auto input = JsonArgument(cmd.input, "--input");
  if (!input.ok()) {
    *term.err << "cairn run: " << input.error().message << "\n";
    return 2;
  }
  if (auto params = engine::ResolveParams(r.definition, &RawGetEnv); !params.ok()) {
    *term.err << cmd.file << ": " << params.error().ToString() << "\n";
    return 1;
  }
  auto store_path = ResolveStorePath(cmd.store);
  if (!store_path.ok()) {
    *term.err << "cairn run: " << store_path.error().ToString() << "\n";
    return 1;
  }
  const std::string hint = StoreFlag(cmd.store, *store_path);

  SignalWatcher signals;
  std::mutex print_mu;
  std::string arn;  // set before the first invocation can report
  std::mutex arn_mu;
  LocalServer server;
  Status opened = server.Open(*store_path, cmd.port,
                              [&](const std::string& event_arn, const engine::StepEvent& e) {
                                {
                                  std::lock_guard lock(arn_mu);
                                  if (event_arn != arn) return;
                                }
                                std::lock_guard lock(print_mu);
                                *term.err << FormatEvent(e, hint) << std::endl;
                              });
  if (!opened.ok()) {
    *term.err << "cairn run: " << opened.error().message << "\n";
    return 1;
  }
  auto name = server.catalog().Add(cmd.file);
  if (!name.ok()) {
    *term.err << "cairn run: " << name.error().ToString() << "\n";
    return 1;
  }
  if (Status s = RegisterWorkflow(*store_path, *name, cmd.file); !s.ok()) {
    *term.err << "cairn run: " << s.error().ToString() << "\n";
    return 1;
  }
  if (Status s = server.Start(); !s.ok()) {
    *term.err << "cairn run: " << s.error().ToString() << "\n";
    return 1;
  }
  signals.Start([&server] { server.service().Stop(); });

  local::StartExecutionRequest req;
  req.function_name = *name;
  if (!cmd.name.empty()) req.name = cmd.name;
  req.input = *input;
  if (r.definition.timeout.value) {
    req.execution_timeout_seconds = std::max<int64_t>(1, r.definition.timeout.value->millis / 1000);
  }
  std::string exec_name;
  {
    std::lock_guard lock(arn_mu);
    auto started = server.service().StartExecution(req);
    if (!started.ok()) {
      *term.err << "cairn run: cannot start the execution: " << started.error().ToString() << "\n";
      server.Shutdown();
      signals.Finish();
      return 1;
    }
    arn = started->arn;
    exec_name = started->name;
    std::lock_guard plock(print_mu);
    *term.err << (started->already_existed ? "resuming " : "running ") << *name << " as execution "
              << exec_name << " (server on 127.0.0.1:" << server.port() << ")" << std::endl;
  }

  auto t0 = std::chrono::steady_clock::now();
  local::ExecutionRecord record;
  while (true) {
    auto got = server.service().GetExecution(arn);
    if (got.ok()) {
      record = *got;
      if (record.progress.status != protocol::ExecutionStatus::kRunning) break;
    }
    if (signals.signaled()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  server.Shutdown();
  signals.Finish();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - t0)
                .count();
  std::lock_guard plock(print_mu);
  if (record.progress.status == protocol::ExecutionStatus::kRunning) {
    *term.err << "\ninterrupted: execution " << exec_name
              << " is kept in the store and still RUNNING; resume it with `cairn serve" << hint
              << "`\n";
    return 130;
  }
  std::string status(protocol::ToString(record.progress.status));
  if (record.progress.status == protocol::ExecutionStatus::kSucceeded) {
    *term.err << "execution " << exec_name << " " << status << " in " << FormatMs(ms) << "\n";
    std::string result = record.progress.result.value_or("null");
    auto j = json::parse(result, nullptr, false);
    *term.out << (j.is_discarded() ? result : j.dump(2)) << "\n";
    return 0;
  }
  *term.err << "execution " << exec_name << " " << status << " after " << FormatMs(ms) << ": "
            << ErrorText(record.progress.error) << "\n";
  return 1;
}

// ---- cairn serve ----

int RunServe(const ServeCommand& cmd, const Terminal& term) {
  // First, so that every thread of the server is created under it.
  if (!cmd.no_batch_scheduling) (void)UseBatchScheduling();
  auto store_path = ResolveStorePath(cmd.store);
  if (!store_path.ok()) {
    *term.err << "cairn serve: " << store_path.error().ToString() << "\n";
    return 1;
  }
  const std::string hint = StoreFlag(cmd.store, *store_path);
  SignalWatcher signals;
  std::mutex print_mu;
  LocalServer server;
  Status opened = server.Open(*store_path, cmd.port,
                              [&](const std::string& arn, const engine::StepEvent& e) {
                                std::lock_guard lock(print_mu);
                                auto parts = protocol::ParseExecutionArn(arn);
                                std::string_view who = parts ? parts->name : arn;
                                *term.err << "[" << who << "]" << FormatEvent(e, hint)
                                          << std::endl;
                              });
  if (!opened.ok()) {
    *term.err << "cairn serve: " << opened.error().message << "\n";
    return 1;
  }
  if (!cmd.workflows_dir.empty()) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(cmd.workflows_dir, ec)) {
      auto ext = entry.path().extension();
      if (ext != ".yaml" && ext != ".yml") continue;
      auto name = server.catalog().Add(entry.path().string());
      if (!name.ok()) {
        *term.err << "skipped " << entry.path().string() << ": " << name.error().ToString()
                  << "\n";
      } else {
        *term.err << "workflow " << *name << " ← " << entry.path().string() << "\n";
      }
    }
    if (ec) {
      *term.err << "cairn serve: cannot read " << cmd.workflows_dir << ": " << ec.message() << "\n";
      return 1;
    }
  }
  if (Status s = server.Start(); !s.ok()) {
    *term.err << "cairn serve: " << s.error().ToString() << "\n";
    return 1;
  }
  *term.err << "serving " << *store_path << " on http://127.0.0.1:" << server.port()
            << " (Ctrl-C to stop)" << std::endl;
  signals.Start([&server] { server.service().Stop(); });
  while (!signals.signaled()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  server.Shutdown();
  signals.Finish();
  *term.err << "stopped; pending executions stay in the store\n";
  return 0;
}

// ---- access to a store: through a running server or directly ----

namespace {

// The API shapes of GetDurableExecution / List / History / Stop, from a
// server's HTTP API or straight from the store.
class Access {
 public:
  virtual ~Access() = default;
  virtual Result<json> Get(const std::string& arn) = 0;
  // ListDurableExecutionsByFunction summaries; all workflows when empty.
  virtual Result<json> List(const std::string& workflow, const std::string& status) = 0;
  virtual Result<json> History(const std::string& arn) = 0;
  virtual Result<json> Stop(const std::string& arn) = 0;
  virtual std::vector<std::string> Workflows() = 0;

  // An ARN, or the name of an execution (of any workflow).
  Result<std::string> ResolveArn(const std::string& execution) {
    if (execution.rfind("arn:", 0) == 0) return execution;
    auto all = List("", "");
    if (!all.ok()) return all.error();
    std::vector<std::string> found;
    for (const auto& e : *all) {
      if (e.value("DurableExecutionName", "") == execution) {
        found.push_back(e["DurableExecutionArn"].get<std::string>());
      }
    }
    if (found.empty()) return MakeError("not_found", "no execution named '" + execution + "'");
    if (found.size() > 1) {
      return MakeError("ambiguous",
                       "several executions are named '" + execution + "': give the ARN");
    }
    return found[0];
  }
};

class DirectAccess final : public Access {
 public:
  Status Open(const std::string& path) {
    local::SqliteStoreOptions so;
    so.busy_timeout_ms = 300;
    auto store = local::SqliteStore::Open(path, so);
    if (!store.ok()) return store.error();
    store_ = std::move(*store);
    auto service = local::LocalDurableService::Create(*store_, SystemClock::Instance(), nullptr);
    if (!service.ok()) return service.error();
    service_ = std::move(*service);
    return {};
  }
  local::LocalDurableService& service() { return *service_; }

  Result<json> Get(const std::string& arn) override {
    auto r = service_->GetExecution(arn);
    if (!r.ok()) return r.error();
    json j = Summary(*r);
    j["InputPayload"] = r->input;
    j["Version"] = "$LATEST";
    if (r->progress.result) j["Result"] = *r->progress.result;
    if (r->progress.error) j["Error"] = protocol::ToJson(*r->progress.error);
    return j;
  }
  Result<json> List(const std::string& workflow, const std::string& status) override {
    local::ExecutionQuery q;
    if (!workflow.empty()) q.function_name = workflow;
    if (!status.empty()) {
      auto s = protocol::ParseExecutionStatus(status);
      if (!s.ok()) return s.error();
      q.statuses.push_back(*s);
    }
    q.include_payloads = false;
    q.limit = 1000;
    json out = json::array();
    while (true) {
      auto page = store_->FindExecutions(q);
      if (!page.ok()) return page.error();
      for (const auto& r : *page) out.push_back(Summary(r));
      if (page->size() < q.limit) break;
      q.cursor = page->back().seq;
    }
    return out;
  }
  Result<json> History(const std::string& arn) override {
    local::HistoryRequest req;
    req.arn = arn;
    json out = json::array();
    while (true) {
      auto page = service_->GetHistory(req);
      if (!page.ok()) return page.error();
      for (const auto& e : page->events) out.push_back(local::HistoryEventToJson(e, true));
      if (page->next_marker.empty()) break;
      req.marker = page->next_marker;
    }
    return out;
  }
  Result<json> Stop(const std::string& arn) override {
    auto t = service_->StopExecution(arn, std::nullopt);
    if (!t.ok()) return t.error();
    return json{{"StopTimestamp", protocol::TimestampToJson(*t)}};
  }
  std::vector<std::string> Workflows() override { return {}; }

 private:
  json Summary(const local::ExecutionRecord& r) const {
    json j = {{"DurableExecutionArn", r.arn},
              {"DurableExecutionName", r.name},
              {"FunctionArn", service_->FunctionArn(r.function_name) + ":$LATEST"},
              {"Status", protocol::ToString(r.progress.status)},
              {"StartTimestamp", protocol::TimestampToJson(r.start_timestamp)}};
    if (r.progress.end_timestamp) {
      j["EndTimestamp"] = protocol::TimestampToJson(*r.progress.end_timestamp);
    }
    return j;
  }

  std::unique_ptr<local::SqliteStore> store_;
  std::unique_ptr<local::LocalDurableService> service_;
};

Error ApiError(const httplib::Result& res) {
  if (!res) return MakeError("unreachable", "the server does not answer");
  auto body = json::parse(res->body, nullptr, false);
  std::string message =
      body.is_object() && body.contains("message") ? body["message"].get<std::string>() : res->body;
  return MakeError(res->get_header_value("X-Amzn-ErrorType"), message);
}

class HttpAccess final : public Access {
 public:
  HttpAccess(std::string host, int port, std::string store_path)
      : client_(host, port), store_path_(std::move(store_path)) {
    client_.set_tcp_nodelay(true);
    client_.set_connection_timeout(2);
    client_.set_read_timeout(30);
  }

  Result<json> Call(const std::string& method, const std::string& path,
                    const std::string& body = "") {
    auto res = method == "GET" ? client_.Get(path) : client_.Post(path, body, "application/json");
    if (!res || res->status / 100 != 2) return ApiError(res);
    if (res->body.empty()) return json::object();
    auto j = json::parse(res->body, nullptr, false);
    if (j.is_discarded()) return MakeError("http", "the server's answer is not JSON");
    return j;
  }

  Result<json> Get(const std::string& arn) override {
    return Call("GET", std::string(kApi) + "/durable-executions/" + PercentEncode(arn));
  }
  Result<json> List(const std::string& workflow, const std::string& status) override {
    std::vector<std::string> names =
        workflow.empty() ? Workflows() : std::vector<std::string>{workflow};
    json out = json::array();
    for (const auto& name : names) {
      std::string marker;
      do {
        std::string path = std::string(kApi) + "/functions/" + PercentEncode(name) +
                           "/durable-executions?MaxItems=1000";
        if (!status.empty()) path += "&Statuses=" + PercentEncode(status);
        if (!marker.empty()) path += "&Marker=" + PercentEncode(marker);
        auto page = Call("GET", path);
        if (!page.ok()) return page;
        for (auto& e : (*page)["DurableExecutions"]) out.push_back(e);
        marker = page->value("NextMarker", "");
      } while (!marker.empty());
    }
    return out;
  }
  Result<json> History(const std::string& arn) override {
    json out = json::array();
    std::string marker;
    do {
      std::string path = std::string(kApi) + "/durable-executions/" + PercentEncode(arn) +
                         "/history?IncludeExecutionData=true&MaxItems=1000";
      if (!marker.empty()) path += "&Marker=" + PercentEncode(marker);
      auto page = Call("GET", path);
      if (!page.ok()) return page;
      for (auto& e : (*page)["Events"]) out.push_back(e);
      marker = page->value("NextMarker", "");
    } while (!marker.empty());
    return out;
  }
  Result<json> Stop(const std::string& arn) override {
    return Call("POST", std::string(kApi) + "/durable-executions/" + PercentEncode(arn) + "/stop");
  }
  std::vector<std::string> Workflows() override {
    std::vector<std::string> names;
    for (const auto& [name, file] : ReadRegistry(store_path_)) names.push_back(name);
    return names;
  }

 private:
  httplib::Client client_;
  std::string store_path_;
};

// Access through the server that holds the store, else directly.
Result<std::unique_ptr<Access>> OpenAccess(const std::string& flag) {
  auto path = ResolveStorePath(flag);
  if (!path.ok()) return path.error();
  if (auto server = ReadServerFile(*path)) {
    auto http = std::make_unique<HttpAccess>("127.0.0.1", server->port, *path);
    auto probe = http->Call("GET", std::string(kApi) + "/functions/-/durable-executions?MaxItems=1");
    if (probe.ok() || probe.error().code != "unreachable") return std::unique_ptr<Access>(std::move(http));
  }
  if (!fs::exists(*path)) {
    return MakeError("store", "no store at " + *path + " (nothing has run yet)");
  }
  auto direct = std::make_unique<DirectAccess>();
  Status s = direct->Open(*path);
  if (!s.ok()) return MakeError("store", StoreOpenMessage(s.error(), *path));
  return std::unique_ptr<Access>(std::move(direct));
}

std::string ErrorMessage(const Error& e) {
  if (e.code == backend::kNotFoundError || e.code == "ResourceNotFoundException") {
    return "no such execution (" + e.message + ")";
  }
  return e.message;
}

void PrintTable(std::ostream& out, const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    width.resize(std::max(width.size(), row.size()));
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    out << line << "\n";
  }
}

std::string ElapsedText(const json& e) {
  if (!e.contains("EndTimestamp") || !e["StartTimestamp"].is_number()) return "-";
  return FormatMs(static_cast<int64_t>(
      (e["EndTimestamp"].get<double>() - e["StartTimestamp"].get<double>()) * 1000));
}

// The short details of a history event for one line of text.
std::string EventDetails(const json& event) {
  std::string type = event.value("EventType", "");
  const json& d = event.value(type + "Details", json::object());
  auto payload = [](const json& o) -> std::string {
    if (!o.is_object() || !o.contains("Payload")) return "";
    const json& p = o["Payload"];
    return p.is_string() ? p.get<std::string>() : p.dump();
  };
  std::string text;
  if (type == "InvocationCompleted" && d["StartTimestamp"].is_number() &&
      d["EndTimestamp"].is_number()) {
    text = FormatMs(static_cast<int64_t>(
        (d["EndTimestamp"].get<double>() - d["StartTimestamp"].get<double>()) * 1000));
    if (d.contains("Error")) {
      const json& err = d["Error"].value("Payload", json::object());
      text += ", " + err.value("ErrorType", "") + ": " + err.value("ErrorMessage", "");
    }
  } else if (d.contains("Error")) {
    const json& err = d["Error"].value("Payload", json::object());
    text = err.value("ErrorType", "") + ": " + err.value("ErrorMessage", "");
  } else if (d.contains("Result")) {
    text = payload(d["Result"]);
  } else if (d.contains("Input")) {
    text = "input " + payload(d["Input"]);
  } else if (d.contains("CallbackId")) {
    text = "callback " + d["CallbackId"].get<std::string>();
  } else if (d.contains("Duration")) {
    text = d["Duration"].dump() + " s";
  } else if (!d.empty()) {
    text = d.dump();
  }
  return Shorten(text, 80);
}

}  // namespace

int RunList(const QueryCommand& cmd, const Terminal& term) {
  auto access = OpenAccess(cmd.store);
  if (!access.ok()) {
    *term.err << "cairn list: " << access.error().message << "\n";
    return 1;
  }
  auto list = (*access)->List(cmd.workflow, cmd.status);
  if (!list.ok()) {
    *term.err << "cairn list: " << ErrorMessage(list.error()) << "\n";
    return 1;
  }
  if (cmd.format == OutputFormat::kJson) {
    *term.out << json{{"DurableExecutions", *list}}.dump(2) << "\n";
    return 0;
  }
  if (list->empty()) {
    *term.out << "no executions\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows = {
      {"NAME", "WORKFLOW", "STATUS", "STARTED", "DURATION"}};
  for (const auto& e : *list) {
    rows.push_back({e.value("DurableExecutionName", ""),
                    FunctionNameOfArn(e.value("DurableExecutionArn", "")),
                    e.value("Status", ""), FormatTime(e["StartTimestamp"]), ElapsedText(e)});
  }
  PrintTable(*term.out, rows);
  return 0;
}

// The store (directly or through the running server) and the ARN of
// `cmd.execution`; on failure prints "cairn <verb>: <why>" and returns false.
bool OpenExecution(const QueryCommand& cmd, const char* verb, const Terminal& term,
                   std::unique_ptr<Access>* access, std::string* arn) {
  auto opened = OpenAccess(cmd.store);
  if (!opened.ok()) {
    *term.err << "cairn " << verb << ": " << opened.error().message << "\n";
    return false;
  }
  auto resolved = (*opened)->ResolveArn(cmd.execution);
  if (!resolved.ok()) {
    *term.err << "cairn " << verb << ": " << ErrorMessage(resolved.error()) << "\n";
    return false;
  }
  *access = std::move(*opened);
  *arn = std::move(*resolved);
  return true;
}

int RunShow(const QueryCommand& cmd, const Terminal& term) {
  std::unique_ptr<Access> access;
  std::string arn;
  if (!OpenExecution(cmd, "show", term, &access, &arn)) return 1;
  auto e = access->Get(arn);
  if (!e.ok()) {
    *term.err << "cairn show: " << ErrorMessage(e.error()) << "\n";
    return 1;
  }
  if (cmd.format == OutputFormat::kJson) {
    *term.out << e->dump(2) << "\n";
    return 0;
  }
  auto pretty = [](const json& v) {
    if (!v.is_string()) return v.dump();
    auto j = json::parse(v.get<std::string>(), nullptr, false);
    return j.is_discarded() ? v.get<std::string>() : j.dump();
  };
  std::vector<std::vector<std::string>> rows = {
      {"Name", e->value("DurableExecutionName", "")},
      {"Workflow", FunctionNameOfArn(arn)},
      {"Status", e->value("Status", "")},
      {"Started", FormatTime((*e)["StartTimestamp"])},
      {"Ended", e->contains("EndTimestamp") ? FormatTime((*e)["EndTimestamp"]) : "-"},
      {"Duration", ElapsedText(*e)},
      {"ARN", arn},
      {"Input", Shorten(pretty((*e)["InputPayload"]), 200)}};
  if (e->contains("Result")) rows.push_back({"Result", Shorten(pretty((*e)["Result"]), 400)});
  if (e->contains("Error")) {
    const json& err = (*e)["Error"];
    rows.push_back({"Error", err.value("ErrorType", "") + ": " + err.value("ErrorMessage", "")});
  }
  for (auto& row : rows) row[0] += ":";
  PrintTable(*term.out, rows);
  return 0;
}

int RunHistory(const QueryCommand& cmd, const Terminal& term) {
  std::unique_ptr<Access> access;
  std::string arn;
  if (!OpenExecution(cmd, "history", term, &access, &arn)) return 1;
  auto events = access->History(arn);
  if (!events.ok()) {
    *term.err << "cairn history: " << ErrorMessage(events.error()) << "\n";
    return 1;
  }
  if (cmd.format == OutputFormat::kJson) {
    *term.out << json{{"Events", *events}}.dump(2) << "\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows = {{"ID", "TIME", "TYPE", "NAME", "DETAILS"}};
  for (const auto& e : *events) {
    std::string time = FormatTime(e["EventTimestamp"]);
    if (e["EventTimestamp"].is_number()) {
      auto ms = static_cast<int64_t>(e["EventTimestamp"].get<double>() * 1000) % 1000;
      std::ostringstream frac;
      frac << "." << std::setw(3) << std::setfill('0') << ms;
      time = time.substr(11) + frac.str();
    }
    rows.push_back({std::to_string(e.value("EventId", 0)), time, e.value("EventType", ""),
                    e.value("Name", ""), EventDetails(e)});
  }
  PrintTable(*term.out, rows);
  return 0;
}

int RunStop(const QueryCommand& cmd, const Terminal& term) {
  std::unique_ptr<Access> access;
  std::string arn;
  if (!OpenExecution(cmd, "stop", term, &access, &arn)) return 1;
  auto stopped = access->Stop(arn);
  if (!stopped.ok()) {
    const Error& e = stopped.error();
    if (e.code == backend::kInvalidRequestError || e.code == "InvalidParameterValueException") {
      *term.err << "cairn stop: the execution has already ended (" << e.message << ")\n";
    } else {
      *term.err << "cairn stop: " << ErrorMessage(e) << "\n";
    }
    return 1;
  }
  *term.out << "stopped " << cmd.execution << "\n";
  return 0;
}

// ---- cairn callback ----

int RunCallback(const CallbackCommand& cmd, const Terminal& term) {
  const std::string who = "cairn callback " + cmd.action;
  std::string body;
  protocol::ErrorObject error{cmd.error_name, cmd.message, std::nullopt, {}};
  if (cmd.action == "succeed") {
    auto result = JsonArgument(cmd.result, "--result");
    if (!result.ok()) {
      *term.err << who << ": " << result.error().message << "\n";
      return 2;
    }
    body = *result;
  } else if (cmd.action == "fail") {
    body = protocol::ToJson(error).dump();
  }
  const std::string unknown = "callback ID is unknown, expired or already completed";

  // CAIRN_ENDPOINT (set for the processes a run or a Lambda function
  // starts) names the service to send to; no store is involved then.
  std::string host = "127.0.0.1";
  int port = 0;
  if (auto endpoint = GetEnv("CAIRN_ENDPOINT"); endpoint && !endpoint->empty() && cmd.store.empty()) {
    std::string rest = *endpoint;
    if (rest.rfind("http://", 0) == 0) rest = rest.substr(7);
    auto colon = rest.rfind(':');
    if (colon != std::string::npos) {
      host = rest.substr(0, colon);
      port = std::atoi(rest.substr(colon + 1).c_str());
    }
    if (port <= 0) {
      *term.err << who << ": CAIRN_ENDPOINT is not http://HOST:PORT: " << *endpoint << "\n";
      return 2;
    }
  }
  const bool from_endpoint = port != 0;
  Result<std::string> store_path = std::string();
  if (!from_endpoint) {
    store_path = ResolveStorePath(cmd.store);
    if (!store_path.ok()) {
      *term.err << who << ": " << store_path.error().ToString() << "\n";
      return 1;
    }
    if (auto server = ReadServerFile(*store_path)) port = server->port;
  }
  if (port != 0) {
    httplib::Client client(host, port);
    client.set_tcp_nodelay(true);
    client.set_connection_timeout(2);
    client.set_read_timeout(30);
    std::string path = std::string(kApi) + "/durable-execution-callbacks/" +
                       PercentEncode(cmd.id) + "/" + cmd.action;
    auto res = client.Post(path, body, "application/json");
    if (res) {
      if (res->status / 100 == 2) {
        *term.out << "callback " << cmd.id << ": " << cmd.action << " sent\n";
        return 0;
      }
      Error e = ApiError(res);
      if (e.code == "CallbackTimeoutException" || e.code == "ResourceNotFoundException") {
        *term.err << who << ": " << unknown << "\n";
      } else {
        *term.err << who << ": " << e.code << ": " << e.message << "\n";
      }
      return 1;
    }
    if (from_endpoint) {
      *term.err << who << ": cannot reach CAIRN_ENDPOINT " << host << ":" << port << " ("
                << httplib::to_string(res.error()) << ")\n";
      return 1;
    }
  }
  if (!fs::exists(*store_path)) {
    *term.err << who << ": " << unknown << " (no store at " << *store_path << ")\n";
    return 1;
  }
  DirectAccess direct;
  if (Status s = direct.Open(*store_path); !s.ok()) {
    *term.err << who << ": " << StoreOpenMessage(s.error(), *store_path) << "\n";
    return 1;
  }
  Status sent;
  if (cmd.action == "succeed") {
    sent = direct.service().SendCallbackSuccess(cmd.id, body);
  } else if (cmd.action == "fail") {
    sent = direct.service().SendCallbackFailure(cmd.id, error);
  } else {
    sent = direct.service().SendCallbackHeartbeat(cmd.id);
  }
  if (!sent.ok()) {
    const Error& e = sent.error();
    if (e.code == backend::kCallbackTimeoutError || e.code == backend::kInvalidRequestError) {
      *term.err << who << ": " << unknown << "\n";
    } else {
      *term.err << who << ": " << e.ToString() << "\n";
    }
    return 1;
  }
  *term.out << "callback " << cmd.id << ": " << cmd.action
            << " recorded (the execution continues when `cairn serve` runs)\n";
  return 0;
}

}  // namespace cairn::cli
