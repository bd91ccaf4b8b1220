// Bad input to the real `cairn` binary: malformed, unknown, expired and
// duplicate callbacks; payloads over the 256 KiB per-operation limit; stores
// that are from a newer schema, locked by another process, or read-only.
// Each must give a clear error and leave everything else intact.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "backend/local/sqlite_store.h"
#include "backend/local/testing/temp_dir.h"
#include "crash/cairn_process.h"

namespace cairn::crash {
namespace {

namespace fs = std::filesystem;
using backend::local::SqliteStore;
using nlohmann::json;

class BadInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cairn_ = std::string(CAIRN_BINARY_DIR) + "/interpreter/cli/cairn";
    if (!fs::exists(cairn_)) GTEST_SKIP() << "build the cairn target first (" << cairn_ << ")";
    store_ = dir_.File("state/cairn.db");
    fs::create_directories(dir_.File("state"));
  }

  std::string Write(const std::string& name, const std::string& text) {
    std::string path = dir_.File(name);
    std::ofstream(path) << text;
    return path;
  }

  ProcessResult Cairn(std::vector<std::string> args, double timeout = 60) {
    args.insert(args.begin(), cairn_);
    ProcessOptions o;
    o.env = {{"CAIRN_ENDPOINT", ""}, {"CAIRN_STORE", ""}, {"CAIRN_KILL_AT", ""},
             {"CAIRN_BIN", cairn_}};
    o.timeout_seconds = timeout;
    return RunProcess(args, dir_.File("p" + std::to_string(n_++)), o);
  }

  // A workflow whose action writes the callback id to a file and waits for it.
  std::string CallbackWorkflow(const std::string& timeout = "5m") {
    return Write("cb.yaml", R"(cairn: 1
name: bad-cb
steps:
  - name: ask
    process.run:
      command: [sh, -c, 'printf %s "$CB" > "$OUT.tmp"; mv "$OUT.tmp" "$OUT"']
      env:
        CB: ${ .callback.id }
        OUT: )" + dir_.File("callback-id") + R"(
    waitForCallback: {timeout: )" + timeout + R"(}
output: ${ .steps.ask.result }
)");
  }

  std::string WaitForCallbackId() {
    for (int i = 0; i < 600; ++i) {
      std::string id = ReadFile(dir_.File("callback-id"));
      if (!id.empty()) return id;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return "";
  }

  backend::local::testing::TempDir dir_;
  std::string cairn_;
  std::string store_;
  int n_ = 0;
};

TEST_F(BadInputTest, CallbackCallsWithBadInputAreClearErrors) {
  std::string wf = CallbackWorkflow();
  ProcessResult run;
  std::thread runner([&] {
    run = Cairn({"run", wf, "--store", store_, "--name", "cb"}, 90);
  });
  std::string id = WaitForCallbackId();
  ASSERT_FALSE(id.empty());

  // Malformed result JSON: a usage error, nothing sent.
  auto bad_json = Cairn({"callback", "succeed", id, "--result", "{not json", "--store", store_});
  EXPECT_EQ(bad_json.exit_code, 2) << bad_json.err;
  EXPECT_NE(bad_json.err.find("not valid JSON"), std::string::npos) << bad_json.err;
  // Unknown and malformed ids.
  auto unknown = Cairn({"callback", "succeed", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "--result", "1",
                        "--store", store_});
  EXPECT_EQ(unknown.exit_code, 1) << unknown.err;
  EXPECT_NE(unknown.err.find("unknown, expired or already completed"), std::string::npos)
      << unknown.err;
  for (const std::string& bad : {std::string("not an id!"), std::string(2000, 'a')}) {
    auto r = Cairn({"callback", "succeed", bad, "--result", "1", "--store", store_});
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find("CallbackId must be 1 to 1024 characters"), std::string::npos) << r.err;
  }
  // A result over 256 KiB: refused, the callback stays open.
  const std::string big_path = Write("big.json", "\"" + std::string(300 * 1024, 'x') + "\"");
  auto big = Cairn({"callback", "succeed", id, "--result", "@" + big_path, "--store", store_});
  EXPECT_EQ(big.exit_code, 1) << big.err;
  EXPECT_NE(big.err.find("RequestTooLarge"), std::string::npos) << big.err;
  // The real answer, then the same again (a duplicate).
  auto ok = Cairn({"callback", "succeed", id, "--result", R"({"fine": true})", "--store", store_});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  runner.join();
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("\"fine\": true"), std::string::npos) << run.out;
  auto dup = Cairn({"callback", "succeed", id, "--result", "1", "--store", store_});
  EXPECT_EQ(dup.exit_code, 1);
  EXPECT_NE(dup.err.find("unknown, expired or already completed"), std::string::npos) << dup.err;

  auto store = SqliteStore::Open(store_);
  ASSERT_TRUE(store.ok()) << store.error().ToString();
  EXPECT_TRUE((*store)->CheckConsistency().ok());
}

TEST_F(BadInputTest, ExpiredCallbackIsAClearError) {
  std::string wf = CallbackWorkflow("1s");
  auto run = Cairn({"run", wf, "--store", store_, "--name", "late"}, 60);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("Callback.Timeout"), std::string::npos) << run.err;
  std::string id = ReadFile(dir_.File("callback-id"));
  ASSERT_FALSE(id.empty());
  auto late = Cairn({"callback", "succeed", id, "--result", "1", "--store", store_});
  EXPECT_EQ(late.exit_code, 1);
  EXPECT_NE(late.err.find("unknown, expired or already completed"), std::string::npos) << late.err;
}

TEST_F(BadInputTest, OversizedStepResultFailsOnlyItsExecution) {
  // 300 KiB of stdout: the step's result is over the 256 KiB limit.
  std::string big = Write("big.yaml", R"(cairn: 1
name: too-big
steps:
  - name: spew
    process.run:
      command: [sh, -c, 'head -c 307200 /dev/zero | tr "\0" x']
)");
  std::string small = Write("small.yaml", R"(cairn: 1
name: small
steps:
  - name: hello
    process.run:
      command: [echo, hi]
output: ${ .steps.hello.stdout }
)");
  auto r1 = Cairn({"run", small, "--store", store_, "--name", "before"});
  ASSERT_EQ(r1.exit_code, 0) << r1.err;
  auto r2 = Cairn({"run", big, "--store", store_, "--name", "big"});
  EXPECT_EQ(r2.exit_code, 1) << r2.err;
  EXPECT_NE(r2.err.find("FAILED"), std::string::npos) << r2.err;
  EXPECT_NE(r2.err.find("262144"), std::string::npos) << "the error names the limit: " << r2.err;
  auto r3 = Cairn({"run", small, "--store", store_, "--name", "after"});
  EXPECT_EQ(r3.exit_code, 0) << r3.err;
  auto list = Cairn({"list", "--store", store_, "--format", "json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  auto j = json::parse(list.out);
  std::map<std::string, std::string> status;
  for (const auto& e : j["DurableExecutions"]) status[e["DurableExecutionName"]] = e["Status"];
  EXPECT_EQ(status["before"], "SUCCEEDED");
  EXPECT_EQ(status["big"], "FAILED");
  EXPECT_EQ(status["after"], "SUCCEEDED");
  auto store = SqliteStore::Open(store_);
  ASSERT_TRUE(store.ok());
  EXPECT_TRUE((*store)->CheckConsistency().ok());
}

TEST_F(BadInputTest, StoreFromANewerSchemaIsRefused) {
  {
    auto store = SqliteStore::Open(store_);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->SetSchemaVersionForTesting(SqliteStore::kSchemaVersion + 1).ok());
  }
  std::string wf = Write("ok.yaml", "cairn: 1\nname: ok\nsteps:\n  - name: a\n    set: 1\n");
  for (auto args : std::vector<std::vector<std::string>>{
           {"run", wf, "--store", store_}, {"list", "--store", store_},
           {"serve", "--store", store_}}) {
    auto r = Cairn(args, 20);
    EXPECT_EQ(r.exit_code, 1) << args[0] << ": " << r.err;
    EXPECT_NE(r.err.find("newer cairn"), std::string::npos) << args[0] << ": " << r.err;
  }
}

TEST_F(BadInputTest, LockedStoreIsAClearError) {
  auto held = SqliteStore::Open(store_);  // this process holds it
  ASSERT_TRUE(held.ok());
  std::string wf = Write("ok.yaml", "cairn: 1\nname: ok\nsteps:\n  - name: a\n    set: 1\n");
  auto run = Cairn({"run", wf, "--store", store_}, 20);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("held by another cairn process"), std::string::npos) << run.err;
  auto list = Cairn({"list", "--store", store_}, 20);
  EXPECT_EQ(list.exit_code, 1);
  EXPECT_NE(list.err.find("held by another cairn process"), std::string::npos) << list.err;
  auto cb = Cairn({"callback", "succeed", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "--store", store_}, 20);
  EXPECT_EQ(cb.exit_code, 1);
  EXPECT_NE(cb.err.find("held by another cairn process"), std::string::npos) << cb.err;
  EXPECT_TRUE((*held)->CheckConsistency().ok());
}

TEST_F(BadInputTest, ReadOnlyStoreIsAClearError) {
  std::string wf = Write("ok.yaml", "cairn: 1\nname: ok\nsteps:\n  - name: a\n    set: 1\n");
  auto first = Cairn({"run", wf, "--store", store_, "--name", "one"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  fs::permissions(store_, fs::perms::owner_read);
  // Root ignores permissions; an immutable file (ext4's chattr +i) is
  // read-only even for root.
  bool immutable = false;
  if (::access(store_.c_str(), W_OK) == 0) {
    immutable = std::system(("chattr +i '" + store_ + "' 2>/dev/null").c_str()) == 0;
    if (!immutable) {
      GTEST_SKIP() << "running as root on a file system without chattr +i: a read-only store "
                      "cannot be made here";
    }
  }
  auto run = Cairn({"run", wf, "--store", store_, "--name", "two"}, 20);
  auto list = Cairn({"list", "--store", store_}, 20);
  if (immutable) (void)std::system(("chattr -i '" + store_ + "'").c_str());
  fs::permissions(store_, fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("read-only"), std::string::npos) << run.err;
  EXPECT_EQ(list.exit_code, 1);
  EXPECT_NE(list.err.find("read-only"), std::string::npos) << list.err;
  // Writable again: the store is intact and usable.
  auto again = Cairn({"run", wf, "--store", store_, "--name", "three"});
  EXPECT_EQ(again.exit_code, 0) << again.err;
}

}  // namespace
}  // namespace cairn::crash
