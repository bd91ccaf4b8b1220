#include "actions/process_action.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <string_view>
#include <utility>
#include <vector>

#include "core/strings.h"

namespace cairn::actions {
namespace {

using nlohmann::json;

constexpr size_t kErrorTailBytes = 4096;  // of stdout and stderr, in error data
constexpr size_t kSnippetBytes = 200;     // of a value quoted in a message
constexpr size_t kLineBytes = 300;        // of stderr's last line in a message
constexpr int kMaxOutputDepth = 512;      // of JSON output (as expr's kMaxValueDepth)

const std::vector<std::string>& KnownParameters() {
  static const std::vector<std::string> keys = {"command", "env",         "cwd",
                                                "stdin",   "parseOutput", "detach"};
  return keys;
}

struct ParsedRequest {
  ProcessSpec spec;
  bool parse_json = false;
};

// Length of the well-formed UTF-8 sequence starting at s[i], or 0.
size_t SequenceLength(std::string_view s, size_t i) {
  auto at = [&](size_t k) { return k < s.size() ? static_cast<unsigned char>(s[k]) : 0u; };
  const unsigned lead = at(i);
  if (lead < 0x80) return 1;
  size_t length = 0;
  unsigned low = 0x80;
  unsigned high = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;   // no overlong forms
    if (lead == 0xED) high = 0x9F;  // no surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;   // no overlong forms
    if (lead == 0xF4) high = 0x8F;  // nothing above U+10FFFF
  } else {
    return 0;
  }
  if (i + length > s.size() || at(i + 1) < low || at(i + 1) > high) return 0;
  for (size_t k = 2; k < length; ++k) {
    if ((at(i + k) & 0xC0) != 0x80) return 0;
  }
  return length;
}

// `bytes` as valid UTF-8 (JSON strings must be): each byte that does not
// belong to a well-formed sequence becomes U+FFFD.
std::string ValidUtf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (size_t i = 0; i < bytes.size();) {
    if (size_t n = SequenceLength(bytes, i); n > 0) {
      out.append(bytes.substr(i, n));
      i += n;
    } else {
      out.append("\xEF\xBF\xBD");
      ++i;
    }
  }
  return out;
}

// The last `max_bytes` of `text` (valid UTF-8), starting at a character.
std::string Tail(const std::string& text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  size_t start = text.size() - max_bytes;
  while (start < text.size() && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) ++start;
  return "…" + text.substr(start);
}

// The first `max_bytes` of `text` (valid UTF-8), ending at a character.
std::string Snippet(const std::string& text, size_t max_bytes = kSnippetBytes) {
  if (text.size() <= max_bytes) return text;
  size_t end = max_bytes;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end) + "…";
}

// What a stream carried, as text: everything, or head, a marker and tail.
std::string OutputText(const CapturedOutput& output, const char* stream) {
  if (!output.truncated()) return ValidUtf8(output.head + output.tail);
  const uint64_t omitted = output.total_bytes - output.head.size() - output.tail.size();
  return ValidUtf8(output.head) + "\n[cairn: " + stream + " truncated: " + std::to_string(omitted) +
         " of " + std::to_string(output.total_bytes) + " bytes omitted]\n" + ValidUtf8(output.tail);
}

std::string LastLine(const std::string& text) {
  size_t end = text.find_last_not_of(" \t\r\n");
  if (end == std::string::npos) return "";
  size_t start = text.find_last_of('\n', end);
  start = start == std::string::npos ? 0 : start + 1;
  return Snippet(text.substr(start, end + 1 - start), kLineBytes);
}

// True when the arrays and objects of JSON text nest deeper than `max_depth`
// (checked before parsing, so no deep value reaches recursive code).
bool NestsDeeperThan(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return true;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return false;
}

// "string \"abc\"", "number 5", "null": how a wrong value is shown.
std::string Describe(const json& value) {
  if (value.is_null()) return "null";
  return std::string(value.type_name()) + " " +
         Snippet(value.dump(-1, ' ', false, json::error_handler_t::replace));
}

Error Invalid(std::string message) { return MakeError("invalid", std::move(message)); }

// A string as it is; any other value but null as compact JSON.
Result<std::string> TextOf(const json& value, const std::string& where) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_null()) return Invalid("`" + where + "` is null; give it a value");
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

bool IsBlank(const std::string& s) { return s.find_first_not_of(" \t\r\n") == std::string::npos; }

Status ParseCommand(const json& command, ProcessSpec& spec) {
  if (command.is_string()) {
    const auto& script = command.get_ref<const std::string&>();
    if (IsBlank(script)) return Invalid("`command` is blank; write the program to run");
    spec.argv = ShellCommand(script);
    return {};
  }
  if (!command.is_array()) {
    return Invalid("`command` must be a list [program, arg, ...] or a shell command string, got " +
                   Describe(command));
  }
  if (command.empty()) return Invalid("`command` is an empty list; write the program first");
  if (!command[0].is_string() || IsBlank(command[0].get_ref<const std::string&>())) {
    return Invalid("the program (`command[0]`) must be a non-empty string, got " +
                   Describe(command[0]));
  }
  spec.argv.clear();
  for (size_t i = 0; i < command.size(); ++i) {
    auto arg = TextOf(command[i], "command[" + std::to_string(i) + "]");
    if (!arg.ok()) return arg.error();
    spec.argv.push_back(std::move(*arg));
  }
  return {};
}

Status ParseEnv(const json& env, ProcessSpec& spec) {
  if (env.is_null()) return {};
  if (!env.is_object()) {
    return Invalid("`env` must be an object of variables, got " + Describe(env));
  }
  for (const auto& [name, value] : env.items()) {
    if (name.empty() || name.find('=') != std::string::npos) {
      return Invalid("`env` has an invalid variable name '" + name + "'");
    }
    auto text = TextOf(value, "env." + name);
    if (!text.ok()) return text.error();
    spec.env[name] = std::move(*text);
  }
  return {};
}

Result<ParsedRequest> ParseRequest(const ActionRequest& request,
                                   const ProcessActionOptions& options) {
  const json& params = request.params;
  if (!params.is_object()) {
    return Invalid("the parameters of process.run must be an object, got " + Describe(params));
  }
  for (const auto& [key, value] : params.items()) {
    const auto& known = KnownParameters();
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    std::string guess = ClosestMatch(key, known);
    return Invalid("unknown parameter `" + key + "`" +
                   (guess.empty() ? "" : "; did you mean `" + guess + "`?"));
  }
  auto get = [&](const char* key) {
    auto it = params.find(key);
    return it == params.end() ? json() : *it;
  };

  ParsedRequest parsed;
  ProcessSpec& spec = parsed.spec;
  const json command = get("command");
  if (command.is_null()) {
    return Invalid("`command` is required: a list [program, arg, ...] or a shell command string");
  }
  if (auto s = ParseCommand(command, spec); !s.ok()) return s.error();
  if (auto s = ParseEnv(get("env"), spec); !s.ok()) return s.error();

  const json cwd = get("cwd");
  if (!cwd.is_null() && !cwd.is_string()) {
    return Invalid("`cwd` must be a directory path, got " + Describe(cwd));
  }
  const std::string dir = cwd.is_string() ? cwd.get<std::string>() : "";
  spec.cwd = dir.empty() ? request.workflow_dir
                         : (std::filesystem::path(request.workflow_dir) / dir).string();

  const json stdin_value = get("stdin");
  if (!stdin_value.is_null()) {
    auto text = TextOf(stdin_value, "stdin");
    if (!text.ok()) return text.error();
    spec.stdin_data = std::move(*text);
  }

  const json parse_output = get("parseOutput");
  if (!parse_output.is_null() && parse_output != "text" && parse_output != "json") {
    return Invalid("`parseOutput` must be \"text\" or \"json\", got " + Describe(parse_output));
  }
  parsed.parse_json = parse_output == "json";

  const json detach = get("detach");
  if (!detach.is_null() && !detach.is_boolean()) {
    return Invalid("`detach` must be true or false, got " + Describe(detach));
  }
  spec.detach = detach.is_boolean() && detach.get<bool>();
  if (spec.detach && !spec.stdin_data.empty()) {
    return Invalid("`stdin` cannot be given to a detached process; pass data in `env` instead");
  }

  spec.timeout = request.timeout;
  spec.max_output_bytes = options.max_output_bytes;
  spec.kill_grace = options.kill_grace;
  return parsed;
}

std::string SignalName(int signal) {
  const char* abbrev = sigabbrev_np(signal);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(signal);
}

ActionOutcome Finished(const ProcessResult& result, const ParsedRequest& request) {
  const std::string out = OutputText(result.stdout_output, "stdout");
  const std::string err = OutputText(result.stderr_output, "stderr");
  const json tails = {{"stdout", Tail(out, kErrorTailBytes)},
                      {"stderr", Tail(err, kErrorTailBytes)}};

  if (result.timed_out) {
    const std::string timeout = request.spec.timeout ? request.spec.timeout->ToString() : "";
    json data = tails;
    data["timeout"] = timeout;
    return ActionOutcome::Failure(
        "Cairn.Timeout", "the process did not finish within " + timeout + " and was stopped",
        std::move(data));
  }
  if (result.ending == ProcessResult::Ending::kSignaled) {
    json data = tails;
    data["signal"] = SignalName(result.signal);
    data["signalNumber"] = result.signal;
    return ActionOutcome::Failure(
        "Process.Signal",
        "killed by " + SignalName(result.signal) + " (" + std::to_string(result.signal) + ")",
        std::move(data));
  }
  if (result.exit_code != 0) {
    json data = tails;
    data["exitCode"] = result.exit_code;
    std::string message = "exited with status " + std::to_string(result.exit_code);
    if (std::string line = LastLine(err); !line.empty()) message += ": " + line;
    return ActionOutcome::Failure("Process.ExitCode", std::move(message), std::move(data));
  }

  json stdout_value = out;
  if (request.parse_json) {
    if (result.stdout_output.truncated()) {
      return ActionOutcome::Failure("Process.InvalidOutput",
                                    "stdout is longer than the output limit (" +
                                        std::to_string(result.stdout_output.total_bytes) +
                                        " bytes) and cannot be parsed as JSON",
                                    tails);
    }
    if (NestsDeeperThan(out, kMaxOutputDepth)) {
      return ActionOutcome::Failure(
          "Process.InvalidOutput",
          "stdout nests deeper than " + std::to_string(kMaxOutputDepth) + " levels", tails);
    }
    stdout_value = json::parse(out, nullptr, /*allow_exceptions=*/false);
    if (stdout_value.is_discarded()) {
      std::string what =
          IsBlank(out) ? "stdout is empty, not JSON" : "stdout is not valid JSON: " + Snippet(out);
      return ActionOutcome::Failure("Process.InvalidOutput", std::move(what), tails);
    }
  }
  return ActionOutcome::Success(
      {{"exitCode", 0}, {"stdout", std::move(stdout_value)}, {"stderr", err}});
}

}  // namespace

ActionOutcome ProcessAction::Run(const ActionRequest& request) {
  auto parsed = ParseRequest(request, options_);
  if (!parsed.ok()) {
    return ActionOutcome::Failure("Cairn.InvalidParameters", parsed.error().message);
  }

  auto result = runner_.Run(parsed->spec);
  if (!result.ok()) {
    if (result.error().code == "invalid") {
      return ActionOutcome::Failure("Cairn.InvalidParameters", result.error().message);
    }
    return ActionOutcome::Failure("Process.SpawnFailed", result.error().ToString(),
                                  {{"program", parsed->spec.argv[0]}, {"cwd", parsed->spec.cwd}});
  }
  if (result->ending == ProcessResult::Ending::kDetached) {
    return ActionOutcome::Success({{"pid", result->pid}});
  }
  return Finished(*result, *parsed);
}

}  // namespace cairn::actions
