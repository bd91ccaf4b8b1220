#include "aws/shared_config.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

namespace cairn::aws {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Drops an inline comment: '#' or ';' preceded by whitespace.
std::string_view StripInlineComment(std::string_view value) {
  for (size_t i = 1; i < value.size(); ++i) {
    if ((value[i] == '#' || value[i] == ';') && (value[i - 1] == ' ' || value[i - 1] == '\t')) {
      return Trim(value.substr(0, i));
    }
  }
  return value;
}

std::string ExpandHome(std::string path, const EnvironmentLookup& env) {
  if (path == "~" || path.starts_with("~/")) {
    std::string home = NonEmpty(env, "HOME").value_or("");
    path = home + path.substr(1);
  }
  return path;
}

// Reads a whole file; nullopt when it does not exist.
Result<std::optional<std::string>> ReadIfExists(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT || errno == ENOTDIR) return std::optional<std::string>();
    return MakeError("config", "cannot read " + path + ": " + std::strerror(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return std::optional<std::string>(text.str());
}

}  // namespace

std::optional<std::string> NonEmpty(const EnvironmentLookup& env, std::string_view name) {
  if (!env) return std::nullopt;
  std::optional<std::string> value = env(name);
  if (!value || value->empty()) return std::nullopt;
  return value;
}

const ConfigSection* SharedConfig::FindProfile(const std::string& name) const {
  auto it = profiles.find(name);
  return it == profiles.end() ? nullptr : &it->second;
}

std::optional<std::string> SharedConfig::Get(const std::string& profile,
                                             const std::string& key) const {
  const ConfigSection* section = FindProfile(profile);
  if (section == nullptr) return std::nullopt;
  auto it = section->find(key);
  if (it == section->end()) return std::nullopt;
  return it->second;
}

std::string ProfileName(const EnvironmentLookup& env) {
  return NonEmpty(env, "AWS_PROFILE").value_or("default");
}

void ParseSharedConfigText(std::string_view text, bool is_config_file, SharedConfig& into) {
  ConfigSection* section = nullptr;  // nullptr: an ignored section
  std::string parent_key;            // the last `key =` with an empty value
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view raw = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    bool indented = !raw.empty() && (raw.front() == ' ' || raw.front() == '\t');
    std::string_view line = Trim(raw);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;

    if (line.front() == '[') {
      parent_key.clear();
      size_t close = line.find(']');
      std::string_view name =
          Trim(line.substr(1, close == std::string_view::npos ? line.size() - 1 : close - 1));
      section = nullptr;
      if (close == std::string_view::npos) continue;  // malformed: ignore until the next section
      if (is_config_file) {
        if (name == "default") {
          section = &into.profiles["default"];
        } else if (name.starts_with("profile ") || name.starts_with("profile\t")) {
          section = &into.profiles[std::string(Trim(name.substr(8)))];
        } else if (name.starts_with("services ") || name.starts_with("services\t")) {
          section = &into.services[std::string(Trim(name.substr(9)))];
        }
      } else if (!name.empty()) {
        section = &into.profiles[std::string(name)];
      }
      continue;
    }
    if (section == nullptr) continue;
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    std::string key = Lower(Trim(line.substr(0, eq)));
    std::string value(StripInlineComment(Trim(line.substr(eq + 1))));
    if (indented && !parent_key.empty()) {
      (*section)[parent_key + "." + key] = std::move(value);
      continue;
    }
    parent_key = value.empty() ? key : std::string();
    if (!value.empty()) (*section)[key] = std::move(value);
  }
}

Result<SharedConfig> LoadSharedConfig(const EnvironmentLookup& env) {
  SharedConfig config;
  config.config_path = ExpandHome(NonEmpty(env, "AWS_CONFIG_FILE").value_or("~/.aws/config"), env);
  config.credentials_path =
      ExpandHome(NonEmpty(env, "AWS_SHARED_CREDENTIALS_FILE").value_or("~/.aws/credentials"), env);
  Result<std::optional<std::string>> config_text = ReadIfExists(config.config_path);
  if (!config_text.ok()) return config_text.error();
  if (config_text->has_value()) {
    ParseSharedConfigText(**config_text, /*is_config_file=*/true, config);
  }
  Result<std::optional<std::string>> credentials_text = ReadIfExists(config.credentials_path);
  if (!credentials_text.ok()) return credentials_text.error();
  if (credentials_text->has_value()) {
    ParseSharedConfigText(**credentials_text, /*is_config_file=*/false, config);
  }
  return config;
}

}  // namespace cairn::aws
