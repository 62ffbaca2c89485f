// Several request observers behind the transport's one (metrics, audit and access logs).
#pragma once

#include <vector>

#include "berth/http/message.hpp"

namespace berth::http {

class observer_fanout final : public request_observer {
 public:
  explicit observer_fanout(std::vector<request_observer*> observers) : observers_(std::move(observers)) {}
  void on_request(const request& req, const request_outcome& outcome) override {
    for (auto* o : observers_) o->on_request(req, outcome);
  }
  void on_refusal(refusal why, std::string_view peer) override {
    for (auto* o : observers_) o->on_refusal(why, peer);
  }

 private:
  std::vector<request_observer*> observers_;
};

}  // namespace berth::http
