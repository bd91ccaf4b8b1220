// Which region and which endpoint a service call goes to, and how many
// attempts it gets, resolved from the environment and the shared config
// files as the AWS SDKs do.
//
//  * region: AWS_REGION, else AWS_DEFAULT_REGION, else the profile's
//    `region`. None: calls fail with Cairn.Configuration.
//  * endpoint, first match wins (the SDKs' precedence):
//      AWS_ENDPOINT_URL_<SERVICE>   (service id upper-cased, spaces → '_':
//                                    DYNAMODB, ECS, LAMBDA, CLOUDWATCH_LOGS)
//      AWS_ENDPOINT_URL
//      the profile's `services = NAME` section, `<service key> =` then an
//      indented `endpoint_url = …` (service key: id lower-cased, spaces → '_')
//      the profile's `endpoint_url`
//      https://{endpoint prefix}.{region}.amazonaws.com (".com.cn" in cn-*)
//    AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true (or the profile's
//    ignore_configured_endpoint_urls) skips the four configured forms.
//    An endpoint is "scheme://host[:port]" (a trailing '/' is dropped); a
//    path is rejected.
//  * max attempts: AWS_MAX_ATTEMPTS, else the profile's `max_attempts`,
//    else 3. (Only the "standard" retry mode exists here; AWS_RETRY_MODE is
//    not read.)
//
// ServiceInfo maps a SigV4 signing name to the SDK's service id and to the
// prefix of workflow error names ("DynamoDB" in
// "DynamoDB.ConditionalCheckFailedException").
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <string>
#include <string_view>

#include "aws/shared_config.h"
#include "core/result.h"

namespace cairn::aws {

struct ServiceInfo {
  std::string signing_name;  // "dynamodb", also the endpoint prefix
  std::string service_id;    // "DynamoDB", "ECS", "Lambda", "CloudWatch Logs"
  std::string error_prefix;  // "DynamoDB", "ECS", "Lambda", "CloudWatchLogs"
  std::string env_suffix;    // "DYNAMODB", "CLOUDWATCH_LOGS"
  std::string config_key;    // "dynamodb", "cloudwatch_logs"
};

// The known services (dynamodb, ecs, lambda, sts, iam, sqs, sns, s3,
// states, events, logs, secretsmanager, ssm, ec2, kinesis); another name is
// its own id and error prefix.
ServiceInfo ServiceInfoFor(std::string_view signing_name);

struct ServiceConfig {
  std::string profile;
  std::string region;  // empty: none configured
  int max_attempts = 3;
  bool ignore_configured_endpoints = false;
  std::string global_endpoint_env;  // AWS_ENDPOINT_URL
  std::string profile_endpoint;     // profile endpoint_url
  ConfigSection services_section;   // the profile's services section
  EnvironmentLookup env;            // for AWS_ENDPOINT_URL_<SERVICE>
};

// Reads the environment and the shared files once. Fails (code "config")
// when a file cannot be read or AWS_MAX_ATTEMPTS/max_attempts is not an
// integer from 1 to 20.
Result<ServiceConfig> LoadServiceConfig(const EnvironmentLookup& env);

// The endpoint base URL for `service` in `region`. Fails (code "config")
// for an endpoint that is not scheme://host[:port], or when the default is
// needed and the region is empty or not a region name.
Result<std::string> ResolveEndpoint(const ServiceConfig& config, const ServiceInfo& service,
                                    std::string_view region);

}  // namespace cairn::aws
