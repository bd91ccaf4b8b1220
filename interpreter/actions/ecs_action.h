// ecs.runTask | describeTasks | stopTask: one ECS API call each (plus, for
// runTask with overrides but no `container`, a DescribeTaskDefinition to
// learn the first container's name), through an aws::AwsCaller.
//
// runTask parameters (schema/workflow.schema.json › ecs.runTask):
//   cluster, taskDefinition, launchType, platformVersion, count, group,
//   startedBy        as the API's fields
//   network          {subnets, securityGroups, assignPublicIp} ->
//                    networkConfiguration.awsvpcConfiguration
//                    (assignPublicIp true/false -> ENABLED/DISABLED)
//   environment      {NAME: value} -> overrides.containerOverrides[0].environment
//                    (strings as they are, other values but null as compact JSON)
//   command          -> overrides.containerOverrides[0].command
//   container        the container the overrides apply to (default: the
//                    task definition's first container)
//   tags             {key: value} -> [{key, value}]
//   clientToken      the idempotency token; default: derived from the
//                    execution ARN and the step's operation id, so every
//                    attempt of one step sends the same token and a RunTask
//                    retried after a lost reply does not start a second task
// Result: the RunTask response ({tasks, failures}). Cairn.TaskFailed when
// the response has `failures`, starts no task, or holds a task that already
// STOPPED with a container exit code other than 0; data: the response.
//
// describeTasks {cluster, tasks} -> {tasks, failures}; stopTask {cluster,
// task, reason} -> {task}. These report what ECS says, without judging it
// (a poll's `until` reads lastStatus and exit codes).
//
// Other workflow errors: the service's ("ECS.ClusterNotFoundException",
// "ECS.InvalidParameterException", "Cairn.Transient", ...),
// Cairn.InvalidParameters.
//
// Thread-safe when the caller is.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "actions/action.h"
#include "aws/aws_caller.h"

namespace cairn::actions {

class EcsAction final : public Action {
 public:
  enum class Operation { kRunTask, kDescribeTasks, kStopTask };

  EcsAction(Operation operation, std::shared_ptr<aws::AwsCaller> caller)
      : operation_(operation), caller_(std::move(caller)) {}

  ActionOutcome Run(const ActionRequest& request) override;

  static const char* TypeName(Operation operation);

  // The client token derived for a step: "cairn-" and 58 hex digits of
  // SHA-256(execution ARN, operation id). At most 64 characters.
  static std::string DerivedClientToken(const std::string& execution_arn,
                                        const std::string& operation_id);

 private:
  ActionOutcome RunTask(const ActionRequest& request);
  // The name of the first container of `task_definition`, cached for
  // revision-pinned definitions (family:revision or an ARN with a revision),
  // whose containers never change.
  Result<std::string> FirstContainer(const std::string& task_definition);

  const Operation operation_;
  const std::shared_ptr<aws::AwsCaller> caller_;
  std::mutex mu_;
  std::map<std::string, std::string> first_container_;  // guarded by mu_
};

}  // namespace cairn::actions
