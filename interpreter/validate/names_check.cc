// CRN020–CRN022, CRN024, CRN025: step kinds, step names, switch cases.
#include <algorithm>
#include <unordered_map>

#include "core/strings.h"
#include "validate/checks.h"
#include "validate/workflow_schema.h"

namespace cairn::validate {
namespace {

using nlohmann::json;

constexpr char kKinds[] =
    "an action (dynamodb.*, ecs.*, lambda.invoke, http.request, process.run), wait, "
    "compute, waitForCallback, callback, await, poll, set, switch, parallel, map, group, succeed or fail";

// The value at `pointer`, or nullptr.
const json* At(const json& root, const std::string& pointer) {
  json::json_pointer p(pointer);
  return root.contains(p) ? &root.at(p) : nullptr;
}

// True when the step mapping has a key the schema does not know: the schema
// check reports it (often a misspelled kind), so "no kind" would only repeat it.
bool HasUnknownKey(const json& step) {
  for (const auto& [key, _] : step.items()) {
    if (!IsStepKey(key)) return true;
  }
  return false;
}

// "run-task" -> "run_task", "2fa" -> "_2fa".
std::string AsIdentifier(std::string_view name) {
  std::string out;
  for (char c : name) {
    out += std::isalnum(static_cast<unsigned char>(c)) || c == '_' ? c : '_';
  }
  if (out.empty() || std::isdigit(static_cast<unsigned char>(out[0]))) out.insert(0, "_");
  return out;
}

// The key of `keys` written last in the mapping at `path` (JSON objects keep
// no key order, the file does).
std::string LastWritten(const CheckContext& ctx, const std::string& path,
                        const std::vector<std::string>& keys) {
  auto position = [&](const std::string& k) {
    SourceLocation l = ctx.def.document.KeyLocation(PointerAppend(path, k));
    return std::make_pair(l.line, l.column);
  };
  std::string last = keys.front();
  for (const auto& k : keys) {
    if (position(k) > position(last)) last = k;
  }
  return last;
}

void CheckKind(const CheckContext& ctx, const Step& step, const json& value) {
  if (step.kind_keys.size() == 1) return;
  if (step.kind_keys.empty()) {
    if (HasUnknownKey(value)) return;
    ctx.Error("CRN020", step.path, StepLabel(step) + " has no kind: it does nothing",
              std::string("give it exactly one kind: ") + kKinds);
    return;
  }
  std::string hint = "a step does one thing: split it into one step per kind";
  for (const auto& k : step.kind_keys) {
    if (k == "waitForCallback") {
      hint =
          "`waitForCallback` is a modifier only on an action step (the action hands "
          "`.callback.id` over); to wait for a callback alone, make it a step of its own";
    }
  }
  ctx.Error("CRN020", PointerAppend(step.path, LastWritten(ctx, step.path, step.kind_keys)),
            StepLabel(step) + " has more than one kind: " + JoinAnd(step.kind_keys), hint,
            /*at_key=*/true);
}

void CheckName(const CheckContext& ctx, const Step& step) {
  if (step.name.empty()) return;  // missing or not a string: the schema check reports it
  const std::string where = PointerAppend(step.path, "name");
  if (step.name == "end") {
    ctx.Error("CRN024", where, "`end` cannot be a step name: `next: end` finishes the execution",
              "rename the step, e.g. `finish`");
  } else if (!IsIdentifier(step.name)) {
    ctx.Error("CRN022", where, "step name " + Quote(step.name) + " is not an identifier",
              "results are read as `.steps.<name>`, so a name has letters, digits and _ and does "
              "not start with a digit: write " +
                  Quote(AsIdentifier(step.name)));
  }
}

// Every step after the first (in the file) with a name already used.
void CheckDuplicates(const CheckContext& ctx) {
  std::unordered_map<std::string, std::vector<const Step*>> by_name;
  std::vector<std::string> order;
  ForEachStep(ctx.def.steps, [&](const Step& step, const std::vector<const Step*>&) {
    if (step.name.empty()) return;
    auto& list = by_name[step.name];
    if (list.empty()) order.push_back(step.name);
    list.push_back(&step);
  });
  const Document& doc = ctx.def.document;
  auto position = [&](const Step* s) {
    SourceLocation l = doc.ValueLocation(PointerAppend(s->path, "name"));
    return std::make_pair(l.line, l.column);
  };
  for (const auto& name : order) {
    auto& list = by_name[name];
    if (list.size() < 2) continue;
    std::stable_sort(list.begin(), list.end(),
                     [&](const Step* a, const Step* b) { return position(a) < position(b); });
    for (size_t i = 1; i < list.size(); ++i) {
      ctx.Error("CRN021", PointerAppend(list[i]->path, "name"),
                "duplicate step name " + Quote(name) + " (the first is at line " +
                    std::to_string(position(list[0]).first) + ")",
                "step names are unique in the whole workflow, because results live in one "
                "`.steps` namespace: rename one of them");
    }
  }
}

void CheckSwitchCases(const CheckContext& ctx, const Step& step) {
  static constexpr const char* kActions[] = {"next", "fail", "succeed", "steps"};
  const json& root = ctx.def.document.root();
  for (const SwitchCase& c : step.cases) {
    const json* value = At(root, c.path);
    if (value == nullptr || !value->is_object()) continue;
    std::vector<std::string> present;
    for (const char* k : kActions) {
      if (value->contains(k)) present.push_back(k);
    }
    if (present.empty()) {
      ctx.Error("CRN025", c.path,
                "this case of " + StepLabel(step) + " does nothing when it is true",
                "give it exactly one of `next`, `fail`, `succeed` or `steps`");
    } else if (present.size() > 1) {
      ctx.Error("CRN025", PointerAppend(c.path, LastWritten(ctx, c.path, present)),
                "this case of " + StepLabel(step) + " has " + JoinAnd(present) + " together",
                "a case does exactly one of `next`, `fail`, `succeed` or `steps`: keep one",
                /*at_key=*/true);
    }
  }
}

}  // namespace

void CheckNames(const CheckContext& ctx) {
  const json& root = ctx.def.document.root();
  ForEachStep(ctx.def.steps, [&](const Step& step, const std::vector<const Step*>&) {
    const json* value = At(root, step.path);
    if (value == nullptr || !value->is_object()) return;  // the schema check reports it
    CheckKind(ctx, step, *value);
    CheckName(ctx, step);
    if (step.kind == StepKind::kSwitch) CheckSwitchCases(ctx, step);
  });
  CheckDuplicates(ctx);
}

}  // namespace cairn::validate
