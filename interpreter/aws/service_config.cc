#include "aws/service_config.h"

#include <array>
#include <cctype>

namespace cairn::aws {
namespace {

struct KnownService {
  std::string_view signing_name, service_id, error_prefix;
};

constexpr std::array<KnownService, 15> kKnownServices{{
    {"dynamodb", "DynamoDB", "DynamoDB"},
    {"ecs", "ECS", "ECS"},
    {"lambda", "Lambda", "Lambda"},
    {"sts", "STS", "STS"},
    {"iam", "IAM", "IAM"},
    {"sqs", "SQS", "SQS"},
    {"sns", "SNS", "SNS"},
    {"s3", "S3", "S3"},
    {"states", "SFN", "SFN"},
    {"events", "EventBridge", "EventBridge"},
    {"logs", "CloudWatch Logs", "CloudWatchLogs"},
    {"secretsmanager", "Secrets Manager", "SecretsManager"},
    {"ssm", "SSM", "SSM"},
    {"ec2", "EC2", "EC2"},
    {"kinesis", "Kinesis", "Kinesis"},
}};

std::string Transform(std::string_view id, bool upper) {
  std::string out;
  for (char c : id) {
    if (c == ' ' || c == '-') {
      out += '_';
    } else {
      out += static_cast<char>(upper ? std::toupper(static_cast<unsigned char>(c))
                                     : std::tolower(static_cast<unsigned char>(c)));
    }
  }
  return out;
}

bool IsTrue(std::string value) {
  for (char& c : value) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return value == "true";
}

bool IsRegionName(std::string_view region) {
  if (region.empty() || region.size() > 63 || region.front() == '-' || region.back() == '-') {
    return false;
  }
  for (char c : region) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

// "scheme://host[:port]" with an optional trailing '/'.
Result<std::string> CheckEndpoint(std::string url, const std::string& origin) {
  while (url.ends_with('/')) url.pop_back();
  size_t scheme = url.find("://");
  bool ok =
      scheme != std::string::npos && (url.starts_with("http://") || url.starts_with("https://"));
  if (ok) {
    std::string_view authority = std::string_view(url).substr(scheme + 3);
    ok = !authority.empty() && authority.find_first_of("/?#@ ") == std::string_view::npos;
  }
  if (!ok) {
    return MakeError(
        "config", origin + " '" + url + "' is not an endpoint of the form http(s)://host[:port]");
  }
  return url;
}

}  // namespace

ServiceInfo ServiceInfoFor(std::string_view signing_name) {
  for (const KnownService& known : kKnownServices) {
    if (known.signing_name == signing_name) {
      return ServiceInfo{std::string(known.signing_name), std::string(known.service_id),
                         std::string(known.error_prefix), Transform(known.service_id, true),
                         Transform(known.service_id, false)};
    }
  }
  return ServiceInfo{std::string(signing_name), std::string(signing_name),
                     std::string(signing_name), Transform(signing_name, true),
                     Transform(signing_name, false)};
}

Result<ServiceConfig> LoadServiceConfig(const EnvironmentLookup& env) {
  Result<SharedConfig> shared = LoadSharedConfig(env);
  if (!shared.ok()) return shared.error();
  ServiceConfig config;
  config.env = env;
  config.profile = ProfileName(env);
  auto profile_value = [&](const std::string& key) {
    return shared->Get(config.profile, key).value_or("");
  };
  config.region =
      NonEmpty(env, "AWS_REGION")
          .value_or(NonEmpty(env, "AWS_DEFAULT_REGION").value_or(profile_value("region")));

  std::string attempts = NonEmpty(env, "AWS_MAX_ATTEMPTS").value_or(profile_value("max_attempts"));
  if (!attempts.empty()) {
    int n = 0;
    bool digits = attempts.size() <= 2;
    for (char c : attempts) digits = digits && c >= '0' && c <= '9';
    if (digits) n = std::stoi(attempts);
    if (!digits || n < 1 || n > 20) {
      return MakeError(
          "config",
          "max attempts (AWS_MAX_ATTEMPTS / max_attempts) must be an integer from 1 to 20, not '" +
              attempts + "'");
    }
    config.max_attempts = n;
  }

  config.ignore_configured_endpoints =
      IsTrue(NonEmpty(env, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
                 .value_or(profile_value("ignore_configured_endpoint_urls")));
  config.global_endpoint_env = NonEmpty(env, "AWS_ENDPOINT_URL").value_or("");
  config.profile_endpoint = profile_value("endpoint_url");
  if (std::string services = profile_value("services"); !services.empty()) {
    auto it = shared->services.find(services);
    if (it != shared->services.end()) config.services_section = it->second;
  }
  return config;
}

Result<std::string> ResolveEndpoint(const ServiceConfig& config, const ServiceInfo& service,
                                    std::string_view region) {
  if (!config.ignore_configured_endpoints) {
    const std::string service_var = "AWS_ENDPOINT_URL_" + service.env_suffix;
    if (std::optional<std::string> url = NonEmpty(config.env, service_var)) {
      return CheckEndpoint(*url, service_var);
    }
    if (!config.global_endpoint_env.empty()) {
      return CheckEndpoint(config.global_endpoint_env, "AWS_ENDPOINT_URL");
    }
    auto it = config.services_section.find(service.config_key + ".endpoint_url");
    if (it != config.services_section.end() && !it->second.empty()) {
      return CheckEndpoint(it->second,
                           "the services section's " + service.config_key + " endpoint_url");
    }
    if (!config.profile_endpoint.empty()) {
      return CheckEndpoint(config.profile_endpoint,
                           "profile " + config.profile + "'s endpoint_url");
    }
  }
  if (region.empty()) {
    return MakeError(
        "config", "no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION, or `region` in profile " +
                      config.profile + ")");
  }
  if (!IsRegionName(region)) {
    return MakeError("config", "'" + std::string(region) + "' is not an AWS region name");
  }
  std::string domain = region.starts_with("cn-") ? "amazonaws.com.cn" : "amazonaws.com";
  return "https://" + service.signing_name + "." + std::string(region) + "." + domain;
}

}  // namespace cairn::aws
