// The history the local service records for scripted executions, matched
// against AWS's published conformance scenarios (../shared/conformance):
// '*' matches anything, ${IDn}-style placeholders bind on first sight,
// ${/regex/} matches a regular expression, Variables are substituted, maps
// match as subsets, events are matched by EventId.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <map>
#include <regex>

#include "backend/local/local_durable_service.h"
#include "backend/local/memory_store.h"
#include "backend/local/testing/mini_sdk.h"

namespace cairn::backend::local {
namespace {

using nlohmann::json;
using testing::MiniSdk;
using testing::ScriptedInvoker;
using testing::StepError;
using testing::StepFailure;

std::string ConformanceDir() { return std::string(CAIRN_SOURCE_DIR) + "/../shared/conformance"; }

json ToJsonValue(const YAML::Node& n) {
  if (n.IsMap()) {
    json j = json::object();
    for (const auto& kv : n) j[kv.first.as<std::string>()] = ToJsonValue(kv.second);
    return j;
  }
  if (n.IsSequence()) {
    json j = json::array();
    for (const auto& v : n) j.push_back(ToJsonValue(v));
    return j;
  }
  if (n.IsNull()) return nullptr;
  return n.as<std::string>();
}

std::string Scalar(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

class Matcher {
 public:
  explicit Matcher(std::map<std::string, std::string> variables) : vars_(std::move(variables)) {}

  // Substitutes ${VAR} for the scenario's variables in every string.
  json Substitute(const json& v) const {
    if (v.is_object() || v.is_array()) {
      json out = v;
      for (auto& [k, x] : out.items()) x = Substitute(x);
      return out;
    }
    if (!v.is_string()) return v;
    std::string s = v.get<std::string>();
    for (const auto& [name, value] : vars_) {
      std::string token = "${" + name + "}";
      for (size_t pos; (pos = s.find(token)) != std::string::npos;)
        s.replace(pos, token.size(), value);
    }
    return s;
  }

  bool Match(const json& expected, const json& actual, const std::string& path, std::string* why) {
    if (expected.is_string()) {
      const std::string e = expected.get<std::string>();
      if (e == "*") return true;
      static const std::regex placeholder(R"(^\$\{([A-Za-z0-9_]+)\}$)");
      static const std::regex pattern(R"(^\$\{/(.*)/\}$)");
      std::smatch m;
      if (std::regex_match(e, m, placeholder)) {
        auto [it, inserted] = bound_.emplace(m[1], Scalar(actual));
        if (inserted || it->second == Scalar(actual)) return true;
        *why = path + ": " + e + " was bound to '" + it->second + "', now '" + Scalar(actual) + "'";
        return false;
      }
      if (std::regex_match(e, m, pattern)) {
        if (std::regex_search(Scalar(actual), std::regex(m[1].str()))) return true;
        *why = path + ": '" + Scalar(actual) + "' does not match /" + m[1].str() + "/";
        return false;
      }
      if (e == Scalar(actual)) return true;
      *why = path + ": expected '" + e + "', got " + actual.dump();
      return false;
    }
    if (expected.is_object()) {
      if (!actual.is_object()) {
        *why = path + ": expected an object, got " + actual.dump();
        return false;
      }
      for (const auto& [k, v] : expected.items()) {
        if (!actual.contains(k)) {
          *why = path + "." + k + ": missing in " + actual.dump();
          return false;
        }
        if (!Match(v, actual[k], path + "." + k, why)) return false;
      }
      return true;
    }
    if (expected.is_null()) return true;
    *why = path + ": unsupported expectation " + expected.dump();
    return false;
  }

 private:
  std::map<std::string, std::string> vars_;
  std::map<std::string, std::string> bound_;
};

class ConformanceTest : public ::testing::Test {
 protected:
  ConformanceTest() : clock_(1'764'000'000'000) {}

  // Loads scenario `suite/id`; returns false (and skips) when the shared
  // conformance suite is not beside the checkout.
  bool Load(const std::string& relative) {
    std::string path = ConformanceDir() + "/" + relative;
    if (!std::filesystem::exists(path)) return false;
    scenario_ = YAML::LoadFile(path);
    if (scenario_["Variables"]) {
      for (const auto& kv : scenario_["Variables"]) {
        std::string spec = kv.second.as<std::string>();
        std::string value = spec;
        std::smatch m;
        static const std::regex gen(R"(^\$\{GEN_STR:(\d+)\}$)");
        if (std::regex_match(spec, m, gen)) value = std::string(std::stoul(m[1]), 'q') + "X";
        vars_[kv.first.as<std::string>()] = value;
      }
    }
    return true;
  }

  std::string Var(const std::string& name) { return vars_.at(name); }

  // The scenario's Input as the JSON text the runner passes.
  std::string Input() {
    if (!scenario_["Input"] || scenario_["Input"].IsNull()) return "{}";
    Matcher m(vars_);
    json v = m.Substitute(ToJsonValue(scenario_["Input"]));
    std::string s = v.get<std::string>();
    if (json::accept(s) && !s.empty() &&
        (std::isdigit(static_cast<unsigned char>(s[0])) || s[0] == '{'))
      return s;
    return json(s).dump();
  }

  void Run(ScriptedInvoker::Handler handler, const std::function<void()>& between = {}) {
    invoker_ = std::make_unique<ScriptedInvoker>(std::move(handler));
    auto s = LocalDurableService::Create(store_, clock_, invoker_.get());
    ASSERT_TRUE(s.ok());
    service_ = std::move(*s);
    auto started = service_->StartExecution({"conformance", std::nullopt, Input(), std::nullopt});
    ASSERT_TRUE(started.ok()) << started.error().ToString();
    arn_ = started->arn;
    IdleOptions idle;
    idle.advance_clock = &clock_;
    if (between) {
      ASSERT_TRUE(service_->RunUntilIdle().ok());
      between();
    }
    ASSERT_TRUE(service_->RunUntilIdle(idle).ok());
  }

  void ExpectMatchesScenario() {
    HistoryRequest r;
    r.arn = arn_;
    auto page = service_->GetHistory(r);
    ASSERT_TRUE(page.ok());
    std::map<int64_t, json> actual;
    json all = json::array();
    for (const auto& e : page->events) {
      actual[e.event_id] = HistoryEventToJson(e, true);
      all.push_back(actual[e.event_id]);
    }
    ASSERT_FALSE(actual.empty());
    EXPECT_EQ(actual.begin()->second["EventType"], "ExecutionStarted");
    Matcher m(vars_);
    json expected = m.Substitute(ToJsonValue(scenario_["ExpectedExecutionHistory"]));
    for (const auto& e : expected) {
      int64_t id = std::stoll(e["EventId"].get<std::string>());
      ASSERT_TRUE(actual.count(id)) << "no event " << id << "; history: " << all.dump(1);
      std::string why;
      EXPECT_TRUE(m.Match(e, actual[id], "event " + std::to_string(id), &why))
          << why << "\nhistory: " << all.dump(1);
    }
    auto status = scenario_["ExpectedResult"]["ExecutionStatus"].as<std::string>();
    auto exec = service_->GetExecution(arn_);
    ASSERT_TRUE(exec.ok());
    EXPECT_EQ(std::string(protocol::ToString(exec->progress.status)), status);
    if (scenario_["ExpectedResult"]["Result"]) {
      json result = json::parse(exec->progress.result.value_or("null"));
      EXPECT_EQ(
          Scalar(result),
          m.Substitute(ToJsonValue(scenario_["ExpectedResult"]["Result"])).get<std::string>());
    }
  }

  YAML::Node scenario_;
  std::map<std::string, std::string> vars_;
  MemoryStore store_;
  FakeClock clock_;
  std::unique_ptr<ScriptedInvoker> invoker_;
  std::unique_ptr<LocalDurableService> service_;
  std::string arn_;
};

TEST(ConformanceMatcherTest, RejectsMismatches) {
  Matcher m(std::map<std::string, std::string>{{"V", "v1"}});
  std::string why;
  EXPECT_TRUE(m.Match(json{{"A", "*"}}, json{{"A", 1}, {"B", 2}}, "x", &why));
  EXPECT_FALSE(m.Match(json{{"C", "*"}}, json{{"A", 1}}, "x", &why));
  EXPECT_TRUE(m.Match(json("${ID1}"), json("abc"), "x", &why));
  EXPECT_FALSE(m.Match(json("${ID1}"), json("abd"), "x", &why)) << "bound to abc";
  EXPECT_TRUE(m.Match(json("2"), json(2), "x", &why));
  EXPECT_FALSE(m.Match(json("3"), json(2), "x", &why));
  EXPECT_TRUE(m.Match(json("${/^[0-5]$/}"), json(4), "x", &why));
  EXPECT_FALSE(m.Match(json("${/^[0-5]$/}"), json(7), "x", &why));
  EXPECT_EQ(m.Substitute(json("a${V}b")), json("av1b"));
}

#define LOAD_OR_SKIP(path) \
  if (!Load(path)) GTEST_SKIP() << "conformance suite not found at " << ConformanceDir()

TEST_F(ConformanceTest, Step_1_1_Basic) {
  LOAD_OR_SKIP("step/1-1.yaml");
  Run([](MiniSdk& sdk) {
    std::string who = json::parse(sdk.input()).get<std::string>();
    return sdk.Step("", [&] { return json("Hello, " + who + "!").dump(); });
  });
  ExpectMatchesScenario();
}

TEST_F(ConformanceTest, Step_1_10_FailedStepIsNotRerun) {
  LOAD_OR_SKIP("step/1-10.yaml");
  int runs = 0;
  Run([&](MiniSdk& sdk) {
    try {
      sdk.Step("", [&]() -> std::string {
        ++runs;
        throw StepError{{"Error", "boom", std::nullopt, {}}};
      });
    } catch (const StepFailure&) {
    }
    sdk.Wait(1);
    return std::string("null");
  });
  EXPECT_EQ(runs, 1);
  ExpectMatchesScenario();
}

TEST_F(ConformanceTest, Step_1_11_RetryThenSucceed) {
  LOAD_OR_SKIP("step/1-11.yaml");
  int attempts = 0;
  Run([&](MiniSdk& sdk) {
    return sdk.Step(
        "",
        [&]() -> std::string {
          if (++attempts == 1) throw StepError{{"Error", "first attempt fails", std::nullopt, {}}};
          return json("Operation succeeded").dump();
        },
        3, 1);
  });
  ExpectMatchesScenario();
}

TEST_F(ConformanceTest, Wait_2_1_Basic) {
  LOAD_OR_SKIP("wait/2-1.yaml");
  Run([](MiniSdk& sdk) {
    sdk.Wait(2);
    return std::string("null");
  });
  ExpectMatchesScenario();
}

TEST_F(ConformanceTest, Child_3_1_Basic) {
  LOAD_OR_SKIP("child/3-1.yaml");
  Run([](MiniSdk& sdk) {
    return sdk.ChildContext(
        "", [&](MiniSdk& child) { return child.Step("", [&] { return sdk.input(); }); });
  });
  ExpectMatchesScenario();
}

TEST_F(ConformanceTest, Callback_4_1_SuccessViaApi) {
  LOAD_OR_SKIP("callback/4-1.yaml");
  std::string id;
  Run(
      [&](MiniSdk& sdk) {
        std::string name = json::parse(sdk.input()).get<std::string>();
        return sdk.Callback(name, 0, 0, [&](const std::string& cb) { id = cb; });
      },
      [&] {
        clock_.Advance(1000);
        ASSERT_TRUE(service_->SendCallbackSuccess(id, json(Var("CB_PAYLOAD")).dump()).ok());
      });
  ExpectMatchesScenario();
}

TEST_F(ConformanceTest, Callback_4_3_Timeout) {
  LOAD_OR_SKIP("callback/4-3.yaml");
  Run([](MiniSdk& sdk) {
    std::string name = json::parse(sdk.input()).get<std::string>();
    return sdk.Callback(name, 5);
  });
  ExpectMatchesScenario();
}

TEST_F(ConformanceTest, Callback_4_14_TimeoutCaughtThenWait) {
  LOAD_OR_SKIP("callback/4-14.yaml");
  Run([](MiniSdk& sdk) {
    std::string name = json::parse(sdk.input()).get<std::string>();
    try {
      sdk.Callback(name, 3);
    } catch (const StepFailure&) {
    }
    sdk.Wait(2);
    return std::string("\"timed out\"");
  });
  ExpectMatchesScenario();
}

TEST_F(ConformanceTest, WaitForCondition_6_1_Polls) {
  LOAD_OR_SKIP("wait_for_condition/6-1.yaml");
  Run([](MiniSdk& sdk) {
    int threshold = std::stoi(sdk.input());
    return sdk.WaitForCondition(
        "0",
        [&](const std::string& state) {
          int next = std::stoi(state) + 1;
          return std::make_pair(std::to_string(next), next >= threshold);
        },
        1);
  });
  ExpectMatchesScenario();
}

TEST_F(ConformanceTest, WaitForCallback_7_5_TimesOut) {
  LOAD_OR_SKIP("wait_for_callback/7-5.yaml");
  Run([](MiniSdk& sdk) {
    std::string name = json::parse(sdk.input()).get<std::string>();
    return sdk.ChildContext(
        name,
        [](MiniSdk& ctx) {
          auto [op_id, callback_id] = ctx.CreateCallback(std::nullopt, 3);
          ctx.Step("", [&] { return std::string("null"); });
          return ctx.AwaitCallback(op_id);
        },
        "WaitForCallback");
  });
  ExpectMatchesScenario();
}

}  // namespace
}  // namespace cairn::backend::local
