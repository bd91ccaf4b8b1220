// CRN060–CRN064: what the schema cannot say about actions, callbacks and
// completion policies. Values written as expressions are only known at run
// time and are not judged here.
#include <cctype>
#include <map>
#include <set>
#include <unordered_set>

#include "core/strings.h"
#include "validate/checks.h"

namespace cairn::validate {
namespace {

using nlohmann::json;

bool HasExpression(const json& v) {
  return v.is_string() && v.get_ref<const std::string&>().find("${") != std::string::npos;
}

// A literal string parameter (not an expression), or nullptr.
const std::string* Literal(const json& params, const char* key) {
  auto it = params.find(key);
  if (it == params.end() || !it->is_string() || HasExpression(*it)) return nullptr;
  return &it->get_ref<const std::string&>();
}

bool IsBlank(std::string_view s) {
  return s.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  }
  return true;
}

// True when `url` (its literal text before any expression) can still become
// an http(s) URL.
bool PlausibleUrl(const std::string& url) {
  const size_t expr = url.find("${");
  const std::string head = url.substr(0, expr);
  if (expr != std::string::npos) {
    // "${ .params.base }/x" or "https://${ .params.host }/x".
    return head.empty() || StartsWithNoCase("https://", head) ||
           StartsWithNoCase("http://", head) || StartsWithNoCase(head, "https://") ||
           StartsWithNoCase(head, "http://");
  }
  for (std::string_view scheme : {"http://", "https://"}) {
    if (StartsWithNoCase(url, scheme) && url.size() > scheme.size() && url[scheme.size()] != '/') {
      return true;
    }
  }
  return false;
}

// The expression placeholders (#name or :value) that `text` uses.
std::set<std::string> Placeholders(const std::string& text, char sigil) {
  std::set<std::string> out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != sigil) continue;
    size_t j = i + 1;
    while (j < text.size() && (std::isalnum(static_cast<unsigned char>(text[j])) || text[j] == '_'))
      ++j;
    if (j > i + 1) out.insert(text.substr(i, j - i));
    i = j - 1;
  }
  return out;
}

// dynamodb.*: `names` keys start with '#', `values` keys with ':'; with the
// expressions written literally, every placeholder they use is defined and
// every one defined is used (DynamoDB rejects both), and none clashes with
// the ones updateItem's set/remove/add generate.
void CheckDynamoDbPlaceholders(const CheckContext& ctx, const ActionSpec& action) {
  const json& p = action.params;
  auto at = [&](const char* key) { return PointerAppend(action.path, key); };
  std::vector<const char*> expression_keys = {"condition", "update", "keyCondition", "filter",
                                              "projection"};
  bool all_literal = true;
  std::map<std::string, const char*> used_names;  // placeholder -> the key using it
  std::map<std::string, const char*> used_values;
  for (const char* key : expression_keys) {
    auto it = p.find(key);
    if (it == p.end()) continue;
    if (!it->is_string() || HasExpression(*it)) {
      all_literal = false;
      continue;
    }
    const auto& text = it->get_ref<const std::string&>();
    for (const auto& n : Placeholders(text, '#')) used_names.emplace(n, key);
    for (const auto& v : Placeholders(text, ':')) used_values.emplace(v, key);
  }
  const bool generated = action.type == "dynamodb.updateItem" && !p.contains("update");
  struct Map {
    const char* key;
    char sigil;
    const std::map<std::string, const char*>* used;
    const char* what;
  };
  for (const Map& m : {Map{"names", '#', &used_names, "attribute name"},
                       Map{"values", ':', &used_values, "value"}}) {
    auto it = p.find(m.key);
    std::set<std::string> defined;
    const bool literal_map = it != p.end() && it->is_object();
    if (literal_map) {
      for (const auto& [k, v] : it->items()) {
        const std::string where = PointerAppend(at(m.key), k);
        if (k.size() < 2 || k[0] != m.sigil) {
          ctx.Error("CRN060", where,
                    "`" + std::string(m.key) + "` keys are placeholders that start with " +
                        std::string(1, m.sigil) + ", got " + Quote(k),
                    "write it as " + Quote(std::string(1, m.sigil) + (k.empty() ? "x" : k)) +
                        " and use that in the expression",
                    /*at_key=*/true);
          continue;
        }
        defined.insert(k);
        if (generated) {
          for (const char* prefix : {"#set", ":set", "#rem", "#add", ":add"}) {
            if (k.rfind(prefix, 0) == 0) {
              ctx.Error("CRN060", where,
                        Quote(k) + " looks like a placeholder cairn generates for set/remove/add",
                        "rename it, e.g. " + Quote(std::string(1, m.sigil) + "my" + k.substr(1)),
                        /*at_key=*/true);
            }
          }
        }
        if (all_literal && !m.used->count(k)) {
          ctx.Error(
              "CRN060", where,
              "the " + std::string(m.what) + " placeholder " + Quote(k) +
                  " is not used by any expression of this step (DynamoDB rejects unused ones)",
              "use it in the condition or expression, or remove it", /*at_key=*/true);
        }
      }
    }
    if (it != p.end() && !literal_map) continue;  // an expression: known at run time
    for (const auto& [u, user] : *m.used) {
      if (defined.count(u)) continue;
      ctx.Error("CRN060", at(user),
                "the expression uses " + Quote(u) + " but `" + m.key + "` does not define it",
                std::string("add it: `") + m.key + ": {\"" + u +
                    "\": " + (m.sigil == '#' ? "attributeName" : "value") + "}`");
    }
  }
}

void CheckActionParams(const CheckContext& ctx, const ActionSpec& action) {
  const json& p = action.params;
  if (!p.is_object()) return;  // the schema check reports it
  const std::string& type = action.type;
  auto at = [&](const char* key) { return PointerAppend(action.path, key); };

  if (type.rfind("dynamodb.", 0) == 0) CheckDynamoDbPlaceholders(ctx, action);
  if (type == "ecs.runTask") {
    const std::string* launch = Literal(p, "launchType");
    if (launch && *launch == "FARGATE" && !p.contains("network")) {
      ctx.Error("CRN060", at("launchType"), "a FARGATE task needs `network` (awsvpc subnets)",
                "add `network: {subnets: [...], securityGroups: [...]}`, e.g. from params");
    }
    if (p.contains("container") && !p.contains("environment") && !p.contains("command")) {
      ctx.Error("CRN060", at("container"),
                "`container` names the container that `environment`/`command` override, but "
                "there is neither",
                "add `environment:` or `command:`, or remove `container`", /*at_key=*/true);
    }
    if (const std::string* token = Literal(p, "clientToken"); token && token->size() > 64) {
      ctx.Error("CRN060", at("clientToken"),
                "`clientToken` is " + std::to_string(token->size()) +
                    " characters; ECS accepts at most 64",
                "shorten it, or leave it out: cairn derives one per step and execution");
    }
  } else if (type == "dynamodb.updateItem") {
    std::vector<std::string> clauses;
    for (const char* k : {"set", "remove", "add"}) {
      if (p.contains(k)) clauses.push_back(k);
    }
    if (clauses.empty() && !p.contains("update")) {
      ctx.Error(
          "CRN060", action.path, "this `dynamodb.updateItem` updates nothing",
          "say what to change with `set:`, `remove:` or `add:` (or a raw `update:` expression)");
    } else if (!clauses.empty() && p.contains("update")) {
      ctx.Error("CRN060", at("update"),
                "a raw `update:` expression cannot be combined with " + JoinOr(clauses),
                "write the whole update either as set/remove/add or as one `update:` expression",
                /*at_key=*/true);
    }
  } else if (type == "http.request") {
    auto it = p.find("url");
    if (it != p.end() && it->is_string() && !PlausibleUrl(it->get<std::string>())) {
      ctx.Error("CRN060", at("url"),
                "`url` must be an absolute http:// or https:// URL, got " + JsonText(*it),
                "write the scheme and host, e.g. https://api.example.com/path");
    }
  } else if (type == "process.run") {
    auto it = p.find("command");
    if (it == p.end()) return;
    if (it->is_string() && !it->get_ref<const std::string&>().empty() &&
        IsBlank(it->get_ref<const std::string&>())) {
      ctx.Error("CRN060", at("command"), "`command` is blank", "write the program to run");
    } else if (it->is_array() && !it->empty() && (*it)[0].is_string() &&
               IsBlank((*it)[0].get_ref<const std::string&>())) {
      ctx.Error("CRN060", PointerAppend(at("command"), size_t{0}),
                "the program (the first item of `command`) is empty",
                "write the program first, then its arguments: [program, arg, ...]");
    }
  }
}

// True when some string under `v` reads `.callback` in an expression.
bool MentionsCallback(const json& v) {
  std::vector<const json*> stack{&v};
  while (!stack.empty()) {
    const json* cur = stack.back();
    stack.pop_back();
    if (cur->is_string()) {
      const auto& s = cur->get_ref<const std::string&>();
      if (s.find("${") != std::string::npos && s.find("callback") != std::string::npos) return true;
    } else if (cur->is_structured()) {
      for (const auto& child : *cur) stack.push_back(&child);
    }
  }
  return false;
}

void CheckAwait(const CheckContext& ctx, const Step& step, std::unordered_set<int>* awaited) {
  if (step.await_target.empty()) return;  // the schema check reports it
  const FlowAnalysis& flow = ctx.flow;
  const std::string where = PointerAppend(step.path, "await");
  const std::string written = Quote("await: " + step.await_target);
  const int target = flow.Find(step.await_target);
  if (target < 0) {
    std::vector<std::string> callbacks;
    for (size_t i = 0; i < flow.size(); ++i) {
      if (flow.step(static_cast<int>(i)).kind == StepKind::kCallback) {
        callbacks.push_back(flow.step(static_cast<int>(i)).name);
      }
    }
    std::string hint = DidYouMean(step.await_target, callbacks);
    if (hint.empty()) hint = "create the callback first with a step `callback: {timeout: ...}`";
    ctx.Error("CRN061", where, written + " names no step", hint);
    return;
  }
  awaited->insert(target);
  const Step& t = flow.step(target);
  if (t.kind != StepKind::kCallback) {
    const std::string kind = t.kind == StepKind::kAction ? t.action.type : StepKindName(t.kind);
    ctx.Error("CRN061", where,
              written + " names " + StepLabel(t) + " (" + Quote(kind) + "), not a `callback:` step",
              "`await:` waits for a callback created by a step with `callback: {timeout: ...}`");
    return;
  }
  if (!flow.facts(flow.IdOf(step)).definitely_run.Has(target)) {
    ctx.Error("CRN061", where,
              "callback " + Quote(t.name) + " is not created on every path before this `await`",
              "run the `callback:` step before the `await:` on every path, in the same list of "
              "steps or an enclosing one");
  }
}

// A literal integer policy value, or -1.
int64_t LiteralCount(const json& v) { return v.is_number_integer() ? v.get<int64_t>() : -1; }

void CheckPolicy(const CheckContext& ctx, const Step& step) {
  int64_t n = -1;
  std::string units;
  const char* key = nullptr;
  if (step.kind == StepKind::kParallel) {
    n = static_cast<int64_t>(step.branches.size());
    units = n == 1 ? "branch" : "branches";
    key = "parallel";
  } else if (step.kind == StepKind::kMap && step.map_items.is_array()) {
    n = static_cast<int64_t>(step.map_items.size());
    units = n == 1 ? "item" : "items";
    key = "map";
  }
  if (n < 0) return;
  const std::string base = PointerAppend(step.path, key);
  const std::string has = StepLabel(step) + " has " + std::to_string(n) + " " + units;
  const int64_t min_ok = LiteralCount(step.policy.min_successful);
  if (min_ok > n) {
    ctx.Error("CRN063", PointerAppend(base, "minSuccessful"),
              "`minSuccessful: " + std::to_string(min_ok) + "` can never be met: " + has,
              "lower it to at most " + std::to_string(n));
  }
  const int64_t tolerated = LiteralCount(step.policy.tolerated_failure_count);
  if (tolerated > n) {
    ctx.Error(
        "CRN063", PointerAppend(base, "toleratedFailureCount"),
        "`toleratedFailureCount: " + std::to_string(tolerated) + "` is more than there are: " + has,
        "at most " + std::to_string(n) + " (every one may fail)");
  }
}

}  // namespace

void CheckActions(const CheckContext& ctx) {
  std::unordered_set<int> awaited;
  ForEachStep(ctx.def.steps, [&](const Step& s, const std::vector<const Step*>&) {
    if (s.kind == StepKind::kAction) CheckActionParams(ctx, s.action);
    if (s.kind == StepKind::kPoll && !s.poll.check.type.empty()) {
      CheckActionParams(ctx, s.poll.check);
    }
    if (s.kind == StepKind::kAwait) CheckAwait(ctx, s, &awaited);
    if (s.kind == StepKind::kParallel || s.kind == StepKind::kMap) CheckPolicy(ctx, s);
    if (s.kind == StepKind::kAction && s.wait_for_callback && !MentionsCallback(s.action.params)) {
      ctx.Warning(
          "CRN064", PointerAppend(s.path, "waitForCallback"),
          StepLabel(s) + " waits for a callback but its action never passes `.callback.id` on",
          "hand the id to whoever completes the callback, e.g. "
          "`environment: {CALLBACK_ID: ${ .callback.id }}`",
          /*at_key=*/true);
    }
  });
  for (size_t i = 0; i < ctx.flow.size(); ++i) {
    const Step& s = ctx.flow.step(static_cast<int>(i));
    if (s.kind != StepKind::kCallback || s.name.empty() || awaited.count(static_cast<int>(i))) {
      continue;
    }
    ctx.Warning("CRN062", s.path, "callback " + Quote(s.name) + " is created but never awaited",
                "add a step `await: " + s.name + "` where the workflow waits for it, or remove it");
  }
}

}  // namespace cairn::validate
