#include "berth/observability/token_scrape_gate.hpp"

namespace berth::observability {
namespace {

http::response refusal(unsigned status, const char* body) {
  http::response r;
  r.status = status;
  r.headers.add("Content-Type", "text/plain; charset=utf-8");
  if (status == 401) r.headers.add("WWW-Authenticate", "Basic realm=\"berth metrics\"");
  r.body = body;
  return r;
}

}  // namespace

std::optional<http::response> token_scrape_gate::refuse(const http::request& req) const {
  auto authz = req.header("Authorization");
  if (!authz) return refusal(401, "401 Unauthorized: send a login token (aws ecr get-login-password)\n");
  std::string token;
  if (authz->starts_with("Bearer ")) {
    token = std::string(authz->substr(7));
  } else if (authz->starts_with("Basic ")) {
    auto decoded = auth::base64_decode(authz->substr(6));
    if (!decoded || !decoded->starts_with("AWS:")) {
      req.notes.unauthenticated = true;
      return refusal(401, "401 Unauthorized: the user name must be AWS, the password a login token\n");
    }
    token = decoded->substr(4);
  } else {
    req.notes.unauthenticated = true;
    return refusal(401, "401 Unauthorized\n");
  }
  auto who = tokens_.verify(token, clock_.now_seconds());
  if (!who) {
    req.notes.unauthenticated = true;
    return refusal(401, "401 Unauthorized: the login token is invalid or has expired\n");
  }
  req.notes.principal = who->arn;
  req.notes.access_key_id = who->access_key_id;
  access_request what;
  what.action = "ecr:DescribeRegistry";
  what.resource = "*";
  what.source_ip = req.peer_address();
  what.secure_transport = req.tls;
  req.notes.action = what.action;
  req.notes.resource = what.resource;
  if (auto allowed = access_.authorize(*who, what); !allowed) {
    req.notes.denied = allowed.error_value().code == errc::denied;
    return refusal(403, "403 Forbidden: reading metrics needs ecr:DescribeRegistry\n");
  }
  return std::nullopt;
}

}  // namespace berth::observability
