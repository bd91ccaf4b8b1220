// dynamodb.putItem | updateItem | getItem | deleteItem | query: one DynamoDB
// API call each, through an aws::AwsCaller, with plain JSON in and out
// (attribute_value.h says how values and numbers are converted).
//
// Parameters are schema/workflow.schema.json's (checked again here, since
// expressions produce them); they map to the API like this:
//   table -> TableName           condition -> ConditionExpression
//   item, key, startKey -> Item, Key, ExclusiveStartKey (marshalled)
//   names -> ExpressionAttributeNames   values -> ExpressionAttributeValues
//   returnValues -> ReturnValues        projection -> ProjectionExpression
//   consistentRead, limit, scanForward, index, keyCondition, filter
//   updateItem: set/remove/add -> a generated UpdateExpression
//   (update_expression.h), or update -> the raw UpdateExpression.
//
// Results (plain JSON):
//   putItem, updateItem, deleteItem: {attributes} (null unless returnValues
//   asks for them); getItem: {item} (null when there is none); query:
//   {items, count, scannedCount, lastEvaluatedKey} (the last null on the
//   last page; pass it as startKey for the next).
//
// Workflow errors: what the service said, as AwsReply::error_name names it
// ("DynamoDB.ConditionalCheckFailedException", "DynamoDB.ValidationException",
// "Cairn.Transient", ...) with its message; Cairn.InvalidParameters for
// parameters that cannot be sent; Cairn.InvalidReply when the reply cannot
// be read.
//
// Thread-safe when the caller is.
#pragma once

#include <memory>

#include "actions/action.h"
#include "aws/aws_caller.h"

namespace cairn::actions {

class DynamoDbAction final : public Action {
 public:
  enum class Operation { kPutItem, kUpdateItem, kGetItem, kDeleteItem, kQuery };

  DynamoDbAction(Operation operation, std::shared_ptr<aws::AwsCaller> caller)
      : operation_(operation), caller_(std::move(caller)) {}

  ActionOutcome Run(const ActionRequest& request) override;

  // The action type, e.g. "dynamodb.putItem".
  static const char* TypeName(Operation operation);

 private:
  const Operation operation_;
  const std::shared_ptr<aws::AwsCaller> caller_;
};

}  // namespace cairn::actions
