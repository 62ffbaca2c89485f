#include "berth/cli/request_log.hpp"

#include <spdlog/spdlog.h>

namespace berth::cli {
namespace {

const char* method_text(http::verb v) {
  switch (v) {
    case http::verb::get: return "GET";
    case http::verb::head: return "HEAD";
    case http::verb::post: return "POST";
    case http::verb::put: return "PUT";
    case http::verb::patch: return "PATCH";
    case http::verb::delete_: return "DELETE";
    case http::verb::other: return "OTHER";
  }
  return "OTHER";
}

const char* refusal_text(http::refusal why) {
  switch (why) {
    case http::refusal::too_many_connections: return "too many connections";
    case http::refusal::header_too_large: return "request header too large";
    case http::refusal::malformed_header: return "malformed request";
    case http::refusal::handler_failed: return "handler failed";
  }
  return "refused";
}

}  // namespace

void request_log::on_request(const http::request& req, const http::request_outcome& o) {
  if (!spdlog::should_log(spdlog::level::debug)) return;
  spdlog::debug("{} {} {} {}us api={} op={} peer={}{} in={} out={}{}", method_text(req.method), req.path, o.status,
                o.duration.count(), req.notes.api, req.notes.operation, req.peer, req.tls ? " tls" : "", o.bytes_in,
                o.bytes_out, req.notes.principal.empty() ? "" : " by " + req.notes.principal);
}

void request_log::on_refusal(http::refusal why, std::string_view peer) {
  spdlog::debug("refused {}: {}", peer, refusal_text(why));
}

}  // namespace berth::cli
