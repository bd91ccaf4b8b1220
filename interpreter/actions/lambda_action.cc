#include "actions/lambda_action.h"

#include "actions/action_params.h"
#include "actions/aws_actions.h"
#include "aws/sigv4.h"

namespace cairn::actions {
namespace {

using nlohmann::json;

// The header's value in `headers` (case-insensitive name), or nullptr.
const std::string* Header(const std::vector<std::pair<std::string, std::string>>& headers,
                          std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (aws::HeaderNameEquals(k, name)) return &v;
  }
  return nullptr;
}

// The reply payload as JSON: parsed, else the text, null when empty.
json Payload(const aws::AwsReply& reply) {
  const std::string& raw = reply.raw_body;
  if (raw.empty()) return reply.body;  // a caller that parsed it already
  if (auto parsed = ParseJsonReply(raw)) return std::move(*parsed);
  return ToValidUtf8(raw);
}

}  // namespace

ActionOutcome LambdaInvokeAction::Run(const ActionRequest& request) {
  ParamReader p(request.params, "lambda.invoke");
  if (auto s = p.CheckKeys({"function", "qualifier", "payload", "durable", "invocationType"});
      !s.ok()) {
    return InvalidOutcome(s.error());
  }
  auto function = p.RequiredString("function");
  if (!function.ok()) return InvalidOutcome(function.error());
  auto qualifier = p.String("qualifier");
  if (!qualifier.ok()) return InvalidOutcome(qualifier.error());
  auto type = p.Enum("invocationType", {"RequestResponse", "Event"});
  if (!type.ok()) return InvalidOutcome(type.error());
  auto durable = p.Bool("durable");
  if (!durable.ok()) return InvalidOutcome(durable.error());
  if (durable->value_or(false)) {
    return ActionOutcome::Failure(
        "Cairn.UnsupportedAction",
        "lambda.invoke with `durable: true` is a chained invoke of a durable function, which "
        "only the Lambda backend runs; the local backend cannot wait for another durable "
        "execution. Remove `durable` to invoke " +
            *function + " request-response.");
  }

  aws::AwsCall call;
  call.service = "lambda";
  call.protocol = aws::AwsProtocol::kRestJson;
  call.method = "POST";
  call.path = "/2015-03-31/functions/" + aws::UriEncode(*function) + "/invocations";
  if (qualifier->has_value()) call.query = "Qualifier=" + aws::UriEncode(**qualifier);
  call.headers.emplace_back("X-Amz-Invocation-Type", type->value_or("RequestResponse"));
  if (const json* payload = p.Find("payload")) {
    call.raw_body = payload->dump(-1, ' ', false, json::error_handler_t::replace);
    call.use_raw_body = true;
  }
  const aws::AwsReply reply = caller_->Call(WithStepTimeout(std::move(call), request));
  if (!reply.ok) return AwsFailure(reply);

  if (type->value_or("RequestResponse") == "Event") {
    return ActionOutcome::Success(
        {{"statusCode", reply.http_status == 0 ? 202 : reply.http_status}});
  }
  json payload = Payload(reply);
  if (const std::string* error = Header(reply.headers, "X-Amz-Function-Error")) {
    std::string message = "the function " + *function + " failed (" + *error + ")";
    if (payload.is_object() && payload.contains("errorMessage") &&
        payload["errorMessage"].is_string()) {
      message = payload["errorMessage"].get<std::string>();
    }
    return ActionOutcome::Failure("Lambda.FunctionError", message, std::move(payload));
  }
  return ActionOutcome::Success(std::move(payload));
}

}  // namespace cairn::actions
