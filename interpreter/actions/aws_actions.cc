#include "actions/aws_actions.h"

#include "actions/dynamodb_action.h"
#include "actions/ecs_action.h"
#include "actions/lambda_action.h"
#include "aws/curl_http_client.h"
#include "aws/service_client.h"
#include "aws/service_config.h"
#include "aws/sigv4.h"

namespace cairn::actions {

ActionOutcome AwsFailure(const aws::AwsReply& reply) {
  nlohmann::json data = nullptr;
  if (reply.http_status != 0) data = {{"httpStatus", reply.http_status}};
  std::string name = reply.error_name.empty() ? "Cairn.Transient" : reply.error_name;
  std::string message = reply.error_message.empty() ? "the call failed" : reply.error_message;
  return ActionOutcome::Failure(std::move(name), std::move(message), std::move(data));
}

void RegisterAwsActions(ActionRegistry& registry, std::shared_ptr<aws::AwsCaller> caller,
                        AwsActionsOptions options) {
  using D = DynamoDbAction::Operation;
  for (D op : {D::kPutItem, D::kUpdateItem, D::kGetItem, D::kDeleteItem, D::kQuery}) {
    registry.Register(DynamoDbAction::TypeName(op), std::make_unique<DynamoDbAction>(op, caller));
  }
  using E = EcsAction::Operation;
  for (E op : {E::kRunTask, E::kDescribeTasks, E::kStopTask}) {
    registry.Register(EcsAction::TypeName(op), std::make_unique<EcsAction>(op, caller));
  }
  registry.Register("lambda.invoke", std::make_unique<LambdaInvokeAction>(caller));
  if (options.http) {
    registry.Register("http.request", std::make_unique<HttpRequestAction>(
                                          std::move(options.http), std::move(options.signer)));
  }
}

RequestSigner MakeSigV4Signer(std::shared_ptr<aws::CredentialsProvider> credentials,
                              std::string default_region, const Clock& clock) {
  return [credentials = std::move(credentials), default_region = std::move(default_region), &clock](
             const aws::HttpRequest& request, const std::string& service,
             const std::string& region) -> Result<aws::HttpRequest> {
    const std::string& use_region = region.empty() ? default_region : region;
    if (use_region.empty()) {
      return MakeError("config", "no region: set sigv4.region, or AWS_REGION / AWS_DEFAULT_REGION");
    }
    auto provided = credentials->Resolve();
    if (!provided.ok()) return provided.error();
    const auto now = std::chrono::sys_seconds(std::chrono::seconds(clock.NowMillis() / 1000));
    auto signed_request =
        aws::SignRequest(request, provided->credentials, now, use_region, service);
    if (!signed_request.ok()) return signed_request.error();
    return std::move(signed_request->request);
  };
}

void RegisterDefaultAwsActions(ActionRegistry& registry, aws::EnvironmentLookup env,
                               const Clock& clock) {
  std::shared_ptr<aws::HttpClient> http = aws::MakeCurlHttpClient(env);
  std::shared_ptr<aws::AwsCaller> caller = aws::MakeDefaultServiceClient(env, clock, http);
  aws::CredentialsChainOptions chain;
  chain.env = env;
  chain.http = http;
  std::shared_ptr<aws::CredentialsProvider> credentials =
      aws::MakeDefaultCredentialsChain(std::move(chain), clock);
  auto config = aws::LoadServiceConfig(env);
  std::string region = config.ok() ? config->region : "";
  AwsActionsOptions options;
  options.http = http;
  options.signer = MakeSigV4Signer(std::move(credentials), std::move(region), clock);
  RegisterAwsActions(registry, std::move(caller), std::move(options));
}

}  // namespace cairn::actions
