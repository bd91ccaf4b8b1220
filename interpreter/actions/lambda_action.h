// lambda.invoke: Lambda's Invoke API (POST /2015-03-31/functions/NAME/
// invocations) through an aws::AwsCaller.
//
// Parameters (schema/workflow.schema.json › lambda.invoke):
//   function        name, ARN or partial ARN (":qualifier" allowed)
//   qualifier       version or alias (?Qualifier=)
//   payload         any JSON, sent as the event (absent: no payload)
//   invocationType  RequestResponse (default) or Event
//   durable         true: a chained invoke of a durable function. That is
//                   a CHAINED_INVOKE operation of the Lambda backend; this
//                   action (what the local backend runs) refuses it with
//                   Cairn.UnsupportedAction rather than silently invoking
//                   the function request-response.
// Result: RequestResponse: the function's response (parsed JSON; text that
// is not JSON as a string; null when empty). Event: {statusCode: 202}.
// Workflow errors: Lambda.FunctionError when the function failed
// (X-Amz-Function-Error): the message is the function's errorMessage, data
// its whole error payload ({errorType, errorMessage, stackTrace}); the
// service's errors ("Lambda.ResourceNotFoundException",
// "Lambda.TooManyRequestsException", "Cairn.Transient", ...);
// Cairn.InvalidParameters.
//
// Thread-safe when the caller is.
#pragma once

#include <memory>

#include "actions/action.h"
#include "aws/aws_caller.h"

namespace cairn::actions {

class LambdaInvokeAction final : public Action {
 public:
  explicit LambdaInvokeAction(std::shared_ptr<aws::AwsCaller> caller)
      : caller_(std::move(caller)) {}
  ActionOutcome Run(const ActionRequest& request) override;

 private:
  const std::shared_ptr<aws::AwsCaller> caller_;
};

}  // namespace cairn::actions
