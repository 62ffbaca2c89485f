// The request observer `serve` installs: a debug-level line per request (method, path, status,
// duration, API and operation, peer, principal) and a warning per refusal.
#pragma once

#include "berth/http/message.hpp"

namespace berth::cli {

class request_log final : public http::request_observer {
 public:
  void on_request(const http::request& req, const http::request_outcome& outcome) override;
  void on_refusal(http::refusal why, std::string_view peer) override;
};

}  // namespace berth::cli
