// CRN040–CRN046, CRN071: the expressions of a workflow.
//
// Every string that is evaluated against the context (action parameters,
// `if`, `set`, `wait`, `output`, ...) and holds `${` is parsed as a template;
// names, `next` targets, error lists, descriptions and the like never are.
// All expressions go into one ExpressionSet: those in the native subset
// need no jq_compile, the others are compiled together with one; the table
// maps each string's JSON pointer to its program.
//
// References (`.steps.X`, `.params.X`, `.item`, ...) are read with
// FindContextPaths and judged only where `.` is certainly the context. In
// `result:` and `poll.until`, `.` is a raw result: those expressions are
// compiled and sandbox-checked, not reference-checked.
#include <future>
#include <unordered_set>

#include "core/strings.h"
#include "expr/sandbox.h"
#include "expr/template.h"
#include "validate/checks.h"
#include "validate/context_paths.h"
#include "validate/scalar_location.h"
#include "validate/workflow_schema.h"

namespace cairn::validate {
namespace {

using nlohmann::json;

enum class Role {
  kStep,       // evaluated when its step runs
  kRawResult,  // `result:` and `poll.until`: `.` is a raw result
  kOutput,     // the workflow's `output:`, after the last step
  kTopLevel,   // evaluated before any step (the workflow's timeout, retryDefaults)
};

struct Site {
  std::string pointer;
  const std::string* text;
  int step;  // global step id; -1 outside steps
  Role role;
};

const std::vector<std::string>& ContextFields() {
  static const std::vector<std::string> kFields = {
      "input", "params", "execution", "steps", "callback", "item", "index", "error", "attempt"};
  return kFields;
}

class SiteCollector {
 public:
  explicit SiteCollector(std::vector<Site>* out) : out_(out) {}

  // Every string under `v`.
  void Walk(const json& v, const std::string& pointer, int step, Role role) {
    std::vector<std::pair<const json*, std::string>> stack{{&v, pointer}};
    while (!stack.empty()) {
      auto [cur, p] = std::move(stack.back());
      stack.pop_back();
      if (cur->is_string()) {
        out_->push_back({p, &cur->get_ref<const std::string&>(), step, role});
      } else if (cur->is_object()) {
        for (const auto& [key, child] : cur->items()) {
          stack.emplace_back(&child, PointerAppend(p, key));
        }
      } else if (cur->is_array()) {
        for (size_t i = 0; i < cur->size(); ++i) {
          stack.emplace_back(&(*cur)[i], PointerAppend(p, i));
        }
      }
    }
  }

  void WalkExcept(const json& v, const std::string& pointer, int step, Role role,
                  std::initializer_list<std::string_view> skip) {
    if (!v.is_object()) return Walk(v, pointer, step, role);
    for (const auto& [key, child] : v.items()) {
      if (std::find(skip.begin(), skip.end(), key) == skip.end()) {
        Walk(child, PointerAppend(pointer, key), step, role);
      }
    }
  }

  void Step(const cairn::Step& s, int id, const json& obj) {
    for (const auto& [key, value] : obj.items()) {
      const std::string p = PointerAppend(s.path, key);
      if (key == "name" || key == "description" || key == "next" || key == "semantics" ||
          key == "await" || key == "catch" || key == "group" || !IsStepKey(key)) {
        continue;
      }
      if (key == "result") {
        Walk(value, p, id, Role::kRawResult);
      } else if (key == "retry") {
        WalkExcept(value, p, id, Role::kStep, {"errors", "jitter"});
      } else if (key == "map") {
        WalkExcept(value, p, id, Role::kStep, {"steps"});
      } else if (key == "parallel") {
        WalkExcept(value, p, id, Role::kStep, {"branches"});
      } else if (key == "switch") {
        for (size_t i = 0; value.is_array() && i < value.size(); ++i) {
          WalkExcept(value[i], PointerAppend(p, i), id, Role::kStep, {"steps", "next"});
        }
      } else if (key == "poll" && value.is_object()) {
        for (const auto& [k, v] : value.items()) {
          Walk(v, PointerAppend(p, k), id, k == "until" ? Role::kRawResult : Role::kStep);
        }
      } else {
        Walk(value, p, id, Role::kStep);
      }
    }
  }

 private:
  std::vector<Site>* out_;
};

std::vector<Site> CollectSites(const CheckContext& ctx) {
  std::vector<Site> sites;
  SiteCollector collect(&sites);
  const json& root = ctx.def.document.root();
  if (!root.is_object()) return sites;
  if (auto it = root.find("timeout"); it != root.end()) {
    collect.Walk(*it, "/timeout", -1, Role::kTopLevel);
  }
  if (auto it = root.find("retryDefaults"); it != root.end()) {
    collect.WalkExcept(*it, "/retryDefaults", -1, Role::kTopLevel, {"errors", "jitter"});
  }
  if (auto it = root.find("output"); it != root.end()) {
    collect.Walk(*it, "/output", -1, Role::kOutput);
  }
  for (size_t id = 0; id < ctx.flow.size(); ++id) {
    const Step& s = ctx.flow.step(static_cast<int>(id));
    json::json_pointer p(s.path);
    if (root.contains(p) && root.at(p).is_object()) {
      collect.Step(s, static_cast<int>(id), root.at(p));
    }
  }
  return sites;
}

// Judges the references of one expression (CRN043–CRN046).
class ReferenceChecker {
 public:
  ReferenceChecker(const CheckContext& ctx, std::unordered_set<std::string>* used_params,
                   bool* all_params_used)
      : ctx_(ctx), flow_(ctx.flow), used_params_(used_params), all_params_used_(all_params_used) {
    for (const Param& p : ctx.def.params) params_.push_back(p.name);
  }

  // `at(offset)` locates a byte of the expression source.
  template <typename Locate>
  void Check(const Site& site, std::string_view source, Locate at) {
    for (const ContextPath& path : FindContextPaths(source)) {
      if (!path.certain) continue;
      if (path.root == "steps") {
        if (path.key) CheckStep(site, *path.key, at(path.key_offset));
      } else if (path.root == "params") {
        if (!path.key) {
          *all_params_used_ = true;
        } else if (std::find(params_.begin(), params_.end(), *path.key) != params_.end()) {
          used_params_->insert(*path.key);
        } else {
          std::string hint = DidYouMean(*path.key, params_);
          if (hint.empty()) {
            hint = params_.empty() ? "declare it under `params:` at the top of the workflow"
                                   : "the params are " + JoinOr(params_);
          }
          Report("CRN046", site, at(path.key_offset),
                 Quote(".params." + *path.key) + ": no param " + Quote(*path.key) + " is declared",
                 hint);
        }
      } else {
        CheckField(site, path.root, at(path.root_offset));
      }
    }
  }

 private:
  void Report(const char* code, const Site& site, const SourceLocation& where, std::string message,
              std::string hint) {
    ctx_.ReportAt(code, Severity::kError, where, site.pointer, std::move(message), std::move(hint));
  }

  // The scopes whose results are visible at step `id`: its own and the enclosing ones.
  bool Visible(int target, int id) const {
    const int scope = flow_.facts(target).scope;
    for (int s = id; s >= 0; s = flow_.facts(s).owner) {
      if (flow_.facts(s).scope == scope) return true;
    }
    return false;
  }

  void CheckStep(const Site& site, const std::string& name, const SourceLocation& where) {
    const std::string ref = Quote(".steps." + name);
    const int target = flow_.Find(name);
    if (target < 0) {
      std::string hint = DidYouMean(name, flow_.names());
      Report("CRN044", site, where, ref + ": no step is named " + Quote(name),
             hint.empty() ? "`.steps.<name>` reads the result of the step with that name" : hint);
      return;
    }
    const Step& t = flow_.step(target);
    if (site.role == Role::kTopLevel) {
      Report("CRN043", site, where,
             ref + " cannot be read here: this value is needed before any step runs",
             "use `.input`, `.params` or `.execution` here");
      return;
    }
    if (site.role == Role::kOutput) {
      if (flow_.facts(target).owner >= 0) {
        Report("CRN043", site, where, ref + " is not visible in `output`: " + Inside(target),
               ReadInstead(target));
      } else if (!flow_.definitely_run_at_end().Has(target)) {
        Report("CRN043", site, where,
               ref + " may not be set in `output`: " + StepLabel(t) +
                   " does not run on every path that ends the workflow",
               "make sure it runs on every successful path, or read a step that does");
      }
      return;
    }
    if (target == site.step) {
      Report("CRN043", site, where, StepLabel(t) + " cannot read its own result",
             "`.steps." + name +
                 "` is set when the step finishes; in `result:`, `.` is the raw result");
      return;
    }
    if (flow_.facts(site.step).definitely_run.Has(target)) return;
    if (flow_.Encloses(target, site.step)) {
      Report("CRN043", site, where,
             StepLabel(t) + " encloses this step: its result is set only when all of it finishes",
             "read the results of the steps inside it instead");
      return;
    }
    if (!Visible(target, site.step)) {
      Report("CRN043", site, where, ref + " is not visible here: " + Inside(target),
             ReadInstead(target));
      return;
    }
    Report("CRN043", site, where,
           ref + " may not be set here: " + StepLabel(t) + " does not run on every path to " +
               StepLabel(flow_.step(site.step)),
           "move the use after " + Quote(name) + ", or make sure every path to here (`next:`, " +
               "switch cases, catch handlers) runs " + Quote(name) + " first");
  }

  // Why a step's result is private: "it runs inside ...".
  std::string Inside(int target) const {
    const int owner = flow_.facts(target).owner;
    const Step& o = flow_.step(owner);
    const std::string name = Quote(flow_.step(target).name);
    switch (o.kind) {
      case StepKind::kParallel:
        return name + " runs inside a branch of " + StepLabel(o) +
               ", and a branch's results stay in it";
      case StepKind::kMap:
        return name + " runs once per item inside " + StepLabel(o) + ", and its results stay there";
      case StepKind::kGroup:
        return name + " runs inside " + StepLabel(o) + ", and a group's inner results stay in it";
      default:
        return name + " runs only in a case of " + StepLabel(o);
    }
  }

  std::string ReadInstead(int target) const {
    const Step& o = flow_.step(flow_.facts(target).owner);
    switch (o.kind) {
      case StepKind::kParallel:
        return "read the parallel's result instead: `.steps." + o.name + ".<branch>`";
      case StepKind::kMap:
        return "read the map's result instead: `.steps." + o.name + "` (one entry per item)";
      case StepKind::kGroup:
        return "read the group's result instead: `.steps." + o.name + "` (its last step's result)";
      default:
        return "read it inside that case, or compute what you need in a step after the switch";
    }
  }

  void CheckField(const Site& site, const std::string& field, const SourceLocation& where) {
    const std::string ref = Quote("." + field);
    const bool in_step = site.step >= 0;
    const StepFacts* facts = in_step ? &flow_.facts(site.step) : nullptr;
    if (field == "input" || field == "execution") return;
    if (field == "item" || field == "index") {
      if (facts && facts->in_map_body) return;
      // A map's `itemLabel` names each iteration: it sees the item too.
      if (in_step) {
        const Step& m = flow_.step(site.step);
        if (m.kind == StepKind::kMap && !m.map_item_label_path.empty() &&
            site.pointer == m.map_item_label_path) {
          return;
        }
      }
      Report("CRN045", site, where, ref + " is only set in the steps of a `map`",
             "`.item` and `.index` are the current item and its position inside `map.steps`");
    } else if (field == "callback") {
      const Step* s = in_step ? &flow_.step(site.step) : nullptr;
      if (s && s->wait_for_callback && s->kind == StepKind::kAction &&
          site.pointer.compare(0, s->action.path.size(), s->action.path) == 0) {
        return;
      }
      Report("CRN045", site, where,
             ref + " is only set in the action of a step with `waitForCallback`",
             "add `waitForCallback: {timeout: ...}` to the action step that hands the callback id "
             "over, or create one with a `callback:` step and read `.steps.<name>.id`");
    } else if (field == "error") {
      if (facts && facts->may_have_error) return;
      const std::string target = in_step ? flow_.step(site.step).name : "";
      Report("CRN045", site, where,
             ref + " is never set here: no catch handler leads to " +
                 (in_step ? StepLabel(flow_.step(site.step)) : std::string("this place")),
             "`.error` is set on the path after a catch handler" +
                 (target.empty()
                      ? std::string()
                      : ": add `catch: [{next: " + target + "}]` to the step that may fail"));
    } else if (field == "attempt") {
      if (in_step) return;
      Report("CRN045", site, where, ref + " is only set while a step runs", "");
    } else if (field != "params" && field != "steps") {
      std::string hint = DidYouMean(field, ContextFields());
      if (hint.empty()) hint = "the context has " + JoinAnd(ContextFields());
      Report("CRN045", site, where, ref + " is not a field of the expression context", hint);
    }
  }

  const CheckContext& ctx_;
  const FlowAnalysis& flow_;
  std::vector<std::string> params_;
  std::unordered_set<std::string>* used_params_;
  bool* all_params_used_;
};

// A template error of expr::ParseTemplate ("`${` at offset A: <problem>
// (offset B)" or "`${` at offset A is not closed by `}`") as the problem and
// the offset where it is (B when given, else A).
struct TemplateProblem {
  std::string message;
  size_t offset = 0;
};

TemplateProblem ReadTemplateError(const std::string& message) {
  auto number_after = [&](size_t at) {
    size_t n = 0;
    while (at < message.size() && std::isdigit(static_cast<unsigned char>(message[at]))) {
      n = n * 10 + static_cast<size_t>(message[at++] - '0');
    }
    return std::make_pair(n, at);
  };
  TemplateProblem p{message, 0};
  const std::string at_marker = "at offset ";
  const size_t a = message.find(at_marker);
  if (a == std::string::npos) return p;
  auto [start, after_start] = number_after(a + at_marker.size());
  p.offset = start;
  if (message.compare(after_start, 2, ": ") != 0) {
    p.message = "`${` is not closed by `}`";
    return p;
  }
  const std::string b_marker = " (offset ";
  const size_t b = message.rfind(b_marker);
  if (b != std::string::npos && b > after_start) {
    p.offset = number_after(b + b_marker.size()).first;
    p.message = message.substr(after_start + 2, b - after_start - 2);
  } else {
    p.message = message.substr(after_start + 2);
  }
  return p;
}

}  // namespace

struct ExpressionChecks::State {
  struct Origin {
    size_t site;
    size_t offset;  // of the expression in the string
  };
  std::shared_ptr<expr::ExpressionSet> set = std::make_shared<expr::ExpressionSet>();
  std::vector<Site> sites;
  std::unordered_set<std::string> used_params;
  bool all_params_used = false;
  std::vector<Origin> origins;  // per expression index
  std::vector<bool> sandboxed;  // per expression index: a sandbox violation was reported
  std::future<std::vector<expr::CompileIssue>> issues;
};

ExpressionChecks::ExpressionChecks(const CheckContext& ctx, expr::ExpressionTable* table)
    : ctx_(ctx), table_(table), state_(std::make_unique<State>()) {}

ExpressionChecks::~ExpressionChecks() {
  if (state_->issues.valid()) state_->issues.wait();
}

void ExpressionChecks::Start() {
  const CheckContext& ctx = ctx_;
  expr::ExpressionTable* table = table_;
  State& st = *state_;
  auto& set = st.set;
  st.sites = CollectSites(ctx);
  const std::vector<Site>& sites = st.sites;
  const Document& doc = ctx.def.document;
  ReferenceChecker references(ctx, &st.used_params, &st.all_params_used);
  auto& origins = st.origins;
  auto& sandboxed = st.sandboxed;
  for (size_t i = 0; i < sites.size(); ++i) {
    const Site& site = sites[i];
    const std::string& text = *site.text;
    if (text.find("${") == std::string::npos) continue;
    const SourceLocation scalar = doc.ValueLocation(site.pointer);
    auto locate = [&](size_t offset) { return LocateInScalar(ctx.source, scalar, text, offset); };
    Result<expr::Template> parsed = expr::ParseTemplate(text);
    if (!parsed.ok()) {
      TemplateProblem problem = ReadTemplateError(parsed.error().message);
      ctx.ReportAt(
          "CRN042", Severity::kError, locate(problem.offset), site.pointer,
          "malformed expression: " + problem.message,
          "write an expression as `${ <jq program> }`; to write `${` literally, write `$${`");
      continue;
    }
    expr::TemplateProgram program = set->AddTemplate(std::move(*parsed));
    for (size_t k = 0; k < program.source.parts.size(); ++k) {
      const expr::TemplatePart& part = program.source.parts[k];
      if (program.indices[k] < 0) continue;
      origins.resize(std::max<size_t>(origins.size(), program.indices[k] + 1));
      sandboxed.resize(origins.size(), false);
      origins[program.indices[k]] = {i, part.offset};
      for (const expr::SandboxViolation& v : expr::CheckSandbox(part.text)) {
        ctx.ReportAt("CRN041", Severity::kError, locate(part.offset + v.offset), site.pointer,
                     v.message,
                     "expressions may read only their context: input, params, steps, ...");
        sandboxed[program.indices[k]] = true;
      }
      if (site.role != Role::kRawResult) {
        references.Check(site, part.text,
                         [&](size_t offset) { return locate(part.offset + offset); });
      }
    }
    table->templates.emplace(site.pointer, std::move(program));
  }

  // The one jq_compile (jq 1.6 spends ~16 ms binding its builtins) runs on
  // another thread while the caller runs the other checks; Finish() joins.
  // Only that thread touches the set until then. Without jq, compiling is
  // cheap and runs in Finish() (starting a thread would cost more).
  const std::launch policy = set->NeedsJq() ? std::launch::async : std::launch::deferred;
  st.issues = std::async(policy, [set = st.set] { return set->Compile(); });
}

void ExpressionChecks::Finish() {
  const CheckContext& ctx = ctx_;
  State& st = *state_;
  const Document& doc = ctx.def.document;
  const auto& sites = st.sites;
  const auto& origins = st.origins;
  const auto& sandboxed = st.sandboxed;
  const auto& used_params = st.used_params;
  for (const expr::CompileIssue& issue : st.issues.get()) {
    if (issue.index < 0 || static_cast<size_t>(issue.index) >= origins.size() ||
        sandboxed[issue.index]) {
      continue;
    }
    const State::Origin& o = origins[issue.index];
    const Site& site = sites[o.site];
    const SourceLocation where = LocateInScalar(ctx.source, doc.ValueLocation(site.pointer),
                                                *site.text, o.offset + issue.offset.value_or(0));
    ctx.ReportAt("CRN040", Severity::kError, where, site.pointer,
                 "invalid jq expression: " + issue.message,
                 "the text between `${` and `}` must be a jq 1.6 program");
  }
  table_->set = std::move(st.set);

  if (st.all_params_used) return;
  for (const Param& p : ctx.def.params) {
    if (used_params.count(p.name)) continue;
    ctx.Warning("CRN071", p.path, "param " + Quote(p.name) + " is never used",
                "read it as `${ .params." + p.name + " }`, or remove it", /*at_key=*/true);
  }
}

}  // namespace cairn::validate
