#include "aws/credentials_provider.h"

#include <cctype>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <utility>

namespace cairn::aws {
namespace {

using std::chrono::sys_seconds;

Error Absent(std::string reason) { return MakeError("credentials.absent", std::move(reason)); }
Error Failed(std::string message) { return MakeError("credentials", std::move(message)); }

struct Url {
  std::string base;  // scheme://host[:port]
  std::string scheme;
  std::string host;  // without brackets and port
  std::string path;
  std::string query;
};

std::optional<Url> SplitUrl(std::string_view text) {
  Url url;
  size_t scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) return std::nullopt;
  url.scheme = std::string(text.substr(0, scheme_end));
  if (url.scheme != "http" && url.scheme != "https") return std::nullopt;
  size_t authority_start = scheme_end + 3;
  size_t path_start = text.find_first_of("/?", authority_start);
  std::string_view authority = text.substr(authority_start, path_start == std::string_view::npos
                                                                ? std::string_view::npos
                                                                : path_start - authority_start);
  if (authority.empty() || authority.find('@') != std::string_view::npos) return std::nullopt;
  url.base = std::string(text.substr(0, authority_start)) + std::string(authority);
  if (authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    url.host = std::string(authority.substr(1, close - 1));
  } else {
    url.host = std::string(authority.substr(0, authority.find(':')));
  }
  std::string_view rest =
      path_start == std::string_view::npos ? std::string_view() : text.substr(path_start);
  size_t q = rest.find('?');
  url.path = std::string(rest.substr(0, q));
  if (q != std::string_view::npos) url.query = std::string(rest.substr(q + 1));
  if (url.path.empty()) url.path = "/";
  return url;
}

// The hosts an http:// (not https) container credentials URI may name: the
// loopback interface and the ECS / EKS Pod Identity agents.
bool AllowedPlainHttpHost(const std::string& host) {
  return host.starts_with("127.") || host == "localhost" || host == "::1" ||
         host == "169.254.170.2" || host == "169.254.170.23" || host == "fd00:ec2::23";
}

bool HasLineBreak(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

// {AccessKeyId, SecretAccessKey, <token_key>, Expiration} as returned by
// the container endpoint, IMDS and credential_process.
Result<ProvidedCredentials> CredentialsFromJson(std::string_view text, std::string_view token_key,
                                                std::string source) {
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return Failed(source + " returned something that is not a JSON object");
  auto string_field = [&doc](std::string_view key) -> std::string {
    auto it = doc.find(key);
    return (it != doc.end() && it->is_string()) ? it->get<std::string>() : std::string();
  };
  std::string access_key_id = string_field("AccessKeyId");
  std::string secret = string_field("SecretAccessKey");
  if (access_key_id.empty() || secret.empty()) {
    return Failed(source + " returned no AccessKeyId/SecretAccessKey");
  }
  ProvidedCredentials provided{
      Credentials(std::move(access_key_id), std::move(secret), string_field(token_key)),
      std::nullopt, std::move(source)};
  std::string expiration = string_field("Expiration");
  if (!expiration.empty()) {
    provided.expiration = ParseIso8601(expiration);
    if (!provided.expiration) {
      return Failed(provided.source + " returned an Expiration that is not an ISO 8601 time");
    }
  }
  return provided;
}

class EnvironmentProvider final : public CredentialsProvider {
 public:
  explicit EnvironmentProvider(EnvironmentLookup env) : env_(std::move(env)) {}
  Result<ProvidedCredentials> Resolve() override {
    std::optional<std::string> id = NonEmpty(env_, "AWS_ACCESS_KEY_ID");
    std::optional<std::string> secret = NonEmpty(env_, "AWS_SECRET_ACCESS_KEY");
    if (!id || !secret) {
      return Absent("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not both set");
    }
    return ProvidedCredentials{
        Credentials(*id, *secret, NonEmpty(env_, "AWS_SESSION_TOKEN").value_or("")), std::nullopt,
        "environment"};
  }

 private:
  const EnvironmentLookup env_;
};

class ProfileProvider final : public CredentialsProvider {
 public:
  explicit ProfileProvider(const CredentialsChainOptions& options)
      : env_(options.env),
        run_process_(options.run_process ? options.run_process : [](const std::string& c) {
          return RunCredentialProcess(c);
        }) {}

  Result<ProvidedCredentials> Resolve() override {
    Result<SharedConfig> config = LoadSharedConfig(env_);
    if (!config.ok()) return Failed(config.error().message);
    const std::string name = ProfileName(env_);
    const ConfigSection* profile = config->FindProfile(name);
    if (profile == nullptr) {
      if (NonEmpty(env_, "AWS_PROFILE")) {
        return Failed("profile '" + name + "' (AWS_PROFILE) is not in " + config->credentials_path +
                      " or " + config->config_path);
      }
      return Absent("no profile 'default' in " + config->credentials_path + " or " +
                    config->config_path);
    }
    auto get = [profile](const std::string& key) -> std::string {
      auto it = profile->find(key);
      return it == profile->end() ? std::string() : it->second;
    };
    const std::string source = "profile " + name;
    if (!get("aws_access_key_id").empty() && !get("aws_secret_access_key").empty()) {
      return ProvidedCredentials{Credentials(get("aws_access_key_id"), get("aws_secret_access_key"),
                                             get("aws_session_token")),
                                 std::nullopt, source};
    }
    if (std::string command = get("credential_process"); !command.empty()) {
      Result<std::string> output = run_process_(command);
      if (!output.ok()) return Failed(source + ": " + output.error().message);
      nlohmann::json doc = nlohmann::json::parse(*output, nullptr, false);
      if (doc.is_object() && doc.contains("Version") && doc["Version"] != 1) {
        return Failed(source +
                      ": credential_process output has an unsupported Version (expected 1)");
      }
      return CredentialsFromJson(*output, "SessionToken", source + " (credential_process)");
    }
    if (!get("role_arn").empty() || !get("sso_start_url").empty() || !get("sso_session").empty() ||
        !get("web_identity_token_file").empty()) {
      return Failed(source +
                    " assumes a role or uses SSO, which cairn does not support: use static keys, "
                    "credential_process (e.g. `aws configure export-credentials --format process`) "
                    "or environment variables");
    }
    return Absent(source + " has no aws_access_key_id/aws_secret_access_key or credential_process");
  }

 private:
  const EnvironmentLookup env_;
  const CredentialProcessRunner run_process_;
};

Result<std::string> GetBody(HttpClient& http, const Url& url, std::vector<HttpHeader> headers,
                            std::string method, const HttpCallOptions& call,
                            const std::string& what) {
  HttpRequest request{.method = std::move(method),
                      .path = url.path,
                      .query = url.query,
                      .headers = std::move(headers)};
  Result<HttpResponse> response = http.Send(url.base, request, call);
  if (!response.ok()) return response.error();
  if (response->status != 200) {
    return Failed(what + " answered HTTP " + std::to_string(response->status));
  }
  return std::move(response->body);
}

class ContainerProvider final : public CredentialsProvider {
 public:
  explicit ContainerProvider(const CredentialsChainOptions& options) : options_(options) {}

  Result<ProvidedCredentials> Resolve() override {
    const EnvironmentLookup& env = options_.env;
    std::string uri;
    if (std::optional<std::string> relative =
            NonEmpty(env, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")) {
      uri = options_.container_relative_base + *relative;
    } else if (std::optional<std::string> full =
                   NonEmpty(env, "AWS_CONTAINER_CREDENTIALS_FULL_URI")) {
      uri = *full;
    } else {
      return Absent("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI/FULL_URI are not set");
    }
    std::optional<Url> url = SplitUrl(uri);
    if (!url) return Failed("the container credentials URI is not an http(s) URL");
    if (url->scheme == "http" && !AllowedPlainHttpHost(url->host) &&
        !NonEmpty(env, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")) {
      return Failed(
          "AWS_CONTAINER_CREDENTIALS_FULL_URI names host '" + url->host +
          "' over plain http: only https, loopback and the ECS/EKS agent addresses are allowed");
    }
    std::vector<HttpHeader> headers;
    std::optional<std::string> token;
    if (std::optional<std::string> file = NonEmpty(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")) {
      std::ifstream in(*file, std::ios::binary);
      if (!in) return Failed("cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE " + *file);
      std::ostringstream text;
      text << in.rdbuf();
      token = text.str();
      while (!token->empty() && (token->back() == '\n' || token->back() == '\r')) token->pop_back();
    } else {
      token = NonEmpty(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN");
    }
    if (token) {
      if (HasLineBreak(*token)) {
        return Failed("the container authorization token contains a line break");
      }
      headers.push_back({"Authorization", *token});
    }
    if (!options_.http) return Failed("no HTTP client for the container credentials endpoint");
    const std::string what = "the container credentials endpoint " + url->base;
    Result<std::string> body =
        GetBody(*options_.http, *url, std::move(headers), "GET", options_.metadata_call, what);
    if (!body.ok()) return Failed(what + ": " + body.error().message);
    return CredentialsFromJson(*body, "Token", "container endpoint");
  }

 private:
  const CredentialsChainOptions options_;
};

class ImdsProvider final : public CredentialsProvider {
 public:
  explicit ImdsProvider(const CredentialsChainOptions& options) : options_(options) {}

  Result<ProvidedCredentials> Resolve() override {
    const EnvironmentLookup& env = options_.env;
    std::string disabled = NonEmpty(env, "AWS_EC2_METADATA_DISABLED").value_or("");
    for (char& c : disabled) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (disabled == "true") {
      return Absent("EC2 instance metadata is disabled (AWS_EC2_METADATA_DISABLED)");
    }
    std::string endpoint =
        NonEmpty(env, "AWS_EC2_METADATA_SERVICE_ENDPOINT")
            .value_or(NonEmpty(env, "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE").value_or("") == "IPv6"
                          ? "http://[fd00:ec2::254]"
                          : "http://169.254.169.254");
    while (endpoint.ends_with('/')) endpoint.pop_back();
    std::optional<Url> base = SplitUrl(endpoint);
    if (!base) return Failed("AWS_EC2_METADATA_SERVICE_ENDPOINT is not an http(s) URL");
    if (!options_.http) return Failed("no HTTP client for EC2 instance metadata");
    HttpClient& http = *options_.http;
    const std::string what = "EC2 instance metadata at " + base->base;

    Url token_url = *base;
    token_url.path = "/latest/api/token";
    Result<std::string> token =
        GetBody(http, token_url, {{"X-aws-ec2-metadata-token-ttl-seconds", "21600"}}, "PUT",
                options_.metadata_call, what);
    if (!token.ok()) {
      // Not on EC2 (nothing answers): absent. Anything that answered wrongly: absent
      // too, as the SDKs treat an unusable IMDS as "no credentials here".
      return Absent(what + " is not reachable: " + token.error().message);
    }
    if (HasLineBreak(*token) || token->empty()) {
      return Failed(what + " returned an unusable session token");
    }
    std::vector<HttpHeader> auth{{"X-aws-ec2-metadata-token", *token}};

    Url role_url = *base;
    role_url.path = "/latest/meta-data/iam/security-credentials/";
    Result<std::string> roles = GetBody(http, role_url, auth, "GET", options_.metadata_call, what);
    if (!roles.ok()) return Absent(what + " has no instance role: " + roles.error().message);
    std::string role = roles->substr(0, roles->find('\n'));
    while (!role.empty() && (role.back() == '\r' || role.back() == ' ')) role.pop_back();
    if (role.empty() || role.find_first_of("/?#") != std::string::npos) {
      return Absent(what + " lists no usable instance role");
    }
    Url credentials_url = *base;
    credentials_url.path = role_url.path + role;
    Result<std::string> body =
        GetBody(http, credentials_url, auth, "GET", options_.metadata_call, what);
    if (!body.ok()) return Failed(what + ": " + body.error().message);
    nlohmann::json doc = nlohmann::json::parse(*body, nullptr, false);
    if (doc.is_object() && doc.contains("Code") && doc["Code"] != "Success") {
      return Failed(what + " reports the instance role's credentials as not available");
    }
    return CredentialsFromJson(*body, "Token", "EC2 instance metadata");
  }

 private:
  const CredentialsChainOptions options_;
};

int Digits(std::string_view s, size_t pos, size_t count, bool& ok) {
  int value = 0;
  for (size_t i = pos; i < pos + count; ++i) {
    if (i >= s.size() || s[i] < '0' || s[i] > '9') {
      ok = false;
      return 0;
    }
    value = value * 10 + (s[i] - '0');
  }
  return value;
}

}  // namespace

std::optional<sys_seconds> ParseIso8601(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SS[.fff][Z|+hh:mm|-hh:mm]
  bool ok = s.size() >= 19 && s[4] == '-' && s[7] == '-' &&
            (s[10] == 'T' || s[10] == 't' || s[10] == ' ') && s[13] == ':' && s[16] == ':';
  if (!ok) return std::nullopt;
  int year = Digits(s, 0, 4, ok), month = Digits(s, 5, 2, ok), day = Digits(s, 8, 2, ok);
  int hour = Digits(s, 11, 2, ok), minute = Digits(s, 14, 2, ok), second = Digits(s, 17, 2, ok);
  if (!ok) return std::nullopt;
  size_t pos = 19;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
  }
  int offset_minutes = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos + 6 == s.size() && (s[pos] == '+' || s[pos] == '-') && s[pos + 3] == ':') {
    int sign = s[pos] == '+' ? 1 : -1;
    offset_minutes = sign * (Digits(s, pos + 1, 2, ok) * 60 + Digits(s, pos + 4, 2, ok));
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (!ok || pos != s.size()) return std::nullopt;
  std::chrono::year_month_day date{std::chrono::year(year),
                                   std::chrono::month(static_cast<unsigned>(month)),
                                   std::chrono::day(static_cast<unsigned>(day))};
  if (!date.ok() || hour > 23 || minute > 59 || second > 60) return std::nullopt;
  return std::chrono::sys_days(date) + std::chrono::hours(hour) + std::chrono::minutes(minute) +
         std::chrono::seconds(second) - std::chrono::minutes(offset_minutes);
}

std::unique_ptr<CredentialsProvider> MakeEnvironmentCredentialsProvider(EnvironmentLookup env) {
  return std::make_unique<EnvironmentProvider>(std::move(env));
}
std::unique_ptr<CredentialsProvider> MakeProfileCredentialsProvider(
    const CredentialsChainOptions& options) {
  return std::make_unique<ProfileProvider>(options);
}
std::unique_ptr<CredentialsProvider> MakeContainerCredentialsProvider(
    const CredentialsChainOptions& options) {
  return std::make_unique<ContainerProvider>(options);
}
std::unique_ptr<CredentialsProvider> MakeImdsCredentialsProvider(
    const CredentialsChainOptions& options) {
  return std::make_unique<ImdsProvider>(options);
}

Result<ProvidedCredentials> ChainCredentialsProvider::Resolve() {
  std::string reasons;
  for (const std::unique_ptr<CredentialsProvider>& provider : providers_) {
    Result<ProvidedCredentials> result = provider->Resolve();
    if (result.ok() || result.error().code != "credentials.absent") return result;
    reasons += (reasons.empty() ? "" : "; ") + result.error().message;
  }
  return Failed("no AWS credentials found (" + reasons + ")");
}

Result<ProvidedCredentials> CachingCredentialsProvider::Resolve() {
  std::lock_guard<std::mutex> lock(mu_);
  const sys_seconds now{std::chrono::duration_cast<std::chrono::seconds>(
      std::chrono::milliseconds(clock_.NowMillis()))};
  if (cached_ && (!cached_->expiration || now < *cached_->expiration - refresh_before_)) {
    return *cached_;
  }
  Result<ProvidedCredentials> fresh = inner_->Resolve();
  if (fresh.ok()) {
    cached_ = *fresh;
    return fresh;
  }
  if (cached_ && cached_->expiration && now < *cached_->expiration) return *cached_;
  return fresh;
}

void CachingCredentialsProvider::Invalidate() {
  std::lock_guard<std::mutex> lock(mu_);
  cached_.reset();
  inner_->Invalidate();
}

std::unique_ptr<CredentialsProvider> MakeDefaultCredentialsChain(
    const CredentialsChainOptions& options, const Clock& clock) {
  std::vector<std::unique_ptr<CredentialsProvider>> providers;
  providers.push_back(MakeEnvironmentCredentialsProvider(options.env));
  providers.push_back(MakeProfileCredentialsProvider(options));
  providers.push_back(MakeContainerCredentialsProvider(options));
  providers.push_back(MakeImdsCredentialsProvider(options));
  return std::make_unique<CachingCredentialsProvider>(
      std::make_unique<ChainCredentialsProvider>(std::move(providers)), clock);
}

}  // namespace cairn::aws
