#include "lambda/durable_handler.h"

#include <nlohmann/json.hpp>

namespace cairn::lambda {
namespace {

using nlohmann::json;
namespace P = protocol;

// Remembers the newest token of the invocation, so the runtime can still
// checkpoint after the engine returned (an oversized result).
class TokenTrackingClient final : public backend::CheckpointClient {
 public:
  TokenTrackingClient(backend::CheckpointClient& inner, std::string token)
      : inner_(inner), token_(std::move(token)) {}

  Result<P::CheckpointResponse> Checkpoint(const std::string& arn,
                                           const P::CheckpointRequest& request) override {
    auto r = inner_.Checkpoint(arn, request);
    if (r.ok()) {
      if (r->checkpoint_token) {
        token_ = *r->checkpoint_token;
      } else {
        ended_ = true;
      }
    }
    return r;
  }
  Result<P::ExecutionState> GetState(const std::string& arn, const std::string& token,
                                     const std::string& marker) override {
    return inner_.GetState(arn, token, marker);
  }
  const std::string& token() const { return token_; }
  bool ended() const { return ended_; }

 private:
  backend::CheckpointClient& inner_;
  std::string token_;
  bool ended_ = false;
};

HandlerReply Reply(const P::InvocationOutput& out) {
  return HandlerReply{true, P::ToJson(out).dump(-1, ' ', false, json::error_handler_t::replace), {}};
}

HandlerReply Failed(std::string type, std::string message) {
  P::InvocationOutput out;
  out.status = P::InvocationStatus::kFailed;
  out.error = P::ErrorObject{std::move(type), std::move(message), std::nullopt, {}};
  return Reply(out);
}

HandlerReply InvocationError(const Error& e) {
  return HandlerReply{false, {}, RuntimeError{e.code.empty() ? "Runtime.Error" : e.code, e.ToString()}};
}

const char* KindName(engine::StepEvent::Kind k) {
  using K = engine::StepEvent::Kind;
  switch (k) {
    case K::kStarted: return "started";
    case K::kSucceeded: return "succeeded";
    case K::kFailed: return "failed";
    case K::kRetrying: return "retrying";
    case K::kWaiting: return "waiting";
    case K::kCallbackWaiting: return "waiting for callback";
    case K::kLog: return "log";
  }
  return "event";
}

}  // namespace

DurableHandler::DurableHandler(DurableHandlerOptions options) : options_(std::move(options)) {
  WorkflowBundleOptions b;
  b.dir = options_.workflows_dir;
  b.actions = options_.actions;
  b.lookup_env = options_.lookup_env;
  b.build = options_.build;
  b.engine_options.clock = options_.clock;
  b.engine_options.should_stop = [this] {
    int64_t stop_at = stop_at_ms_.load();
    return stop_at > 0 && options_.clock->NowMillis() >= stop_at;
  };
  b.engine_options.on_event = [this](const engine::StepEvent& e) {
    std::string line = "step " + e.step + " " + KindName(e.kind);
    if (e.attempt > 0) line += " (attempt " + std::to_string(e.attempt) + ")";
    if (e.duration_ms > 0) line += " in " + std::to_string(e.duration_ms) + " ms";
    if (!e.detail.empty()) line += ": " + e.detail;
    Log(line);
  };
  bundle_ = std::make_unique<WorkflowBundle>(std::move(b));
}

void DurableHandler::Log(const std::string& line) const {
  if (options_.log) options_.log(request_id_.empty() ? line : request_id_ + " " + line);
}

Status DurableHandler::Init() {
  if (!options_.client) return MakeError("init", "no checkpoint client");
  auto s = bundle_->Init();
  if (!s.ok()) return s;
  Log("workflows in " + options_.workflows_dir + ": " + std::to_string(bundle_->FileNames().size()) +
      (options_.default_workflow.empty() ? "" : ", default " + options_.default_workflow) +
      (bundle_->manifest_size() > 0
           ? ", " + std::to_string(bundle_->manifest_size()) + " schema-checked when packaged"
           : ""));
  if (!bundle_->manifest_note().empty()) Log(bundle_->manifest_note());
  return {};
}

HandlerReply DurableHandler::Handle(const NextInvocation& next) {
  request_id_ = next.request_id;
  stop_at_ms_ = next.deadline_ms > 0 ? next.deadline_ms - options_.deadline_margin_ms : 0;
  struct Reset {
    DurableHandler* h;
    ~Reset() {
      h->stop_at_ms_ = 0;
      h->request_id_.clear();
    }
  } reset{this};

  json event = json::parse(next.body, nullptr, /*allow_exceptions=*/false);
  if (event.is_discarded() || !event.is_object()) {
    return InvocationError(MakeError("Runtime.InvalidEvent", "the invocation event is not a JSON object"));
  }
  auto parsed = P::InvocationFromJson(event);
  if (!parsed.ok() || parsed->durable_execution_arn.empty() || parsed->checkpoint_token.empty()) {
    return InvocationError(MakeError(
        "Runtime.InvalidEvent",
        "not a durable execution invocation (DurableExecutionArn, CheckpointToken and "
        "InitialExecutionState are required; is the function's DurableConfig set?)" +
            (parsed.ok() ? std::string() : ": " + parsed.error().ToString())));
  }
  P::Invocation invocation = std::move(*parsed);
  backend::CheckpointClient& client = *options_.client;

  // All pages, so that the EXECUTION operation (and its input) is at hand.
  for (std::string marker = invocation.initial_state.next_marker; !marker.empty();) {
    auto page = client.GetState(invocation.durable_execution_arn, invocation.checkpoint_token, marker);
    if (!page.ok()) {
      if (backend::ClassifyError(page.error()) == backend::ErrorClass::kPermanent) {
        return Failed("Cairn.StateUnavailable", page.error().ToString());
      }
      return InvocationError(page.error());
    }
    for (auto& op : page->operations) invocation.initial_state.operations.push_back(std::move(op));
    marker = page->next_marker;
  }
  invocation.initial_state.next_marker.clear();

  P::Operation* execution = nullptr;
  for (auto& op : invocation.initial_state.operations) {
    if (op.type == P::OperationType::kExecution) execution = &op;
  }
  if (!execution) return Failed("Cairn.InvalidInvocation", "the invocation has no EXECUTION operation");

  // Which workflow, with which input.
  std::string name = options_.default_workflow;
  json input = json::object();
  if (execution->input_payload && !execution->input_payload->empty()) {
    input = json::parse(*execution->input_payload, nullptr, /*allow_exceptions=*/false);
    if (input.is_discarded()) return Failed("Cairn.InvalidInput", "the execution input is not JSON");
  }
  if (input.is_object() && input.contains("workflow") && input["workflow"].is_string()) {
    bool only_selection = true;
    for (const auto& [key, value] : input.items()) only_selection &= key == "workflow" || key == "input";
    if (only_selection) {
      name = input["workflow"].get<std::string>();
      json inner = input.contains("input") ? input["input"] : json::object();
      input = std::move(inner);
    }
  }
  if (name.empty()) {
    return Failed("Cairn.NoWorkflow",
                  "the input names no workflow ({\"workflow\": NAME, \"input\": {...}}) and no "
                  "default workflow is configured (--default-workflow or the function's Handler)");
  }
  auto engine = bundle_->Find(name);
  if (!engine.ok()) return Failed(engine.error().code, engine.error().message);
  execution->input_payload = input.dump();

  TokenTrackingClient tracking(client, invocation.checkpoint_token);
  auto out = (*engine)->Invoke(invocation, tracking);
  if (!out.ok()) return InvocationError(out.error());
  if (out->status == P::InvocationStatus::kSucceeded && out->result &&
      out->result->size() > kMaxInlineResultBytes) {
    // Too large for the reply: checkpoint it as the execution's result.
    P::OperationUpdate done;
    done.id = execution->id;
    done.type = P::OperationType::kExecution;
    done.action = P::OperationAction::kSucceed;
    done.payload = std::move(*out->result);
    auto r = tracking.Checkpoint(invocation.durable_execution_arn,
                                 P::CheckpointRequest{tracking.token(), std::nullopt, {done}});
    if (!r.ok()) {
      if (backend::ClassifyError(r.error()) == backend::ErrorClass::kPermanent) {
        return Failed("Cairn.CheckpointRejected", r.error().ToString());
      }
      return InvocationError(r.error());
    }
    Log("result of " + std::to_string(done.payload->size()) + " bytes checkpointed (over 6 MB)");
    out->result = "";
  }
  return Reply(*out);
}

}  // namespace cairn::lambda
