#include "berth/cli/api_router.hpp"

#include "berth/http/simple_exchange.hpp"

namespace berth::cli {

std::unique_ptr<http::exchange> api_router::route(const http::request& head) {
  if (head.path == "/v2" || head.path.starts_with("/v2/")) return v2_.route(head);
  if (secrets_ && secrets::is_secrets_request(head)) return secrets_->exchange();
  if (head.path == "/" && head.method == http::verb::post && head.header("X-Amz-Target")) return ecr_.exchange();
  if (query_ && iam::is_query_request(head)) return query_->exchange();
  head.notes.api = "none";
  http::response r;
  r.status = 404;
  r.headers.add("Content-Type", "text/plain; charset=utf-8");
  r.body = "404 page not found\n";
  return http::respond_with(std::move(r));
}

}  // namespace berth::cli
