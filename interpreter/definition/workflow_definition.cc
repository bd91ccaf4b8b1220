#include "definition/workflow_definition.h"

#include <array>
#include <utility>

namespace cairn {
namespace {

using nlohmann::json;

constexpr std::array<std::pair<StepKind, const char*>, 12> kKindKeys = {{
    {StepKind::kWait, "wait"},
    {StepKind::kCallback, "callback"},
    {StepKind::kAwait, "await"},
    {StepKind::kPoll, "poll"},
    {StepKind::kSet, "set"},
    {StepKind::kSwitch, "switch"},
    {StepKind::kParallel, "parallel"},
    {StepKind::kMap, "map"},
    {StepKind::kGroup, "group"},
    {StepKind::kSucceed, "succeed"},
    {StepKind::kFail, "fail"},
    {StepKind::kWaitForCallback, "waitForCallback"},
}};

bool IsExpressionString(const json& v) {
  if (!v.is_string()) return false;
  const auto& s = v.get_ref<const std::string&>();
  auto b = s.find_first_not_of(" \t\r\n");
  return b != std::string::npos && s.compare(b, 2, "${") == 0;
}

DurationField ReadDuration(const json& parent, const std::string& key, const std::string& path) {
  DurationField f;
  if (!parent.is_object() || !parent.contains(key)) return f;
  f.path = PointerAppend(path, key);
  f.raw = parent.at(key);
  if (IsExpressionString(f.raw)) {
    f.is_expression = true;
  } else if (f.raw.is_string()) {
    auto d = ParseDuration(f.raw.get<std::string>());
    if (d.ok()) f.value = *d;
  } else if (f.raw.is_number()) {
    auto d = DurationFromSeconds(f.raw.get<double>());
    if (d.ok()) f.value = *d;
  }
  return f;
}

std::optional<std::string> ReadString(const json& obj, const char* key) {
  if (obj.is_object() && obj.contains(key) && obj.at(key).is_string()) {
    return obj.at(key).get<std::string>();
  }
  return std::nullopt;
}

std::vector<std::string> ReadStrings(const json& obj, const char* key) {
  std::vector<std::string> out;
  if (!obj.is_object() || !obj.contains(key) || !obj.at(key).is_array()) return out;
  for (const auto& v : obj.at(key)) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}

RetrySpec ReadRetry(const json& v, const std::string& path) {
  RetrySpec r;
  r.path = path;
  r.errors = ReadStrings(v, "errors");
  if (v.contains("maxAttempts") && v.at("maxAttempts").is_number_integer()) {
    r.max_attempts = v.at("maxAttempts").get<int>();
  }
  r.interval = ReadDuration(v, "interval", path);
  if (v.contains("backoff") && v.at("backoff").is_number()) r.backoff = v.at("backoff").get<double>();
  r.max_delay = ReadDuration(v, "maxDelay", path);
  if (auto j = ReadString(v, "jitter")) {
    r.jitter = *j == "full" ? Jitter::kFull : *j == "equal" ? Jitter::kEqual : Jitter::kNone;
  }
  return r;
}

CallbackSpec ReadCallback(const json& v, const std::string& path) {
  CallbackSpec c;
  c.path = path;
  c.timeout = ReadDuration(v, "timeout", path);
  c.heartbeat = ReadDuration(v, "heartbeat", path);
  return c;
}

FailSpec ReadFail(const json& v, const std::string& path) {
  FailSpec f;
  f.path = path;
  if (v.is_object()) {
    if (v.contains("error")) f.error = v.at("error");
    if (v.contains("cause")) f.cause = v.at("cause");
  }
  return f;
}

CompletionPolicy ReadPolicy(const json& v) {
  CompletionPolicy p;
  auto get = [&](const char* k) { return v.contains(k) ? v.at(k) : json(); };
  p.max_concurrency = get("maxConcurrency");
  p.tolerated_failure_count = get("toleratedFailureCount");
  p.tolerated_failure_percentage = get("toleratedFailurePercentage");
  p.min_successful = get("minSuccessful");
  return p;
}

// Reads the single action key of an object such as a poll's `check`.
bool ReadAction(const json& obj, const std::string& path, ActionSpec* out) {
  if (!obj.is_object()) return false;
  for (const auto& type : KnownActionTypes()) {
    if (obj.contains(type)) {
      out->type = type;
      out->path = PointerAppend(path, type);
      out->params = obj.at(type);
      return true;
    }
  }
  return false;
}

std::vector<Step> ReadSteps(const json& list, const std::string& path, const Document& doc);

Step ReadStep(const json& v, const std::string& path, const Document& doc) {
  Step s;
  s.path = path;
  if (!v.is_object()) return s;
  if (auto n = ReadString(v, "name")) s.name = *n;
  if (auto d = ReadString(v, "description")) s.description = *d;

  // Kind: exactly one kind key; waitForCallback is a modifier when an action is present.
  bool has_action = ReadAction(v, path, &s.action);
  if (has_action) {
    s.kind_keys.push_back(s.action.type);
    s.kind = StepKind::kAction;
  }
  for (const auto& [kind, key] : kKindKeys) {
    if (!v.contains(key)) continue;
    if (kind == StepKind::kWaitForCallback && has_action) continue;
    s.kind_keys.push_back(key);
    s.kind = kind;
  }
  for (const auto& type : KnownActionTypes()) {
    if (type != s.action.type && v.contains(type)) s.kind_keys.push_back(type);
  }
  if (s.kind_keys.size() != 1) s.kind = StepKind::kInvalid;

  // Modifiers.
  if (v.contains("if")) s.condition = v.at("if");
  s.next = ReadString(v, "next");
  if (v.contains("retry") && v.at("retry").is_object()) {
    s.retry = ReadRetry(v.at("retry"), PointerAppend(path, "retry"));
  }
  if (v.contains("catch") && v.at("catch").is_array()) {
    std::string cpath = PointerAppend(path, "catch");
    size_t i = 0;
    for (const auto& c : v.at("catch")) {
      CatchSpec spec;
      spec.path = PointerAppend(cpath, i++);
      spec.errors = ReadStrings(c, "errors");
      if (auto n = ReadString(c, "next")) spec.next = *n;
      s.catches.push_back(std::move(spec));
    }
  }
  s.timeout = ReadDuration(v, "timeout", path);
  s.result = ReadString(v, "result");
  s.log = ReadString(v, "log");
  if (v.contains("label")) {
    s.has_label = true;
    s.label = v.at("label");
    s.label_path = PointerAppend(path, "label");
  }
  if (ReadString(v, "semantics") == std::optional<std::string>("atMostOncePerRetry")) {
    s.semantics = Semantics::kAtMostOncePerRetry;
  }
  if (v.contains("waitForCallback")) {
    const json& w = v.at("waitForCallback");
    CallbackSpec spec = ReadCallback(w.is_object() ? w : json::object(),
                                     PointerAppend(path, "waitForCallback"));
    if (has_action) {
      s.wait_for_callback = spec;
    } else {
      s.callback = spec;
    }
  }

  // Payload of the kind.
  switch (s.kind) {
    case StepKind::kWait: {
      const json& w = v.at("wait");
      if (w.is_object()) {
        if (w.contains("until")) {
          s.wait.until = w.at("until");
          s.wait.until_path = PointerAppend(PointerAppend(path, "wait"), "until");
        }
      } else {
        s.wait.duration = ReadDuration(v, "wait", path);
      }
      break;
    }
    case StepKind::kCallback:
      s.callback = ReadCallback(v.at("callback").is_object() ? v.at("callback") : json::object(),
                                PointerAppend(path, "callback"));
      break;
    case StepKind::kAwait:
      if (auto t = ReadString(v, "await")) s.await_target = *t;
      break;
    case StepKind::kPoll: {
      const json& p = v.at("poll");
      std::string ppath = PointerAppend(path, "poll");
      s.poll.path = ppath;
      if (!p.is_object()) break;
      if (p.contains("check")) ReadAction(p.at("check"), PointerAppend(ppath, "check"), &s.poll.check);
      if (p.contains("until")) {
        s.poll.until = p.at("until");
        s.poll.until_path = PointerAppend(ppath, "until");
      }
      s.poll.interval = ReadDuration(p, "interval", ppath);
      s.poll.timeout = ReadDuration(p, "timeout", ppath);
      if (p.contains("maxAttempts")) s.poll.max_attempts = p.at("maxAttempts");
      if (p.contains("backoff")) {
        const json& b = p.at("backoff");
        if (b.is_number()) {
          s.poll.backoff_rate = b.get<double>();
        } else if (b.is_object()) {
          if (b.contains("rate") && b.at("rate").is_number()) s.poll.backoff_rate = b.at("rate").get<double>();
          s.poll.backoff_max = ReadDuration(b, "max", PointerAppend(ppath, "backoff"));
        }
      }
      break;
    }
    case StepKind::kSet:
      s.set_value = v.at("set");
      break;
    case StepKind::kSwitch: {
      const json& cases = v.at("switch");
      if (!cases.is_array()) break;
      std::string spath = PointerAppend(path, "switch");
      size_t i = 0;
      for (const auto& c : cases) {
        SwitchCase sc;
        sc.path = PointerAppend(spath, i++);
        if (c.is_object()) {
          if (c.contains("if")) sc.condition = c.at("if");
          sc.next = ReadString(c, "next");
          if (c.contains("fail")) sc.fail = ReadFail(c.at("fail"), PointerAppend(sc.path, "fail"));
          if (c.contains("succeed")) {
            sc.has_succeed = true;
            sc.succeed = c.at("succeed");
          }
          if (c.contains("steps")) {
            sc.has_steps = true;
            sc.steps_path = PointerAppend(sc.path, "steps");
            sc.steps = ReadSteps(c.at("steps"), sc.steps_path, doc);
          }
        }
        s.cases.push_back(std::move(sc));
      }
      break;
    }
    case StepKind::kParallel: {
      const json& p = v.at("parallel");
      if (!p.is_object()) break;
      s.policy = ReadPolicy(p);
      if (p.contains("branches") && p.at("branches").is_object()) {
        std::string bpath = PointerAppend(PointerAppend(path, "parallel"), "branches");
        // In the order written: branch results and ids follow document order.
        const json& branches = p.at("branches");
        for (const auto& name : doc.KeyOrder(bpath)) {
          Branch b;
          b.name = name;
          b.path = PointerAppend(bpath, name);
          b.steps = ReadSteps(branches.at(name), b.path, doc);
          s.branches.push_back(std::move(b));
        }
      }
      break;
    }
    case StepKind::kMap: {
      const json& m = v.at("map");
      if (!m.is_object()) break;
      std::string mpath = PointerAppend(path, "map");
      s.policy = ReadPolicy(m);
      if (m.contains("items")) {
        s.map_items = m.at("items");
        s.map_items_path = PointerAppend(mpath, "items");
      }
      if (m.contains("itemLabel")) {
        s.map_item_label = m.at("itemLabel");
        s.map_item_label_path = PointerAppend(mpath, "itemLabel");
      }
      if (m.contains("steps")) {
        s.steps_path = PointerAppend(mpath, "steps");
        s.steps = ReadSteps(m.at("steps"), s.steps_path, doc);
      }
      break;
    }
    case StepKind::kGroup:
      s.steps_path = PointerAppend(path, "group");
      s.steps = ReadSteps(v.at("group"), s.steps_path, doc);
      break;
    case StepKind::kSucceed:
      s.succeed_value = v.at("succeed");
      break;
    case StepKind::kFail:
      s.fail = ReadFail(v.at("fail"), PointerAppend(path, "fail"));
      break;
    case StepKind::kAction:
    case StepKind::kWaitForCallback:
    case StepKind::kInvalid:
      break;
  }
  return s;
}

std::vector<Step> ReadSteps(const json& list, const std::string& path, const Document& doc) {
  std::vector<Step> steps;
  if (!list.is_array()) return steps;
  steps.reserve(list.size());
  size_t i = 0;
  for (const auto& v : list) steps.push_back(ReadStep(v, PointerAppend(path, i++), doc));
  return steps;
}

}  // namespace

const char* StepKindName(StepKind kind) {
  if (kind == StepKind::kAction) return "action";
  if (kind == StepKind::kInvalid) return "invalid";
  for (const auto& [k, key] : kKindKeys) {
    if (k == kind) return key;
  }
  return "invalid";
}

const std::vector<std::string>& KnownActionTypes() {
  static const std::vector<std::string> kTypes = {
      "dynamodb.putItem", "dynamodb.updateItem", "dynamodb.getItem", "dynamodb.deleteItem",
      "dynamodb.query",   "ecs.runTask",         "ecs.describeTasks", "ecs.stopTask",
      "lambda.invoke",    "http.request",        "process.run",       "compute"};
  return kTypes;
}

std::vector<const std::vector<Step>*> ChildStepLists(const Step& step) {
  std::vector<const std::vector<Step>*> lists;
  for (const auto& c : step.cases) {
    if (c.has_steps) lists.push_back(&c.steps);
  }
  for (const auto& b : step.branches) lists.push_back(&b.steps);
  if (step.kind == StepKind::kMap || step.kind == StepKind::kGroup) lists.push_back(&step.steps);
  return lists;
}

WorkflowDefinition BuildDefinition(Document document) {
  WorkflowDefinition def;
  def.document = std::move(document);
  const json& root = def.document.root();
  if (!root.is_object()) return def;
  if (root.contains("cairn") && root.at("cairn").is_number_integer()) {
    def.version = root.at("cairn").get<int>();
  }
  if (auto n = ReadString(root, "name")) def.name = *n;
  if (auto d = ReadString(root, "description")) def.description = *d;
  def.timeout = ReadDuration(root, "timeout", "");
  if (root.contains("input")) def.input_schema = root.at("input");
  if (root.contains("params") && root.at("params").is_object()) {
    for (const auto& name : def.document.KeyOrder("/params")) {
      const json& v = root.at("params").at(name);
      Param p;
      p.name = name;
      p.path = PointerAppend("/params", name);
      if (v.is_object() && v.contains("env")) {
        p.env = ReadString(v, "env");
        p.split = ReadString(v, "split");
        if (auto t = ReadString(v, "type")) p.type = *t;
        if (v.contains("default")) {
          p.has_default = true;
          p.value = v.at("default");
        }
      } else {
        p.has_default = true;
        p.value = v;
      }
      def.params.push_back(std::move(p));
    }
  }
  if (root.contains("retryDefaults") && root.at("retryDefaults").is_object()) {
    def.retry_defaults = ReadRetry(root.at("retryDefaults"), "/retryDefaults");
  }
  if (root.contains("steps")) def.steps = ReadSteps(root.at("steps"), "/steps", def.document);
  if (root.contains("output")) {
    def.has_output = true;
    def.output = root.at("output");
  }
  return def;
}

}  // namespace cairn
