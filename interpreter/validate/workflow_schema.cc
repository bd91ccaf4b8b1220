#include "validate/workflow_schema.h"

namespace cairn {

const nlohmann::json& WorkflowSchema() {
  static const nlohmann::json schema = nlohmann::json::parse(WorkflowSchemaText());
  return schema;
}

}  // namespace cairn
