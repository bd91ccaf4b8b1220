// The actions that talk to AWS (dynamodb.*, ecs.*, lambda.invoke,
// http.request), registered together.
#pragma once

#include <memory>

#include "actions/action.h"
#include "actions/http_action.h"
#include "aws/aws_caller.h"
#include "aws/credentials_provider.h"
#include "aws/shared_config.h"
#include "core/clock.h"

namespace cairn::actions {

struct AwsActionsOptions {
  // The client of http.request; when null, http.request is not registered
  // (so it fails with Cairn.UnsupportedAction).
  std::shared_ptr<aws::HttpClient> http;
  // Signs http.request's `sigv4` requests; may be empty (such requests
  // then fail with Cairn.Configuration).
  RequestSigner signer;
};

// Registers dynamodb.putItem|updateItem|getItem|deleteItem|query,
// ecs.runTask|describeTasks|stopTask and lambda.invoke on `caller`, and
// http.request on options.http. REQUIRES: before `registry` runs anything.
void RegisterAwsActions(ActionRegistry& registry, std::shared_ptr<aws::AwsCaller> caller,
                        AwsActionsOptions options = {});

// A RequestSigner that signs with SigV4 at `clock`'s time, with the
// credentials `credentials` resolves, in the request's region or else
// `default_region` (an error when both are empty).
RequestSigner MakeSigV4Signer(std::shared_ptr<aws::CredentialsProvider> credentials,
                              std::string default_region, const Clock& clock);

// The production wiring: every AWS action on aws::MakeDefaultServiceClient
// (region, endpoints such as AWS_ENDPOINT_URL_DYNAMODB, credentials chain,
// retries, all from `env`), and http.request on a CurlHttpClient with a
// SigV4 signer over the default credentials chain. Nothing is contacted
// until an action runs.
void RegisterDefaultAwsActions(ActionRegistry& registry, aws::EnvironmentLookup env,
                               const Clock& clock);

// The outcome of a failed AWS call: the reply's error name (or
// Cairn.Transient when it has none) and message; data {httpStatus} when the
// service answered.
ActionOutcome AwsFailure(const aws::AwsReply& reply);

}  // namespace cairn::actions
