// The history the local service records for scripted executions, matched
// against AWS's published conformance scenarios (../shared/conformance) by
// the shared matcher (testing/conformance_matcher.h: '*', ${IDn} bindings,
// ${/regex/}, Variables, maps as subsets, events by EventId). Workflows run
// against the same scenarios in tests/conformance.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <map>
#include <regex>

#include "backend/local/local_durable_service.h"
#include "backend/local/memory_store.h"
#include "backend/local/testing/conformance_matcher.h"
#include "backend/local/testing/mini_sdk.h"

namespace cairn::backend::local {
namespace {

using nlohmann::json;
using testing::Matcher;
using testing::MiniSdk;
using testing::ScalarText;
using testing::ScriptedInvoker;
using testing::StepError;
using testing::StepFailure;

std::string ConformanceDir() { return std::string(CAIRN_SOURCE_DIR) + "/../shared/conformance"; }

// Scenario YAML as JSON with every scalar a string (these tests compare
// scalars as text; Input() types the input itself).
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

std::string Scalar(const json& v) { return ScalarText(v); }

class ConformanceTest : public ::testing::Test {
 protected:
  ConformanceTest() : clock_(1'764'000'000'000) {}

  // Loads scenario `suite/id`; returns false (and skips) when the shared
  // conformance suite is not beside the checkout.
  bool Load(const std::string& relative) {
    std::string path = ConformanceDir() + "/" + relative;
    if (!std::filesystem::exists(path)) return false;
    scenario_ = YAML::LoadFile(path);
    vars_ = testing::MakeVariables(scenario_["Variables"]);
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

// The store keeps events as HistoryEventText writes them: the same bytes as
// the JSON tree's dump (key order, escapes, timestamps, non-ASCII text).
TEST(HistoryEventTextTest, SameBytesAsTheJsonDump) {
  std::vector<HistoryEvent> events;
  HistoryEvent a;
  a.event_id = 7;
  a.event_type = "StepSucceeded";
  a.timestamp = 1'764'000'000'123;
  a.id = "c4ca4238a0b92382";
  a.name = "say \"hi\"\n\t\\ \x01\x1f\x7f";
  a.parent_id = "p";
  a.sub_type = "Step";
  a.details = {{"Result", {{"Payload", "{\"x\":[1,2.5,\"\u00e9\"]}"}}},
               {"RetryDetails", {{"CurrentAttempt", 1}}}};
  events.push_back(a);
  HistoryEvent b;
  b.event_id = 1;
  b.event_type = "InvocationCompleted";
  b.timestamp = 1'764'000'000'000;
  b.details = {{"RequestId", "r"}, {"StartTimestamp", 1.5}};
  events.push_back(b);
  HistoryEvent c = a;
  c.event_type = "CallbackStarted";
  c.name = "caf\xc3\xa9 \xe2\x9c\x93";  // UTF-8
  c.sub_type.reset();
  c.parent_id.reset();
  c.details = json::object();
  events.push_back(c);
  HistoryEvent d;
  d.event_type = "ExecutionStarted";
  d.event_id = 1;
  d.timestamp = -1500;
  d.id = "";
  d.name = "n";
  events.push_back(d);
  // Every kind of JSON value inside the details (they are written without
  // nlohmann's serializer), and timestamps in milliseconds that repeat (the
  // text of the last one is reused) or differ.
  HistoryEvent f = a;
  f.event_type = "WaitStarted";
  f.timestamp = 1'764'000'000'001;
  f.details = {{"Duration", 3600},
               {"Unsigned", uint64_t{18'446'744'073'709'551'615ULL}},
               {"Negative", int64_t{-9'223'372'036'854'775'807LL - 1}},
               {"Float", -0.125},
               {"Big", 1e300},
               {"True", true},
               {"False", false},
               {"Null", nullptr},
               {"EmptyObject", json::object()},
               {"EmptyArray", json::array()},
               {"Array", {1, "two\n", {{"k\x01", {nullptr, 2.5}}}, json::array()}},
               {"caf\u00e9 key", "quote \" backslash \\ ctl \x02 del \x7f \u00e9"},
               {"B", "zzz"},
               {"a", "lower case sorts after upper"}};
  events.push_back(f);
  HistoryEvent g = f;  // the same millisecond timestamp again
  g.event_id = 9;
  events.push_back(g);
  HistoryEvent h = f;
  h.timestamp = 1'764'000'000'999;
  events.push_back(h);
  for (const auto& e : events) {
    EXPECT_EQ(HistoryEventText(e), HistoryEventToJson(e, true).dump()) << e.event_type;
  }
}

// The details the hot events build as text are the bytes the JSON tree of
// the same details gives, and such an event reads back and compares as one
// built with the tree.
TEST(HistoryEventTextTest, DetailsBuiltAsTextMatchTheTree) {
  const std::vector<std::optional<std::string>> payloads = {
      std::nullopt, "", "{\"n\":1}", "quote \" backslash \\ ctl \x01\x1f del \x7f",
      "caf\xc3\xa9 \xe2\x9c\x93", std::string(300, 'x')};
  for (const auto& payload : payloads) {
    for (std::optional<int> attempt : {std::optional<int>(), std::optional<int>(1),
                                       std::optional<int>(12345)}) {
      json tree = {{"Result", PayloadObject(payload)}};
      if (attempt) tree["RetryDetails"] = {{"CurrentAttempt", *attempt}};
      const std::string text = ResultDetailsText(payload, attempt);
      EXPECT_EQ(text, tree.dump());
      protocol::Operation op;
      op.id = "c4ca4238a0b92382";
      op.name = "n";
      op.sub_type = "Step";
      HistoryEvent by_text = OperationEvent("StepSucceeded", op, 1'764'000'000'123, text);
      HistoryEvent by_tree = OperationEvent("StepSucceeded", op, 1'764'000'000'123, tree);
      EXPECT_EQ(HistoryEventText(by_text), HistoryEventText(by_tree));
      EXPECT_EQ(HistoryEventToJson(by_text, false), HistoryEventToJson(by_tree, false));
      EXPECT_EQ(by_text, by_tree);
      EXPECT_EQ(by_text.DetailsJson(), tree);
      HistoryEvent other = by_tree;
      other.details["Result"]["Extra"] = 1;
      EXPECT_NE(by_text, other);
    }
  }
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
