// GET /v2/<name>/tags/list, GET /v2/_catalog, GET /v2/<name>/referrers/<digest>
#include <nlohmann/json.hpp>

#include <charconv>

#include "handlers.hpp"

namespace berth::oci {
namespace {

using json = nlohmann::json;

constexpr std::size_t max_page = 10000;

struct page_request {
  std::size_t limit;
  std::string last;
};

// n absent → `default_limit`; n present must be a non-negative integer; clipped to max_page.
result<page_request> parse_page(const http::request& req, std::size_t default_limit) {
  page_request p{default_limit, req.query_param("last").value_or("")};
  if (auto n = req.query_param("n")) {
    std::size_t v = 0;
    auto [ptr, ec] = std::from_chars(n->data(), n->data() + n->size(), v);
    if (n->empty() || ec != std::errc() || ptr != n->data() + n->size()) {
      return make_error(errc::pagination_number_invalid, "invalid number of results requested");
    }
    p.limit = std::min(v, max_page);
  }
  return p;
}

http::response json_response(const json& body) {
  http::response r;
  r.headers.add("Content-Type", "application/json");
  r.body = body.dump();
  return r;
}

// Fetches one more than the page to know whether a next page exists.
template <class Fetch>
http::response paged(const http::request& req, std::size_t default_limit, const std::string& base_path, const char* key,
                     json body, Fetch fetch) {
  auto page = parse_page(req, default_limit);
  if (!page) return error_response(page.error_value());
  std::vector<std::string> items;
  if (page->limit > 0) {
    auto got = fetch(page->last, page->limit + 1);
    if (!got) return error_response(got.error_value());
    items = std::move(got).value();
  }
  bool more = items.size() > page->limit;
  if (more) items.resize(page->limit);
  body[key] = items;
  auto r = json_response(body);
  if (more) {
    r.headers.add("Link", "<" + base_path + "?n=" + std::to_string(page->limit) +
                              "&last=" + http::percent_encode_query_value(items.back()) + ">; rel=\"next\"");
  }
  return r;
}

}  // namespace

std::unique_ptr<http::exchange> tags_exchange(registry& reg, const v2_route& route, const http::request& req) {
  if (req.method != http::verb::get && req.method != http::verb::head) return unsupported_method();
  return std::make_unique<http::function_exchange>(
      [&reg, name = route.name](http::request& r) {
        return paged(r, max_page * 100, "/v2/" + name + "/tags/list", "tags", json{{"name", name}},
                     [&](const std::string& last, std::size_t n) { return reg.list_tags(name, last, n); });
      },
      false);
}

std::unique_ptr<http::exchange> catalog_exchange(registry& reg, const http::request& req,
                                                 std::function<bool(const std::string&)> visible) {
  if (req.method != http::verb::get && req.method != http::verb::head) return unsupported_method();
  return std::make_unique<http::function_exchange>(
      [&reg, visible = std::move(visible)](http::request& r) {
        return paged(r, 100, "/v2/_catalog", "repositories", json::object(),
                     [&](const std::string& last, std::size_t n) -> result<std::vector<std::string>> {
                       if (!visible) return reg.list_repositories(last, n);
                       // Pages of the visible ones: read on until `n` are found or the names end.
                       std::vector<std::string> out;
                       std::string cursor = last;
                       while (out.size() < n) {
                         auto page = reg.list_repositories(cursor, n);
                         if (!page) return page.take_error();
                         for (auto& name : *page) {
                           if (out.size() < n && visible(name)) out.push_back(name);
                         }
                         if (page->size() < n) break;
                         cursor = page->back();
                       }
                       return out;
                     });
      },
      false);
}

std::unique_ptr<http::exchange> referrers_exchange(registry& reg, const v2_route& route, const http::request& req,
                                                   pull_through_cache* cache) {
  if (req.method != http::verb::get && req.method != http::verb::head) return unsupported_method();
  auto d = digest::parse(route.arg);
  if (!d) return error_exchange(d.error_value());
  // Through the cache the upstream is asked too: blocking, off the I/O threads.
  return std::make_unique<http::function_exchange>(
      [&reg, cache, name = route.name, d = *d](http::request& r) {
        auto rows = cache ? cache->referrers(name, d) : reg.referrers(name, d);
        if (!rows) return error_response(rows.error_value());
        auto filter = r.query_param("artifactType");
        json manifests = json::array();
        for (const auto& row : *rows) {
          if (filter && row.artifact_type != *filter) continue;
          json desc = {{"mediaType", row.media_type}, {"digest", row.digest}, {"size", row.size}};
          if (!row.artifact_type.empty()) desc["artifactType"] = row.artifact_type;
          if (!row.annotations.empty()) {
            auto a = json::parse(row.annotations, nullptr, false);
            if (!a.is_discarded()) desc["annotations"] = a;
          }
          manifests.push_back(std::move(desc));
        }
        json index = {
            {"schemaVersion", 2}, {"mediaType", std::string(media_type::oci_index)}, {"manifests", manifests}};
        http::response res;
        res.headers.add("Content-Type", std::string(media_type::oci_index));
        if (filter) res.headers.add("OCI-Filters-Applied", "artifactType");
        res.body = index.dump();
        return res;
      },
      cache != nullptr);
}

}  // namespace berth::oci
