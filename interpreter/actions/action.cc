#include "actions/action.h"

namespace cairn::actions {

void ActionRegistry::Register(std::string type, std::unique_ptr<Action> action) {
  actions_[std::move(type)] = std::move(action);
}

ActionOutcome ActionRegistry::Run(const ActionRequest& request) {
  auto it = actions_.find(request.type);
  if (it == actions_.end()) {
    return ActionOutcome::Failure("Cairn.UnsupportedAction",
                                  "the action '" + request.type + "' is not available here");
  }
  return it->second->Run(request);
}

}  // namespace cairn::actions
