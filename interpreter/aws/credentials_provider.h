// Where the credentials that sign a request come from: the SDKs' default
// chain, in their order, with caching.
//
//  1. Environment: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (both set),
//     AWS_SESSION_TOKEN optional.
//  2. Shared files (shared_config.h), profile AWS_PROFILE or "default":
//     aws_access_key_id + aws_secret_access_key (+ aws_session_token), else
//     `credential_process` (run by a CredentialProcessRunner; its JSON
//     output {Version: 1, AccessKeyId, SecretAccessKey, SessionToken,
//     Expiration}). Profiles that assume a role or use SSO are reported as
//     unsupported rather than skipped. A profile named by AWS_PROFILE that
//     does not exist is an error; a missing "default" is not.
//  3. Container endpoint: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (appended
//     to http://169.254.170.2) or AWS_CONTAINER_CREDENTIALS_FULL_URI (https,
//     or http to a loopback address or the ECS/EKS link-local hosts), with
//     an Authorization header from AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE
//     (read at each refresh) or AWS_CONTAINER_AUTHORIZATION_TOKEN.
//  4. EC2 instance metadata (IMDSv2 only): PUT /latest/api/token, then GET
//     /latest/meta-data/iam/security-credentials/ for the role and its
//     credentials, at AWS_EC2_METADATA_SERVICE_ENDPOINT (default
//     http://169.254.169.254; AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6
//     gives http://[fd00:ec2::254]), 1 s timeouts. Skipped when
//     AWS_EC2_METADATA_DISABLED=true. NOTE for tests: a test that lets the
//     chain reach this step without disabling it or pointing the endpoint
//     at 127.0.0.1 sends a request to the link-local address.
//
// A provider that finds nothing of its kind fails with code
// "credentials.absent" and the chain moves on; any other failure (a
// credential_process that exits 1, a container endpoint answering 500)
// stops the chain with code "credentials", as the SDKs do. Messages never
// contain a secret or token.
//
// CachingCredentialsProvider keeps the last credentials and refreshes them
// `refresh_before` (5 min) ahead of their expiration; credentials without
// an expiration are kept until Invalidate().
//
// Thread-safety: every provider here may be called from any thread; the
// caching provider serializes refreshes.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "aws/credential_process.h"
#include "aws/credentials.h"
#include "aws/http_client.h"
#include "aws/shared_config.h"
#include "core/clock.h"
#include "core/result.h"

namespace cairn::aws {

struct ProvidedCredentials {
  Credentials credentials;
  // When temporary credentials stop working; nullopt for long-term keys.
  std::optional<std::chrono::sys_seconds> expiration;
  // Where they came from, for messages: "environment", "profile default
  // (credential_process)", "container endpoint", "EC2 instance metadata".
  std::string source;
};

class CredentialsProvider {
 public:
  virtual ~CredentialsProvider() = default;
  // The current credentials, or an error (code "credentials.absent" when
  // this source has none, "credentials" when it failed). Thread-safe.
  virtual Result<ProvidedCredentials> Resolve() = 0;
  // Drops anything cached (after a service said the credentials expired).
  virtual void Invalidate() {}
};

// Always returns the given credentials (tests, explicit configuration).
class StaticCredentialsProvider final : public CredentialsProvider {
 public:
  explicit StaticCredentialsProvider(Credentials credentials, std::string source = "static")
      : provided_{std::move(credentials), std::nullopt, std::move(source)} {}
  Result<ProvidedCredentials> Resolve() override { return provided_; }

 private:
  const ProvidedCredentials provided_;
};

struct CredentialsChainOptions {
  EnvironmentLookup env;
  // Sends the container-endpoint and IMDS requests. Required for steps 3-4.
  std::shared_ptr<HttpClient> http;
  // Runs credential_process; defaults to RunCredentialProcess.
  CredentialProcessRunner run_process;
  // The base of AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (a test points it at
  // 127.0.0.1).
  std::string container_relative_base = "http://169.254.170.2";
  HttpCallOptions metadata_call{std::chrono::milliseconds(1000), std::chrono::milliseconds(1000)};
};

// The four sources above, individually (tests) and as one chain.
std::unique_ptr<CredentialsProvider> MakeEnvironmentCredentialsProvider(EnvironmentLookup env);
std::unique_ptr<CredentialsProvider> MakeProfileCredentialsProvider(
    const CredentialsChainOptions& options);
std::unique_ptr<CredentialsProvider> MakeContainerCredentialsProvider(
    const CredentialsChainOptions& options);
std::unique_ptr<CredentialsProvider> MakeImdsCredentialsProvider(
    const CredentialsChainOptions& options);

// Tries `providers` in order; the first success, or the first error that is
// not "credentials.absent", wins. When all are absent: code "credentials"
// with every provider's reason.
class ChainCredentialsProvider final : public CredentialsProvider {
 public:
  explicit ChainCredentialsProvider(std::vector<std::unique_ptr<CredentialsProvider>> providers)
      : providers_(std::move(providers)) {}
  Result<ProvidedCredentials> Resolve() override;

 private:
  const std::vector<std::unique_ptr<CredentialsProvider>> providers_;
};

class CachingCredentialsProvider final : public CredentialsProvider {
 public:
  CachingCredentialsProvider(std::unique_ptr<CredentialsProvider> inner, const Clock& clock,
                             std::chrono::seconds refresh_before = std::chrono::minutes(5))
      : inner_(std::move(inner)), clock_(clock), refresh_before_(refresh_before) {}
  // Cached credentials while they are more than refresh_before from their
  // expiration; otherwise asks `inner`. If that fails, credentials that
  // have not yet expired are still returned.
  Result<ProvidedCredentials> Resolve() override;
  void Invalidate() override;

 private:
  const std::unique_ptr<CredentialsProvider> inner_;
  const Clock& clock_;
  const std::chrono::seconds refresh_before_;

  std::mutex mu_;  // guards cached_; held during a refresh
  std::optional<ProvidedCredentials> cached_;
};

// The SDKs' default chain (environment, profile, container, IMDS), cached.
std::unique_ptr<CredentialsProvider> MakeDefaultCredentialsChain(
    const CredentialsChainOptions& options, const Clock& clock);

// "2026-11-23T12:34:56Z" (fractional seconds and a "+00:00" offset
// accepted) as UTC seconds; nullopt when malformed.
std::optional<std::chrono::sys_seconds> ParseIso8601(std::string_view text);

}  // namespace cairn::aws
