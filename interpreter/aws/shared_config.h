// The shared AWS configuration files (~/.aws/config and ~/.aws/credentials)
// and the process environment as aws/ sees them.
//
// aws/ never reads the environment itself: callers pass an
// EnvironmentLookup (cli/environment.h in production, a map in tests).
//
// Files: AWS_CONFIG_FILE (default $HOME/.aws/config) and
// AWS_SHARED_CREDENTIALS_FILE (default $HOME/.aws/credentials); a leading
// "~/" is $HOME. A missing file is an empty file. The profile is
// AWS_PROFILE, else "default".
//
// Format (as the SDKs read it): `[default]` and `[profile NAME]` sections
// in the config file, `[NAME]` sections in the credentials file, `[services
// NAME]` sections in the config file; `key = value` lines, keys
// lower-cased; whole-line comments start with '#' or ';', and so do inline
// comments preceded by whitespace; an indented line after `key =` (empty
// value) is a sub-property, stored as "key.sub" (e.g. in a services
// section, "dynamodb.endpoint_url"). For a profile present in both files,
// the credentials file's values win.
//
// Thread-safety: SharedConfig is a plain value; LoadSharedConfig only reads
// files and may run concurrently.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace cairn::aws {

// The value of an environment variable, or nullopt when unset. Must be
// thread-safe.
using EnvironmentLookup = std::function<std::optional<std::string>(std::string_view)>;

// A variable's value when set and non-empty.
std::optional<std::string> NonEmpty(const EnvironmentLookup& env, std::string_view name);

using ConfigSection = std::map<std::string, std::string>;

struct SharedConfig {
  // Profile name -> key -> value (both files merged).
  std::map<std::string, ConfigSection> profiles;
  // `[services NAME]` sections of the config file: NAME -> "service.key" -> value.
  std::map<std::string, ConfigSection> services;
  // The files that were read (for messages), e.g. "/home/me/.aws/config".
  std::string config_path;
  std::string credentials_path;

  // The profile's section, or nullptr.
  const ConfigSection* FindProfile(const std::string& name) const;
  // A key of a profile, or nullopt when the profile or key is absent.
  std::optional<std::string> Get(const std::string& profile, const std::string& key) const;
};

// AWS_PROFILE, else "default".
std::string ProfileName(const EnvironmentLookup& env);

// Parses one file's text. `is_config_file` selects the section rules of the
// config file (`[profile x]`, `[services x]`) over those of the credentials
// file (`[x]`). Values are merged into `into` (later values win).
void ParseSharedConfigText(std::string_view text, bool is_config_file, SharedConfig& into);

// Reads both files. Fails (code "config") only when a file exists but
// cannot be read.
Result<SharedConfig> LoadSharedConfig(const EnvironmentLookup& env);

}  // namespace cairn::aws
