#include "berth/cli/request_log.hpp"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

namespace berth::cli {
namespace {

const char* refusal_text(http::refusal why) {
  switch (why) {
    case http::refusal::too_many_connections: return "too many connections";
    case http::refusal::header_too_large: return "request header too large";
    case http::refusal::malformed_header: return "malformed request";
    case http::refusal::handler_failed: return "handler failed";
  }
  return "refused";
}

// Reads change nothing: everything else is audited (and every denial, read or not).
bool mutating(const http::request& req) {
  const auto api = req.notes.api;
  if (api == "v2") return req.method != http::verb::get && req.method != http::verb::head;
  if (api == "ecr" || api == "iam") {
    const auto op = req.notes.operation;
    for (std::string_view read : {"Describe", "List", "Get", "BatchGet", "BatchCheck", "Validate"}) {
      if (op.starts_with(read)) return false;
    }
    return !op.empty();
  }
  return false;
}

}  // namespace

void request_log::access(const http::request& req, const http::request_outcome& o) const {
  const auto identity = req.notes.principal.empty() ? std::string("-") : req.notes.principal;
  const double ms = static_cast<double>(o.duration.count()) / 1000.0;
  if (options_.json) {
    nlohmann::json line = {{"method", http::verb_name(req.method)},
                           {"path", req.path},
                           {"api", req.notes.api.empty() ? "none" : req.notes.api},
                           {"route", req.notes.operation},
                           {"status", o.status},
                           {"bytes_in", o.bytes_in},
                           {"bytes_out", o.bytes_out},
                           {"duration_ms", ms},
                           {"peer", req.peer},
                           {"identity", identity},
                           {"request_id", req.notes.request_id},
                           {"completed", o.completed}};
    spdlog::info("access {}", line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    return;
  }
  spdlog::info("access {} {} {} {:.1f}ms in={} out={} peer={} identity={} route={}.{}{}{}{}",
               http::verb_name(req.method), req.path, o.status, ms, o.bytes_in, o.bytes_out, req.peer, identity,
               req.notes.api.empty() ? "none" : req.notes.api, req.notes.operation.empty() ? "-" : req.notes.operation,
               req.notes.request_id.empty() ? "" : " request_id=", req.notes.request_id,
               o.completed ? "" : " incomplete");
}

void request_log::on_request(const http::request& req, const http::request_outcome& o) {
  if (options_.access_log) access(req, o);
  if (req.notes.denied || req.notes.unauthenticated || mutating(req)) {
    // One structured line per decision that matters: who, what, on what, from where, and how it
    // ended. Only identifiers: no secret, token or signature is ever part of the notes.
    nlohmann::json line = {{"principal", req.notes.principal.empty() ? "anonymous" : req.notes.principal},
                           {"access_key_id", req.notes.access_key_id},
                           {"api", req.notes.api},
                           {"operation", req.notes.operation},
                           {"action", req.notes.action},
                           {"resource", req.notes.resource},
                           {"source", req.peer},
                           {"status", o.status},
                           {"result", req.notes.unauthenticated ? "unauthenticated"
                                      : req.notes.denied        ? "denied"
                                      : o.status < 400          ? "ok"
                                                                : "failed"}};
    spdlog::info("audit {}", line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
  if (options_.access_log || !spdlog::should_log(spdlog::level::debug)) return;
  spdlog::debug("{} {} {} {}us api={} op={} peer={}{} in={} out={}{}", http::verb_name(req.method), req.path, o.status,
                o.duration.count(), req.notes.api, req.notes.operation, req.peer, req.tls ? " tls" : "", o.bytes_in,
                o.bytes_out, req.notes.principal.empty() ? "" : " by " + req.notes.principal);
}

void request_log::on_refusal(http::refusal why, std::string_view peer) {
  spdlog::debug("refused {}: {}", peer, refusal_text(why));
}

}  // namespace berth::cli
