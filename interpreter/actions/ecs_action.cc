#include "actions/ecs_action.h"

#include "actions/action_params.h"
#include "actions/aws_actions.h"
#include "aws/hash.h"

namespace cairn::actions {
namespace {

using nlohmann::json;
using Operation = EcsAction::Operation;

constexpr size_t kMaxClientToken = 64;

aws::AwsCall EcsCall(const char* operation, json body) {
  aws::AwsCall call;
  call.service = "ecs";
  call.protocol = aws::AwsProtocol::kJson11;
  call.target = std::string("AmazonEC2ContainerServiceV20141113.") + operation;
  call.body = std::move(body);
  return call;
}

template <typename T>
void PutIf(json& body, const char* name, const std::optional<T>& value) {
  if (value) body[name] = *value;
}

// True for "family:3" and "arn:...:task-definition/family:3".
bool PinsRevision(const std::string& task_definition) {
  const size_t slash = task_definition.rfind('/');
  const std::string tail =
      slash == std::string::npos ? task_definition : task_definition.substr(slash + 1);
  if (task_definition.rfind("arn:", 0) == 0 && slash == std::string::npos) return false;
  const size_t colon = tail.rfind(':');
  return colon != std::string::npos && colon + 1 < tail.size() &&
         tail.find_first_not_of("0123456789", colon + 1) == std::string::npos;
}

Result<json> Network(const ParamReader& p) {
  auto network = p.Object("network");
  if (!network.ok()) return network.error();
  if (*network == nullptr) return json(nullptr);
  ParamReader n(**network, p.action() + " network");
  if (auto s = n.CheckKeys({"subnets", "securityGroups", "assignPublicIp"}); !s.ok()) {
    return s.error();
  }
  auto subnets = n.StringList("subnets");
  if (!subnets.ok()) return subnets.error();
  if (!subnets->has_value() || (*subnets)->empty()) {
    return InvalidParameters(p.action() + ": `network.subnets` is required: a list of subnet ids");
  }
  auto groups = n.StringList("securityGroups");
  if (!groups.ok()) return groups.error();
  auto public_ip = n.Bool("assignPublicIp");
  if (!public_ip.ok()) return public_ip.error();
  json awsvpc = {{"subnets", **subnets}};
  if (groups->has_value()) awsvpc["securityGroups"] = **groups;
  if (public_ip->has_value()) awsvpc["assignPublicIp"] = **public_ip ? "ENABLED" : "DISABLED";
  return json{{"awsvpcConfiguration", std::move(awsvpc)}};
}

Result<json> Environment(const ParamReader& p) {
  auto env = p.Object("environment");
  if (!env.ok()) return env.error();
  if (*env == nullptr) return json(nullptr);
  json list = json::array();
  for (const auto& [name, value] : (*env)->items()) {
    if (name.empty()) return InvalidParameters(p.action() + ": `environment` has an empty name");
    if (value.is_null()) {
      return InvalidParameters(p.action() + ": `environment." + name +
                               "` is null; give it a value");
    }
    list.push_back({{"name", name},
                    {"value", value.is_string()
                                  ? value.get<std::string>()
                                  : value.dump(-1, ' ', false, json::error_handler_t::replace)}});
  }
  return list;
}

Result<json> Tags(const ParamReader& p) {
  auto tags = p.Object("tags");
  if (!tags.ok()) return tags.error();
  if (*tags == nullptr) return json(nullptr);
  json list = json::array();
  for (const auto& [key, value] : (*tags)->items()) {
    if (!value.is_string()) {
      return InvalidParameters(p.action() + ": `tags." + key + "` must be a string, got " +
                               DescribeValue(value));
    }
    list.push_back({{"key", key}, {"value", value}});
  }
  return list;
}

// Cairn.TaskFailed for a RunTask response that reports failures, starts no
// task, or shows a task that already stopped with a non-zero exit code.
std::optional<ActionOutcome> JudgeRunTask(const json& reply) {
  const json failures = reply.is_object() ? reply.value("failures", json::array()) : json::array();
  const json tasks = reply.is_object() ? reply.value("tasks", json::array()) : json::array();
  if (failures.is_array() && !failures.empty()) {
    std::string message = "RunTask reported " + std::to_string(failures.size()) + " failure" +
                          (failures.size() == 1 ? "" : "s");
    const json& f = failures[0];
    if (f.is_object()) {
      message += ": " + f.value("reason", std::string("unknown reason"));
      if (f.contains("detail") && f["detail"].is_string())
        message += " (" + f["detail"].get<std::string>() + ")";
      if (f.contains("arn") && f["arn"].is_string())
        message += " for " + f["arn"].get<std::string>();
    }
    return ActionOutcome::Failure("Cairn.TaskFailed", message, reply);
  }
  if (!tasks.is_array() || tasks.empty()) {
    return ActionOutcome::Failure("Cairn.TaskFailed", "RunTask started no task", reply);
  }
  for (const json& task : tasks) {
    if (!task.is_object() || task.value("lastStatus", std::string()) != "STOPPED") continue;
    for (const json& c : task.value("containers", json::array())) {
      if (!c.is_object()) continue;
      auto code = c.find("exitCode");
      if (code != c.end() && code->is_number_integer() && code->get<int64_t>() != 0) {
        std::string message = "task " + task.value("taskArn", std::string("?")) +
                              " stopped: container " + c.value("name", std::string("?")) +
                              " exited with code " + std::to_string(code->get<int64_t>());
        if (task.contains("stoppedReason") && task["stoppedReason"].is_string()) {
          message += " (" + task["stoppedReason"].get<std::string>() + ")";
        }
        return ActionOutcome::Failure("Cairn.TaskFailed", message, reply);
      }
    }
  }
  return std::nullopt;
}

}  // namespace

const char* EcsAction::TypeName(Operation operation) {
  switch (operation) {
    case Operation::kRunTask:
      return "ecs.runTask";
    case Operation::kDescribeTasks:
      return "ecs.describeTasks";
    case Operation::kStopTask:
      return "ecs.stopTask";
  }
  return "";
}

std::string EcsAction::DerivedClientToken(const std::string& execution_arn,
                                          const std::string& operation_id) {
  // A separator that occurs in neither, so ("a", "bc") and ("ab", "c") differ.
  const std::string digest = aws::Sha256Hex(execution_arn + '\n' + operation_id);
  return "cairn-" + digest.substr(0, kMaxClientToken - 6);
}

Result<std::string> EcsAction::FirstContainer(const std::string& task_definition) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = first_container_.find(task_definition);
    if (it != first_container_.end()) return it->second;
  }
  const aws::AwsReply reply =
      caller_->Call(EcsCall("DescribeTaskDefinition", {{"taskDefinition", task_definition}}));
  if (!reply.ok) {
    return MakeError(reply.error_name.empty() ? "Cairn.Transient" : reply.error_name,
                     "DescribeTaskDefinition " + task_definition +
                         " (to find the container the "
                         "overrides apply to): " +
                         reply.error_message);
  }
  const json& containers = reply.body.is_object()
                               ? reply.body.value("taskDefinition", json::object())
                                     .value("containerDefinitions", json::array())
                               : json::array();
  if (!containers.is_array() || containers.empty() || !containers[0].is_object() ||
      !containers[0].contains("name") || !containers[0]["name"].is_string()) {
    return MakeError("Cairn.InvalidReply",
                     "DescribeTaskDefinition " + task_definition + " returned no container");
  }
  std::string name = containers[0]["name"].get<std::string>();
  if (PinsRevision(task_definition)) {
    std::lock_guard<std::mutex> lock(mu_);
    first_container_[task_definition] = name;
  }
  return name;
}

ActionOutcome EcsAction::RunTask(const ActionRequest& request) {
  ParamReader p(request.params, TypeName(operation_));
  if (auto s = p.CheckKeys({"cluster", "taskDefinition", "launchType", "platformVersion", "count",
                            "network", "container", "environment", "command", "clientToken",
                            "startedBy", "group", "tags"});
      !s.ok()) {
    return InvalidOutcome(s.error());
  }
  json body = json::object();
  auto task_definition = p.RequiredString("taskDefinition");
  if (!task_definition.ok()) return InvalidOutcome(task_definition.error());
  body["taskDefinition"] = *task_definition;
  for (const char* key : {"cluster", "platformVersion", "startedBy", "group"}) {
    auto v = p.String(key);
    if (!v.ok()) return InvalidOutcome(v.error());
    PutIf(body, key, *v);
  }
  auto launch = p.Enum("launchType", {"FARGATE", "EC2", "EXTERNAL"});
  if (!launch.ok()) return InvalidOutcome(launch.error());
  PutIf(body, "launchType", *launch);
  auto count = p.Integer("count", 1, 10);
  if (!count.ok()) return InvalidOutcome(count.error());
  PutIf(body, "count", *count);

  auto network = Network(p);
  if (!network.ok()) return InvalidOutcome(network.error());
  if (!network->is_null()) body["networkConfiguration"] = std::move(*network);
  if (*launch == std::optional<std::string>("FARGATE") && !body.contains("networkConfiguration")) {
    return InvalidOutcome(
        InvalidParameters(p.action() + ": a FARGATE task needs `network` (awsvpc subnets)"));
  }

  auto tags = Tags(p);
  if (!tags.ok()) return InvalidOutcome(tags.error());
  if (!tags->is_null()) body["tags"] = std::move(*tags);

  auto env = Environment(p);
  if (!env.ok()) return InvalidOutcome(env.error());
  auto command = p.StringList("command");
  if (!command.ok()) return InvalidOutcome(command.error());
  auto container = p.String("container");
  if (!container.ok()) return InvalidOutcome(container.error());
  if (!env->is_null() || command->has_value()) {
    std::string name;
    if (container->has_value()) {
      name = **container;
    } else {
      auto first = FirstContainer(*task_definition);
      if (!first.ok()) return ActionOutcome::Failure(first.error().code, first.error().message);
      name = *first;
    }
    json override_ = {{"name", name}};
    if (!env->is_null()) override_["environment"] = std::move(*env);
    if (command->has_value()) override_["command"] = **command;
    body["overrides"] = {{"containerOverrides", json::array({std::move(override_)})}};
  } else if (container->has_value()) {
    return InvalidOutcome(InvalidParameters(
        p.action() + ": `container` names where `environment`/`command` go; give one of them"));
  }

  auto token = p.String("clientToken");
  if (!token.ok()) return InvalidOutcome(token.error());
  if (token->has_value()) {
    if ((*token)->empty() || (*token)->size() > kMaxClientToken) {
      return InvalidOutcome(InvalidParameters(p.action() +
                                              ": `clientToken` must be 1 to 64 characters, got " +
                                              std::to_string((*token)->size())));
    }
    body["clientToken"] = **token;
  } else {
    body["clientToken"] = DerivedClientToken(request.execution_arn, request.operation_id);
  }

  const aws::AwsReply reply = caller_->Call(WithStepTimeout(EcsCall("RunTask", std::move(body)), request));
  if (!reply.ok) return AwsFailure(reply);
  if (auto failed = JudgeRunTask(reply.body)) return *failed;
  return ActionOutcome::Success(reply.body);
}

ActionOutcome EcsAction::Run(const ActionRequest& request) {
  if (operation_ == Operation::kRunTask) return RunTask(request);
  ParamReader p(request.params, TypeName(operation_));
  json body = json::object();
  const char* api = nullptr;
  if (operation_ == Operation::kDescribeTasks) {
    if (auto s = p.CheckKeys({"cluster", "tasks"}); !s.ok()) return InvalidOutcome(s.error());
    auto tasks = p.StringList("tasks");
    if (!tasks.ok()) return InvalidOutcome(tasks.error());
    if (!tasks->has_value() || (*tasks)->empty() || (*tasks)->size() > 100) {
      return InvalidOutcome(
          InvalidParameters(p.action() + ": `tasks` must list 1 to 100 task ARNs or ids"));
    }
    for (const std::string& t : **tasks) {
      if (t.empty())
        return InvalidOutcome(InvalidParameters(p.action() + ": `tasks` has an empty task id"));
    }
    body["tasks"] = **tasks;
    api = "DescribeTasks";
  } else {
    if (auto s = p.CheckKeys({"cluster", "task", "reason"}); !s.ok())
      return InvalidOutcome(s.error());
    auto task = p.RequiredString("task");
    if (!task.ok()) return InvalidOutcome(task.error());
    body["task"] = *task;
    auto reason = p.String("reason");
    if (!reason.ok()) return InvalidOutcome(reason.error());
    PutIf(body, "reason", *reason);
    api = "StopTask";
  }
  auto cluster = p.String("cluster");
  if (!cluster.ok()) return InvalidOutcome(cluster.error());
  PutIf(body, "cluster", *cluster);
  const aws::AwsReply reply = caller_->Call(WithStepTimeout(EcsCall(api, std::move(body)), request));
  if (!reply.ok) return AwsFailure(reply);
  return ActionOutcome::Success(reply.body);
}

}  // namespace cairn::actions
