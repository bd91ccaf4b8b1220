// RecordingAwsCaller: an aws::AwsCaller for unit tests of request building.
// It records every call and answers from a queue of scripted replies (an
// empty queue answers {ok, body {}}). The real service peers (dynalite,
// moto) are exercised by tests/aws_e2e.
#pragma once

#include <deque>
#include <mutex>
#include <vector>

#include "aws/aws_caller.h"

namespace cairn::actions {

class RecordingAwsCaller final : public aws::AwsCaller {
 public:
  aws::AwsReply Call(const aws::AwsCall& call) override {
    std::lock_guard<std::mutex> lock(mu_);
    calls.push_back(call);
    if (replies.empty()) {
      aws::AwsReply ok;
      ok.ok = true;
      ok.http_status = 200;
      ok.body = nlohmann::json::object();
      return ok;
    }
    aws::AwsReply reply = std::move(replies.front());
    replies.pop_front();
    return reply;
  }

  static aws::AwsReply Ok(nlohmann::json body) {
    aws::AwsReply r;
    r.ok = true;
    r.http_status = 200;
    r.body = std::move(body);
    return r;
  }
  static aws::AwsReply Err(std::string name, std::string message, int status = 400) {
    aws::AwsReply r;
    r.ok = false;
    r.http_status = status;
    r.error_name = std::move(name);
    r.error_message = std::move(message);
    return r;
  }

  std::vector<aws::AwsCall> calls;
  std::deque<aws::AwsReply> replies;

 private:
  std::mutex mu_;
};

}  // namespace cairn::actions
