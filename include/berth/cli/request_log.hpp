// The request observer `serve` installs: an audit line (info) per change, denial or refused
// credential; with the access log on, a line per request (method, path, route, status, bytes,
// duration, peer, identity, request id), as text or as a JSON line's own fields (log.format).
#pragma once

#include "berth/http/message.hpp"

namespace berth::cli {

struct request_log_options {
  bool access_log = false;
  bool json = false;  // the logger writes JSON lines (cli/logging.cpp merges the fields)
};

class request_log final : public http::request_observer {
 public:
  explicit request_log(request_log_options options = {}) : options_(options) {}
  void on_request(const http::request& req, const http::request_outcome& outcome) override;
  void on_refusal(http::refusal why, std::string_view peer) override;

 private:
  void access(const http::request& req, const http::request_outcome& outcome) const;
  request_log_options options_;
};

}  // namespace berth::cli
