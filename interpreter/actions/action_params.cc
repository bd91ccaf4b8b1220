#include "actions/action_params.h"

#include <algorithm>

#include "core/strings.h"

namespace cairn::actions {

using nlohmann::json;

namespace {

constexpr size_t kSnippetBytes = 200;

std::string Snippet(const std::string& text) {
  if (text.size() <= kSnippetBytes) return text;
  size_t end = kSnippetBytes;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end) + "…";
}

std::string Quoted(std::string_view key) { return "`" + std::string(key) + "`"; }

}  // namespace

std::string DescribeValue(const json& value) {
  if (value.is_null()) return "null";
  return std::string(value.type_name()) + " " +
         Snippet(value.dump(-1, ' ', false, json::error_handler_t::replace));
}

std::string ToValidUtf8(const std::string& text) {
  // nlohmann's serializer already knows well-formed UTF-8: let it replace
  // what is not, then read the string back.
  const std::string quoted = json(text).dump(-1, ' ', false, json::error_handler_t::replace);
  return json::parse(quoted).get<std::string>();
}

std::optional<json> ParseJsonReply(std::string_view text, int max_depth) {
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
      if (++depth > max_depth) return std::nullopt;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return std::nullopt;
  return parsed;
}

Error InvalidParameters(std::string message) { return MakeError("invalid", std::move(message)); }

aws::AwsCall WithStepTimeout(aws::AwsCall call, const ActionRequest& request) {
  if (request.timeout && request.timeout->millis > 0) {
    call.timeout = std::chrono::milliseconds(request.timeout->millis);
  }
  return call;
}

ActionOutcome InvalidOutcome(const Error& error) {
  return ActionOutcome::Failure("Cairn.InvalidParameters", error.ToString());
}

Error ParamReader::Wrong(std::string_view key, std::string_view expected, const json& got) const {
  return InvalidParameters(action_ + ": " + Quoted(key) + " must be " + std::string(expected) +
                           ", got " + DescribeValue(got));
}

Status ParamReader::CheckKeys(std::initializer_list<std::string_view> known) const {
  if (!params_.is_object()) {
    return InvalidParameters("the parameters of " + action_ + " must be an object, got " +
                             DescribeValue(params_));
  }
  for (const auto& [key, value] : params_.items()) {
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    const std::string guess =
        ClosestMatch(key, std::vector<std::string>(known.begin(), known.end()));
    return InvalidParameters(action_ + ": unknown parameter " + Quoted(key) +
                             (guess.empty() ? "" : "; did you mean " + Quoted(guess) + "?"));
  }
  return {};
}

const json* ParamReader::Find(std::string_view key) const {
  if (!params_.is_object()) return nullptr;
  auto it = params_.find(key);
  if (it == params_.end() || it->is_null()) return nullptr;
  return &*it;
}

Result<std::optional<std::string>> ParamReader::String(std::string_view key) const {
  const json* v = Find(key);
  if (v == nullptr) return std::optional<std::string>();
  if (!v->is_string()) return Wrong(key, "a string", *v);
  return std::optional<std::string>(v->get<std::string>());
}

Result<std::string> ParamReader::RequiredString(std::string_view key) const {
  auto v = String(key);
  if (!v.ok()) return v.error();
  if (!v->has_value() || (*v)->empty()) {
    return InvalidParameters(action_ + ": " + Quoted(key) + " is required and must not be empty");
  }
  return **v;
}

Result<std::optional<bool>> ParamReader::Bool(std::string_view key) const {
  const json* v = Find(key);
  if (v == nullptr) return std::optional<bool>();
  if (!v->is_boolean()) return Wrong(key, "true or false", *v);
  return std::optional<bool>(v->get<bool>());
}

Result<std::optional<int64_t>> ParamReader::Integer(std::string_view key, int64_t min,
                                                    int64_t max) const {
  const json* v = Find(key);
  if (v == nullptr) return std::optional<int64_t>();
  const std::string range = "an integer from " + std::to_string(min) + " to " + std::to_string(max);
  if (v->is_number_unsigned()) {
    const uint64_t n = v->get<uint64_t>();
    if (n <= static_cast<uint64_t>(max) && static_cast<int64_t>(n) >= min) {
      return std::optional<int64_t>(static_cast<int64_t>(n));
    }
  } else if (v->is_number_integer()) {
    const int64_t n = v->get<int64_t>();
    if (n >= min && n <= max) return std::optional<int64_t>(n);
  }
  return Wrong(key, range, *v);
}

Result<std::optional<std::vector<std::string>>> ParamReader::StringList(
    std::string_view key) const {
  const json* v = Find(key);
  if (v == nullptr) return std::optional<std::vector<std::string>>();
  if (!v->is_array()) return Wrong(key, "a list of strings", *v);
  std::vector<std::string> out;
  for (size_t i = 0; i < v->size(); ++i) {
    const json& item = (*v)[i];
    if (!item.is_string()) {
      return Wrong(std::string(key) + "[" + std::to_string(i) + "]", "a string", item);
    }
    out.push_back(item.get<std::string>());
  }
  return std::optional<std::vector<std::string>>(std::move(out));
}

Result<const json*> ParamReader::Object(std::string_view key) const {
  const json* v = Find(key);
  if (v == nullptr) return static_cast<const json*>(nullptr);
  if (!v->is_object()) return Wrong(key, "an object", *v);
  return v;
}

Result<std::optional<std::string>> ParamReader::Enum(
    std::string_view key, std::initializer_list<std::string_view> allowed) const {
  auto v = String(key);
  if (!v.ok()) return v.error();
  if (!v->has_value()) return v;
  if (std::find(allowed.begin(), allowed.end(), **v) != allowed.end()) return v;
  std::string list;
  for (std::string_view a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
  return Wrong(key, "one of " + list, *Find(key));
}

}  // namespace cairn::actions
