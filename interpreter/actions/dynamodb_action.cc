#include "actions/dynamodb_action.h"

#include "actions/action_params.h"
#include "actions/attribute_value.h"
#include "actions/aws_actions.h"
#include "actions/update_expression.h"

namespace cairn::actions {
namespace {

using dynamodb::MarshalMap;
using nlohmann::json;
using Operation = DynamoDbAction::Operation;

const char* Target(Operation op) {
  switch (op) {
    case Operation::kPutItem:
      return "DynamoDB_20120810.PutItem";
    case Operation::kUpdateItem:
      return "DynamoDB_20120810.UpdateItem";
    case Operation::kGetItem:
      return "DynamoDB_20120810.GetItem";
    case Operation::kDeleteItem:
      return "DynamoDB_20120810.DeleteItem";
    case Operation::kQuery:
      return "DynamoDB_20120810.Query";
  }
  return "";
}

// Adds `value` under `name` when it is set.
template <typename T>
void PutIf(json& body, const char* name, const std::optional<T>& value) {
  if (value) body[name] = *value;
}

// `names`: {"#n": "attr"}, checked; null when absent.
Result<json> Names(const ParamReader& p) {
  auto names = p.Object("names");
  if (!names.ok()) return names.error();
  if (*names == nullptr) return json(nullptr);
  for (const auto& [k, v] : (*names)->items()) {
    if (k.empty() || k[0] != '#') {
      return InvalidParameters(p.action() +
                               ": `names` keys are placeholders starting with #, got '" + k + "'");
    }
    if (!v.is_string()) {
      return InvalidParameters(p.action() + ": `names." + k + "` must be an attribute name, got " +
                               DescribeValue(v));
    }
  }
  return **names;
}

// `values`: {":v": plain} marshalled; null when absent.
Result<json> Values(const ParamReader& p) {
  auto values = p.Object("values");
  if (!values.ok()) return values.error();
  if (*values == nullptr) return json(nullptr);
  for (const auto& [k, v] : (*values)->items()) {
    if (k.empty() || k[0] != ':') {
      return InvalidParameters(p.action() +
                               ": `values` keys are placeholders starting with :, got '" + k + "'");
    }
  }
  auto marshalled = MarshalMap(**values, "values");
  if (!marshalled.ok()) return InvalidParameters(p.action() + ": " + marshalled.error().message);
  return *marshalled;
}

// A required plain-JSON object parameter (`item`, `key`), marshalled.
Result<json> RequiredMap(const ParamReader& p, const char* key) {
  auto object = p.Object(key);
  if (!object.ok()) return object.error();
  if (*object == nullptr || (*object)->empty()) {
    return InvalidParameters(p.action() + ": `" + key + "` is required: an object of attributes");
  }
  auto marshalled = MarshalMap(**object, key);
  if (!marshalled.ok()) return InvalidParameters(p.action() + ": " + marshalled.error().message);
  return *marshalled;
}

void PutExpressionMaps(json& body, const json& names, const json& values) {
  // DynamoDB rejects empty maps.
  if (names.is_object() && !names.empty()) body["ExpressionAttributeNames"] = names;
  if (values.is_object() && !values.empty()) body["ExpressionAttributeValues"] = values;
}

// The request body of one operation.
Result<json> BuildBody(Operation op, const ParamReader& p) {
  Status keys;
  switch (op) {
    case Operation::kPutItem:
      keys = p.CheckKeys({"table", "item", "condition", "names", "values", "returnValues"});
      break;
    case Operation::kUpdateItem:
      keys = p.CheckKeys({"table", "key", "set", "remove", "add", "update", "condition", "names",
                          "values", "returnValues"});
      break;
    case Operation::kGetItem:
      keys = p.CheckKeys({"table", "key", "consistentRead", "projection", "names"});
      break;
    case Operation::kDeleteItem:
      keys = p.CheckKeys({"table", "key", "condition", "names", "values", "returnValues"});
      break;
    case Operation::kQuery:
      keys = p.CheckKeys({"table", "index", "keyCondition", "filter", "names", "values", "limit",
                          "scanForward", "consistentRead", "startKey"});
      break;
  }
  if (!keys.ok()) return keys.error();

  json body = json::object();
  auto table = p.RequiredString("table");
  if (!table.ok()) return table.error();
  body["TableName"] = *table;

  auto names = Names(p);
  if (!names.ok()) return names.error();
  json values = nullptr;
  if (op != Operation::kGetItem) {
    auto v = Values(p);
    if (!v.ok()) return v.error();
    values = std::move(*v);
  }
  auto condition = p.String("condition");
  if (op != Operation::kGetItem && op != Operation::kQuery) {
    if (!condition.ok()) return condition.error();
    PutIf(body, "ConditionExpression", *condition);
  }

  switch (op) {
    case Operation::kPutItem: {
      auto item = RequiredMap(p, "item");
      if (!item.ok()) return item.error();
      body["Item"] = std::move(*item);
      auto rv = p.Enum("returnValues", {"NONE", "ALL_OLD"});
      if (!rv.ok()) return rv.error();
      PutIf(body, "ReturnValues", *rv);
      PutExpressionMaps(body, *names, values);
      break;
    }
    case Operation::kUpdateItem: {
      auto key = RequiredMap(p, "key");
      if (!key.ok()) return key.error();
      body["Key"] = std::move(*key);
      auto rv =
          p.Enum("returnValues", {"NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"});
      if (!rv.ok()) return rv.error();
      PutIf(body, "ReturnValues", *rv);
      auto raw = p.String("update");
      if (!raw.ok()) return raw.error();
      const json* set = p.Find("set");
      const json* remove = p.Find("remove");
      const json* add = p.Find("add");
      if (raw->has_value()) {
        if (set || remove || add) {
          return InvalidParameters(
              p.action() + ": a raw `update` expression cannot be combined with set/remove/add");
        }
        if ((*raw)->empty()) return InvalidParameters(p.action() + ": `update` is empty");
        body["UpdateExpression"] = **raw;
        PutExpressionMaps(body, *names, values);
      } else {
        auto built = dynamodb::BuildUpdate(set ? *set : json(), remove ? *remove : json(),
                                           add ? *add : json(), *names, values);
        if (!built.ok()) return InvalidParameters(p.action() + ": " + built.error().message);
        body["UpdateExpression"] = built->expression;
        PutExpressionMaps(body, built->names, built->values);
      }
      break;
    }
    case Operation::kGetItem: {
      auto key = RequiredMap(p, "key");
      if (!key.ok()) return key.error();
      body["Key"] = std::move(*key);
      auto consistent = p.Bool("consistentRead");
      if (!consistent.ok()) return consistent.error();
      PutIf(body, "ConsistentRead", *consistent);
      auto projection = p.String("projection");
      if (!projection.ok()) return projection.error();
      PutIf(body, "ProjectionExpression", *projection);
      PutExpressionMaps(body, *names, nullptr);
      break;
    }
    case Operation::kDeleteItem: {
      auto key = RequiredMap(p, "key");
      if (!key.ok()) return key.error();
      body["Key"] = std::move(*key);
      auto rv = p.Enum("returnValues", {"NONE", "ALL_OLD"});
      if (!rv.ok()) return rv.error();
      PutIf(body, "ReturnValues", *rv);
      PutExpressionMaps(body, *names, values);
      break;
    }
    case Operation::kQuery: {
      auto key_condition = p.RequiredString("keyCondition");
      if (!key_condition.ok()) return key_condition.error();
      body["KeyConditionExpression"] = *key_condition;
      auto index = p.String("index");
      if (!index.ok()) return index.error();
      PutIf(body, "IndexName", *index);
      auto filter = p.String("filter");
      if (!filter.ok()) return filter.error();
      PutIf(body, "FilterExpression", *filter);
      auto limit = p.Integer("limit", 1, INT32_MAX);
      if (!limit.ok()) return limit.error();
      PutIf(body, "Limit", *limit);
      auto forward = p.Bool("scanForward");
      if (!forward.ok()) return forward.error();
      PutIf(body, "ScanIndexForward", *forward);
      auto consistent = p.Bool("consistentRead");
      if (!consistent.ok()) return consistent.error();
      PutIf(body, "ConsistentRead", *consistent);
      auto start = p.Object("startKey");
      if (!start.ok()) return start.error();
      if (*start != nullptr) {
        auto marshalled = MarshalMap(**start, "startKey");
        if (!marshalled.ok())
          return InvalidParameters(p.action() + ": " + marshalled.error().message);
        body["ExclusiveStartKey"] = std::move(*marshalled);
      }
      PutExpressionMaps(body, *names, values);
      break;
    }
  }
  return body;
}

// The plain-JSON result of a reply body.
Result<json> ReadReply(Operation op, const json& reply) {
  auto field = [&](const char* name) -> const json& {
    static const json kNull;
    if (!reply.is_object()) return kNull;
    auto it = reply.find(name);
    return it == reply.end() ? kNull : *it;
  };
  switch (op) {
    case Operation::kPutItem:
    case Operation::kUpdateItem:
    case Operation::kDeleteItem: {
      auto attributes = dynamodb::UnmarshalMap(field("Attributes"));
      if (!attributes.ok()) return attributes.error();
      return json{{"attributes", std::move(*attributes)}};
    }
    case Operation::kGetItem: {
      auto item = dynamodb::UnmarshalMap(field("Item"));
      if (!item.ok()) return item.error();
      return json{{"item", std::move(*item)}};
    }
    case Operation::kQuery: {
      json items = json::array();
      const json& raw = field("Items");
      if (!raw.is_null() && !raw.is_array()) return MakeError("reply", "Items is not a list");
      if (raw.is_array()) {
        for (const json& i : raw) {
          auto item = dynamodb::UnmarshalMap(i);
          if (!item.ok()) return item.error();
          items.push_back(std::move(*item));
        }
      }
      auto last = dynamodb::UnmarshalMap(field("LastEvaluatedKey"));
      if (!last.ok()) return last.error();
      const json& count = field("Count");
      const json& scanned = field("ScannedCount");
      return json{{"items", std::move(items)},
                  {"count", count.is_number() ? count : json(items.size())},
                  {"scannedCount", scanned.is_number() ? scanned : json(nullptr)},
                  {"lastEvaluatedKey", std::move(*last)}};
    }
  }
  return json(nullptr);
}

}  // namespace

const char* DynamoDbAction::TypeName(Operation operation) {
  switch (operation) {
    case Operation::kPutItem:
      return "dynamodb.putItem";
    case Operation::kUpdateItem:
      return "dynamodb.updateItem";
    case Operation::kGetItem:
      return "dynamodb.getItem";
    case Operation::kDeleteItem:
      return "dynamodb.deleteItem";
    case Operation::kQuery:
      return "dynamodb.query";
  }
  return "";
}

ActionOutcome DynamoDbAction::Run(const ActionRequest& request) {
  ParamReader params(request.params, TypeName(operation_));
  auto body = BuildBody(operation_, params);
  if (!body.ok()) return InvalidOutcome(body.error());

  aws::AwsCall call;
  call.service = "dynamodb";
  call.protocol = aws::AwsProtocol::kJson10;
  call.target = Target(operation_);
  call.body = std::move(*body);
  const aws::AwsReply reply = caller_->Call(WithStepTimeout(std::move(call), request));
  if (!reply.ok) return AwsFailure(reply);

  auto result = ReadReply(operation_, reply.body);
  if (!result.ok()) {
    return ActionOutcome::Failure("Cairn.InvalidReply",
                                  "DynamoDB's reply could not be read: " + result.error().message);
  }
  return ActionOutcome::Success(std::move(*result));
}

}  // namespace cairn::actions
