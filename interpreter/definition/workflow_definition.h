// WorkflowDefinition: the symbolic form of a workflow, as written.
//
// Built from a Document by BuildDefinition. Every element keeps the JSON
// pointer of where it was written (resolve it to file:line:col with
// Document::ValueLocation). Values that may hold runtime expressions
// (`${ ... }`) are kept as JSON exactly as written; the expr and compile
// phases interpret them.
//
// The builder is lenient: it takes what is well formed and leaves the rest
// empty, so that `cairn validate` can report every problem in one run. A
// definition is only executable after validation reported no error.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/duration.h"
#include "definition/document.h"

namespace cairn {

enum class StepKind {
  kInvalid,          // no kind, or more than one (validation reports it)
  kAction,           // dynamodb.*, ecs.*, lambda.invoke, http.request, process.run, compute
  kWait,             // wait:
  kWaitForCallback,  // waitForCallback: alone
  kCallback,         // callback: (create only)
  kAwait,            // await: <callback step>
  kPoll,             // poll:
  kSet,              // set:
  kSwitch,           // switch:
  kParallel,         // parallel:
  kMap,              // map:
  kGroup,            // group:
  kSucceed,          // succeed:
  kFail,             // fail:
};

// The YAML key of a kind ("wait", "poll", ...); "action" for kAction.
const char* StepKindName(StepKind kind);

// The action type of `compute:` steps: the engine evaluates them itself
// (the value of the rendered parameters is the result); no ActionRunner.
inline constexpr char kComputeAction[] = "compute";

// The action types the language knows, e.g. "ecs.runTask".
const std::vector<std::string>& KnownActionTypes();

// A duration as written: a literal (parsed into `value` when valid) or an
// expression (`is_expression`), kept raw for diagnostics.
struct DurationField {
  std::string path;      // empty when absent
  nlohmann::json raw;    // null when absent
  std::optional<Duration> value;
  bool is_expression = false;

  bool present() const { return !path.empty(); }
};

enum class Jitter { kNone, kFull, kEqual };

struct RetrySpec {
  std::string path;
  std::vector<std::string> errors;  // empty = all
  int max_attempts = 3;
  DurationField interval;           // default 1s
  double backoff = 2.0;
  DurationField max_delay;
  Jitter jitter = Jitter::kNone;
};

struct CatchSpec {
  std::string path;
  std::vector<std::string> errors;  // empty = all
  std::string next;
};

struct CallbackSpec {
  std::string path;
  DurationField timeout;
  DurationField heartbeat;
};

struct ActionSpec {
  std::string path;    // pointer of the params value, e.g. "/steps/1/ecs.runTask"
  std::string type;    // "ecs.runTask"
  nlohmann::json params = nlohmann::json::object();
};

struct FailSpec {
  std::string path;
  nlohmann::json error;  // string (may hold expressions)
  nlohmann::json cause;  // null when absent
};

struct WaitSpec {
  DurationField duration;  // wait: 30s / wait: ${ expr }
  nlohmann::json until;    // wait: {until: ${ expr }}; null when absent
  std::string until_path;
};

struct PollSpec {
  std::string path;
  ActionSpec check;
  nlohmann::json until;  // expression
  std::string until_path;
  DurationField interval;  // default 5s
  double backoff_rate = 1.0;
  DurationField backoff_max;
  DurationField timeout;
  nlohmann::json max_attempts;  // integer or expression; null when absent
};

// maxConcurrency etc.: integers or expressions; null when absent.
struct CompletionPolicy {
  nlohmann::json max_concurrency;
  nlohmann::json tolerated_failure_count;
  nlohmann::json tolerated_failure_percentage;
  nlohmann::json min_successful;
};

enum class Semantics { kAtLeastOncePerRetry, kAtMostOncePerRetry };

struct Step;

struct Branch {
  std::string name;
  std::string path;  // pointer of the branch's step list
  std::vector<Step> steps;
};

struct SwitchCase {
  std::string path;
  nlohmann::json condition;  // expression or boolean
  std::optional<std::string> next;
  std::optional<FailSpec> fail;
  bool has_succeed = false;
  nlohmann::json succeed;
  bool has_steps = false;
  std::string steps_path;
  std::vector<Step> steps;
};

struct Step {
  std::string name;
  std::string path;  // pointer of the step mapping, e.g. "/steps/3"
  StepKind kind = StepKind::kInvalid;
  std::vector<std::string> kind_keys;  // every kind key written (validation wants exactly one)
  std::string description;

  // Modifiers.
  nlohmann::json condition;  // `if:`; null when absent
  std::optional<std::string> next;
  std::optional<RetrySpec> retry;
  std::vector<CatchSpec> catches;
  DurationField timeout;
  std::optional<std::string> result;  // expression
  std::optional<std::string> log;
  // `label:` — the durable operation's Name in the execution history
  // (default: the step name). A string (expressions allowed, evaluated when
  // the step runs) or null: an unnamed operation. `has_label` is false when
  // the key is absent.
  bool has_label = false;
  nlohmann::json label;
  std::string label_path;
  Semantics semantics = Semantics::kAtLeastOncePerRetry;
  std::optional<CallbackSpec> wait_for_callback;  // on an action: the action is the submitter

  // Kind payloads (only the one for `kind` is meaningful).
  ActionSpec action;
  WaitSpec wait;
  CallbackSpec callback;        // kCallback and kWaitForCallback
  std::string await_target;     // kAwait
  PollSpec poll;
  nlohmann::json set_value;     // kSet
  std::vector<SwitchCase> cases;
  std::vector<Branch> branches;  // kParallel
  nlohmann::json map_items;      // kMap: expression or array
  std::string map_items_path;
  nlohmann::json map_item_label;  // kMap `itemLabel:`: Name of each iteration; null when absent
  std::string map_item_label_path;
  std::vector<Step> steps;       // kMap (per item) and kGroup
  std::string steps_path;
  CompletionPolicy policy;       // kParallel, kMap
  nlohmann::json succeed_value;  // kSucceed
  FailSpec fail;                 // kFail
};

struct Param {
  std::string name;
  std::string path;
  std::optional<std::string> env;  // {env: NAME}
  std::optional<std::string> split;
  std::string type = "string";  // string | number | integer | boolean | json
  bool has_default = false;
  nlohmann::json value;  // literal value, or the default of an env param
};

struct WorkflowDefinition {
  Document document;
  int version = 0;
  std::string name;
  std::string description;
  DurationField timeout;         // default 24h
  nlohmann::json input_schema;   // null when absent
  std::vector<Param> params;
  std::optional<RetrySpec> retry_defaults;
  std::vector<Step> steps;
  bool has_output = false;
  nlohmann::json output;

  const std::string& file() const { return document.file(); }
};

// Builds the symbolic tree from a document. Never fails: malformed parts
// are left out (the schema check reports them).
WorkflowDefinition BuildDefinition(Document document);

// The lists of steps nested directly in `step` (switch cases, parallel
// branches, map and group bodies), in document order.
std::vector<const std::vector<Step>*> ChildStepLists(const Step& step);

// Visits every step, depth first in document order (parents before their
// children); `parents` lists the enclosing steps, outermost first. Recursion
// depth is bounded by kMaxDocumentDepth.
template <typename F>
void ForEachStep(const std::vector<Step>& steps, F&& visit,
                 std::vector<const Step*>* parents = nullptr) {
  std::vector<const Step*> root_parents;
  if (parents == nullptr) parents = &root_parents;
  for (const Step& step : steps) {
    visit(step, static_cast<const std::vector<const Step*>&>(*parents));
    parents->push_back(&step);
    for (const auto* list : ChildStepLists(step)) ForEachStep(*list, visit, parents);
    parents->pop_back();
  }
}

}  // namespace cairn
