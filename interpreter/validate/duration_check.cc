// CRN050–CRN052: durations (ParseDuration's syntax, at most 366 days, and
// whole seconds >= 1 where the durable protocol counts in seconds).
#include "validate/checks.h"

namespace cairn::validate {
namespace {

using nlohmann::json;

enum class Unit {
  kAny,      // milliseconds are fine (cairn enforces it in process)
  kSeconds,  // the protocol's unit: a durable wait, retry delay, callback or execution timeout
};

std::string Written(const std::string& pointer, const json& raw) {
  std::string key = pointer.substr(pointer.rfind('/') + 1);
  return Quote(key + ": " + (raw.is_string() ? raw.get<std::string>() : raw.dump()));
}

void CheckValue(const CheckContext& ctx, const std::string& pointer, const json& raw,
                std::optional<Duration> value, Unit unit) {
  if (!value) {
    Result<Duration> parsed = raw.is_string()   ? ParseDuration(raw.get<std::string>())
                              : raw.is_number() ? DurationFromSeconds(raw.get<double>())
                                                : Result<Duration>(Duration{});
    if (parsed.ok()) return;  // not a string or number: the schema check reports it
    std::string message = parsed.error().message;
    std::string hint = "write e.g. 500ms, 30s, 10m, 1h, 2d, 1h30m, or a number of seconds";
    if (auto at = message.find(" (write e.g."); at != std::string::npos) message.resize(at);
    ctx.Error("CRN050", pointer, message, hint);
    return;
  }
  if (*value > kMaxDuration) {
    ctx.Error("CRN051", pointer, Written(pointer, raw) + " is longer than 366 days",
              "the durable protocol keeps nothing longer than 366 days (31622400s)");
    return;
  }
  if (unit == Unit::kSeconds && (!value->whole_seconds() || value->millis < 1000)) {
    int64_t rounded = std::max<int64_t>(1, (value->millis + 500) / 1000);
    ctx.Error("CRN052", pointer,
              Written(pointer, raw) + (value->millis < 1000 ? " is shorter than one second"
                                                            : " is not a whole number of seconds"),
              "durable delays and timeouts are counted in whole seconds, at least 1: write " +
                  Duration::Seconds(rounded).ToString());
  }
}

void CheckField(const CheckContext& ctx, const DurationField& f, Unit unit) {
  if (!f.present() || f.is_expression) return;
  CheckValue(ctx, f.path, f.raw, f.value, unit);
}

void CheckRetry(const CheckContext& ctx, const std::optional<RetrySpec>& retry) {
  if (!retry) return;
  CheckField(ctx, retry->interval, Unit::kSeconds);
  CheckField(ctx, retry->max_delay, Unit::kSeconds);
}

void CheckCallback(const CheckContext& ctx, const CallbackSpec& c) {
  CheckField(ctx, c.timeout, Unit::kSeconds);
  CheckField(ctx, c.heartbeat, Unit::kSeconds);
}

// `timeout:` of an http.request (a plain JSON parameter, not a DurationField).
void CheckActionTimeout(const CheckContext& ctx, const ActionSpec& action) {
  if (action.type != "http.request" || !action.params.is_object()) return;
  auto it = action.params.find("timeout");
  if (it == action.params.end()) return;
  const json& raw = *it;
  if (raw.is_string()) {
    const auto& s = raw.get_ref<const std::string&>();
    if (s.find("${") != std::string::npos) return;
    Result<Duration> d = ParseDuration(s);
    CheckValue(ctx, PointerAppend(action.path, "timeout"), raw,
               d.ok() ? std::optional<Duration>(*d) : std::nullopt, Unit::kAny);
  } else if (raw.is_number()) {
    Result<Duration> d = DurationFromSeconds(raw.get<double>());
    CheckValue(ctx, PointerAppend(action.path, "timeout"), raw,
               d.ok() ? std::optional<Duration>(*d) : std::nullopt, Unit::kAny);
  }
}

}  // namespace

void CheckDurations(const CheckContext& ctx) {
  const WorkflowDefinition& def = ctx.def;
  CheckField(ctx, def.timeout, Unit::kSeconds);
  CheckRetry(ctx, def.retry_defaults);
  ForEachStep(def.steps, [&](const Step& s, const std::vector<const Step*>&) {
    CheckField(ctx, s.timeout, Unit::kAny);
    CheckRetry(ctx, s.retry);
    if (s.wait_for_callback) CheckCallback(ctx, *s.wait_for_callback);
    switch (s.kind) {
      case StepKind::kWait:
        CheckField(ctx, s.wait.duration, Unit::kSeconds);
        break;
      case StepKind::kCallback:
      case StepKind::kWaitForCallback:
        CheckCallback(ctx, s.callback);
        break;
      case StepKind::kPoll:
        CheckField(ctx, s.poll.interval, Unit::kSeconds);
        CheckField(ctx, s.poll.backoff_max, Unit::kSeconds);
        CheckField(ctx, s.poll.timeout, Unit::kAny);
        CheckActionTimeout(ctx, s.poll.check);
        break;
      case StepKind::kAction:
        CheckActionTimeout(ctx, s.action);
        break;
      default:
        break;
    }
  });
}

}  // namespace cairn::validate
