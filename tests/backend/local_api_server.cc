// A local durable service for the SDK test (sdk_test.mjs): opens a store in
// a fresh temporary directory, starts three executions whose scripted
// handlers wait on callbacks (or a long wait), serves the HTTP API on
// 127.0.0.1 (a free port) and prints one JSON line on stdout:
//   {"port": N, "arn": …, "callbackId": …, "stopArn": …, "cliCallbackId": …}
// It serves until its standard input is closed, then removes the store.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "backend/local/http_api.h"
#include "backend/local/local_durable_service.h"
#include "backend/local/sqlite_store.h"
#include "backend/local/testing/mini_sdk.h"
#include "backend/local/testing/temp_dir.h"

using cairn::backend::local::HttpApi;
using cairn::backend::local::LocalDurableService;
using cairn::backend::local::SqliteStore;
using cairn::backend::local::testing::MiniSdk;
using cairn::backend::local::testing::ScriptedInvoker;

int main() {
  cairn::backend::local::testing::TempDir dir;
  auto store = SqliteStore::Open(dir.File("store.db"));
  if (!store.ok()) {
    std::fprintf(stderr, "local_api_server: %s\n", store.error().ToString().c_str());
    return 1;
  }
  std::mutex mu;
  std::map<std::string, std::string> callbacks;  // execution name → callback id
  ScriptedInvoker invoker([&](MiniSdk& sdk) {
    std::string name = sdk.arn().substr(0, sdk.arn().rfind('/'));
    name = name.substr(name.rfind('/') + 1);
    if (name == "to-stop") {
      sdk.Wait(3600);
      return std::string("null");
    }
    std::string result = sdk.Callback("approval", 600, 0, [&](const std::string& id) {
      std::lock_guard lock(mu);
      callbacks[name] = id;
    });
    return sdk.Step("after", [&] { return result; });
  });
  auto service = LocalDurableService::Create(**store, cairn::SystemClock::Instance(), &invoker);
  if (!service.ok()) {
    std::fprintf(stderr, "local_api_server: %s\n", service.error().ToString().c_str());
    return 1;
  }
  std::map<std::string, std::string> arns;
  for (const char* name : {"sdk-test", "to-stop", "cli-test"}) {
    auto started =
        (*service)->StartExecution({"sdk-flow", name, "{\"from\":\"sdk\"}", std::nullopt});
    if (!started.ok()) {
      std::fprintf(stderr, "local_api_server: %s\n", started.error().ToString().c_str());
      return 1;
    }
    arns[name] = started->arn;
  }
  if (auto st = (*service)->RunUntilIdle(); !st.ok()) {
    std::fprintf(stderr, "local_api_server: %s\n", st.error().ToString().c_str());
    return 1;
  }
  HttpApi api(**service);
  auto port = api.Start();
  if (!port.ok()) {
    std::fprintf(stderr, "local_api_server: %s\n", port.error().ToString().c_str());
    return 1;
  }
  std::thread server([&] { (void)(*service)->Serve(); });
  nlohmann::json ready = {{"port", *port},
                          {"arn", arns["sdk-test"]},
                          {"callbackId", callbacks["sdk-test"]},
                          {"stopArn", arns["to-stop"]},
                          {"cliCallbackId", callbacks["cli-test"]}};
  std::cout << ready.dump() << std::endl;
  std::string line;
  while (std::getline(std::cin, line)) {
  }
  api.Stop();
  (*service)->Stop();
  server.join();
  return 0;
}
