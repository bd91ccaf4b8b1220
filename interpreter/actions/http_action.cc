#include "actions/http_action.h"

#include <algorithm>
#include <cctype>

#include "actions/action_params.h"
#include "aws/sigv4.h"
#include "core/duration.h"

namespace cairn::actions {
namespace {

using nlohmann::json;

constexpr Duration kDefaultTimeout = Duration::Seconds(30);

struct Url {
  std::string base;   // scheme://host[:port]
  std::string host;   // host[:port], for the Host header
  std::string path;   // "/..." on the wire
  std::string query;  // without '?'
};

// Percent-encodes bytes that may not appear in a URL as they are (controls,
// space, non-ASCII, and a few delimiters that are never literal), keeping
// '%' so an already encoded URL stays as it is.
std::string EncodeLoose(std::string_view s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (c <= 0x20 || c >= 0x7F || c == '"' || c == '<' || c == '>' || c == '\\' || c == '^' ||
        c == '`' || c == '{' || c == '|' || c == '}') {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

Result<Url> ParseUrl(const std::string& text) {
  auto bad = [&](const std::string& why) {
    return InvalidParameters("http.request: `url` " + why + ", got \"" + text.substr(0, 200) +
                             "\"");
  };
  std::string lower = text.substr(0, 8);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  size_t start;
  std::string scheme;
  if (lower.rfind("https://", 0) == 0) {
    scheme = "https://";
    start = 8;
  } else if (lower.rfind("http://", 0) == 0) {
    scheme = "http://";
    start = 7;
  } else {
    return bad("must be an absolute http:// or https:// URL");
  }
  std::string rest = text.substr(start);
  if (size_t hash = rest.find('#'); hash != std::string::npos) rest.resize(hash);
  const size_t end_of_host = rest.find_first_of("/?");
  Url url;
  url.host = rest.substr(0, end_of_host);
  if (url.host.empty()) return bad("has no host");
  if (url.host.find('@') != std::string::npos) {
    return bad("must not carry credentials (user@host); use `headers` or `sigv4`");
  }
  if (url.host.find_first_of(" \t\r\n") != std::string::npos) return bad("has a space in the host");
  url.base = scheme + url.host;
  std::string tail = end_of_host == std::string::npos ? "" : rest.substr(end_of_host);
  const size_t q = tail.find('?');
  url.path = EncodeLoose(tail.substr(0, q));
  if (url.path.empty()) url.path = "/";
  if (q != std::string::npos) url.query = EncodeLoose(tail.substr(q + 1));
  return url;
}

std::string QueryText(const json& value) {
  return value.is_string() ? value.get<std::string>()
                           : value.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<std::string> QueryParams(const ParamReader& p) {
  auto query = p.Object("query");
  if (!query.ok()) return query.error();
  std::string out;
  if (*query == nullptr) return out;
  auto add = [&](const std::string& key, const json& value) {
    if (value.is_null()) return;
    out += (out.empty() ? "" : "&") + aws::UriEncode(key) + "=" + aws::UriEncode(QueryText(value));
  };
  for (const auto& [key, value] : (*query)->items()) {
    if (value.is_array()) {
      for (const json& item : value) add(key, item);
    } else {
      add(key, value);
    }
  }
  return out;
}

Result<std::vector<int>> ExpectedStatuses(const ParamReader& p) {
  const json* v = p.Find("expectStatus");
  std::vector<int> out;
  if (v == nullptr) return out;
  if (!v->is_array() || v->empty()) {
    return InvalidParameters("http.request: `expectStatus` must be a list of statuses, got " +
                             DescribeValue(*v));
  }
  for (const json& s : *v) {
    if (!s.is_number_integer() || s.get<int64_t>() < 100 || s.get<int64_t>() > 599) {
      return InvalidParameters("http.request: `expectStatus` holds statuses from 100 to 599, got " +
                               DescribeValue(s));
    }
    out.push_back(static_cast<int>(s.get<int64_t>()));
  }
  return out;
}

Result<Duration> Timeout(const ParamReader& p, const ActionRequest& request) {
  Duration timeout = kDefaultTimeout;
  if (const json* v = p.Find("timeout")) {
    Result<Duration> parsed = v->is_string() ? ParseDuration(v->get<std::string>())
                              : v->is_number()
                                  ? DurationFromSeconds(v->get<double>())
                                  : Result<Duration>(MakeError("invalid", "not a duration"));
    if (!parsed.ok() || parsed->millis <= 0) {
      return InvalidParameters(
          "http.request: `timeout` must be a positive duration such as 10s, got " +
          DescribeValue(*v));
    }
    timeout = *parsed;
  }
  if (request.timeout && request.timeout->millis > 0 && request.timeout->millis < timeout.millis) {
    timeout = *request.timeout;
  }
  return timeout;
}

bool IsJsonContentType(const std::string* type) {
  if (type == nullptr) return false;
  std::string lower = *type;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const std::string media = lower.substr(0, lower.find(';'));
  return media.find("json") != std::string::npos;
}

json ResultOf(const aws::HttpResponse& response) {
  json headers = json::object();
  for (const auto& h : response.headers) {
    std::string name = h.name;
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    const std::string value = ToValidUtf8(h.value);
    if (headers.contains(name)) {
      headers[name] = headers[name].get<std::string>() + ", " + value;
    } else {
      headers[name] = value;
    }
  }
  json body = nullptr;
  if (!response.body.empty()) {
    std::optional<json> parsed;
    if (IsJsonContentType(response.FindHeader("Content-Type")))
      parsed = ParseJsonReply(response.body);
    body = parsed ? std::move(*parsed) : json(ToValidUtf8(response.body));
  }
  return {{"status", response.status}, {"headers", std::move(headers)}, {"body", std::move(body)}};
}

}  // namespace

ActionOutcome HttpRequestAction::Run(const ActionRequest& request) {
  ParamReader p(request.params, "http.request");
  if (auto s = p.CheckKeys(
          {"url", "method", "headers", "query", "body", "expectStatus", "timeout", "sigv4"});
      !s.ok()) {
    return InvalidOutcome(s.error());
  }
  auto url_text = p.RequiredString("url");
  if (!url_text.ok()) return InvalidOutcome(url_text.error());
  auto url = ParseUrl(*url_text);
  if (!url.ok()) return InvalidOutcome(url.error());
  auto query = QueryParams(p);
  if (!query.ok()) return InvalidOutcome(query.error());
  if (!query->empty()) url->query += (url->query.empty() ? "" : "&") + *query;

  const json* body = p.Find("body");
  auto method = p.Enum("method", {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"});
  if (!method.ok()) return InvalidOutcome(method.error());
  aws::HttpRequest http;
  http.method = method->value_or(body != nullptr ? "POST" : "GET");
  http.path = url->path;
  http.query = url->query;
  auto headers = p.Object("headers");
  if (!headers.ok()) return InvalidOutcome(headers.error());
  if (*headers != nullptr) {
    for (const auto& [name, value] : (*headers)->items()) {
      if (!value.is_string()) {
        return InvalidOutcome(InvalidParameters("http.request: `headers." + name +
                                                "` must be a string, got " + DescribeValue(value)));
      }
      const std::string& v = value.get_ref<const std::string&>();
      if (name.empty() || name.find_first_of(" \t\r\n:") != std::string::npos ||
          v.find_first_of("\r\n") != std::string::npos) {
        return InvalidOutcome(InvalidParameters("http.request: the header `" + name +
                                                "` has a name or value that cannot be sent"));
      }
      http.headers.push_back({name, v});
    }
  }
  if (body != nullptr) {
    if (body->is_string()) {
      http.body = body->get<std::string>();
    } else {
      http.body = body->dump(-1, ' ', false, json::error_handler_t::replace);
      if (aws::FindHeader(http, "Content-Type") == nullptr) {
        http.headers.push_back({"Content-Type", "application/json"});
      }
    }
  }
  auto expected = ExpectedStatuses(p);
  if (!expected.ok()) return InvalidOutcome(expected.error());
  auto timeout = Timeout(p, request);
  if (!timeout.ok()) return InvalidOutcome(timeout.error());

  if (auto sigv4 = p.Object("sigv4"); !sigv4.ok()) {
    return InvalidOutcome(sigv4.error());
  } else if (*sigv4 != nullptr) {
    ParamReader s(**sigv4, "http.request sigv4");
    if (auto k = s.CheckKeys({"service", "region"}); !k.ok()) return InvalidOutcome(k.error());
    auto service = s.RequiredString("service");
    if (!service.ok()) return InvalidOutcome(service.error());
    auto region = s.String("region");
    if (!region.ok()) return InvalidOutcome(region.error());
    if (!signer_) {
      return ActionOutcome::Failure("Cairn.Configuration",
                                    "http.request with `sigv4` needs AWS credentials, and none are "
                                    "configured for this cairn");
    }
    if (aws::FindHeader(http, "Host") == nullptr) http.headers.push_back({"Host", url->host});
    auto signed_request = signer_(http, *service, region->value_or(""));
    if (!signed_request.ok()) {
      return ActionOutcome::Failure(
          "Cairn.Configuration",
          "http.request could not sign the request: " + signed_request.error().ToString());
    }
    http = std::move(*signed_request);
  }

  aws::HttpCallOptions options;
  options.timeout = std::chrono::milliseconds(timeout->millis);
  options.connect_timeout = std::min(options.connect_timeout, options.timeout);
  auto response = client_->Send(url->base, http, options);
  if (!response.ok()) {
    const Error& e = response.error();
    if (e.code == "http.timeout") {
      return ActionOutcome::Failure(
          "Cairn.Timeout",
          "http.request to " + url->host + " did not finish within " + timeout->ToString(),
          {{"timeout", timeout->ToString()}});
    }
    return ActionOutcome::Failure("Cairn.Transient", "http.request: " + e.ToString(),
                                  {{"code", e.code}});
  }
  const int status = response->status;
  const bool ok = expected->empty()
                      ? status >= 200 && status <= 299
                      : std::find(expected->begin(), expected->end(), status) != expected->end();
  json result = ResultOf(*response);
  if (!ok) {
    return ActionOutcome::Failure(
        "HTTP." + std::to_string(status),
        http.method + " " + url->base + url->path + " answered " + std::to_string(status),
        std::move(result));
  }
  return ActionOutcome::Success(std::move(result));
}

}  // namespace cairn::actions
