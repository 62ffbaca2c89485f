#include "berth/cli/api_router.hpp"

#include "berth/http/simple_exchange.hpp"

namespace berth::cli {

namespace {

std::unique_ptr<http::exchange> not_found(const http::request& head) {
  head.notes.api = "none";
  http::response r;
  r.status = 404;
  r.headers.add("Content-Type", "text/plain; charset=utf-8");
  r.body = "404 page not found\n";
  return http::respond_with(std::move(r));
}

}  // namespace

std::unique_ptr<http::exchange> api_router::route(const http::request& head) {
  if (head.path == "/v2" || head.path.starts_with("/v2/")) return v2_.route(head);
  if (ops_ && observability::ops_endpoints::is_ops_path(head.path)) return ops_->route(head);
  if (secrets_ && secrets::is_secrets_request(head)) return secrets_->exchange();
  if (head.path == "/" && head.method == http::verb::post && head.header("X-Amz-Target")) return ecr_.exchange();
  if (query_ && iam::is_query_request(head)) return query_->exchange();
  return not_found(head);
}

std::unique_ptr<http::exchange> ops_router::route(const http::request& head) {
  if (observability::ops_endpoints::is_ops_path(head.path)) return ops_.route(head);
  return not_found(head);
}

http::response ops_router::refuse(http::refusal why) {
  http::response r;
  r.headers.add("Content-Type", "text/plain; charset=utf-8");
  switch (why) {
    case http::refusal::too_many_connections:
      r.status = 503;
      r.body = "503 too many connections\n";
      break;
    case http::refusal::header_too_large:
      r.status = 431;
      r.body = "431 request header fields too large\n";
      break;
    case http::refusal::malformed_header:
      r.status = 400;
      r.body = "400 bad request\n";
      break;
    case http::refusal::handler_failed:
      r.status = 500;
      r.body = "500 internal server error\n";
      break;
  }
  return r;
}

}  // namespace berth::cli
