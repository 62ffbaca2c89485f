#include "berth/iam/query_api.hpp"

#include <spdlog/spdlog.h>

#include "berth/auth/login_token.hpp"
#include "berth/core/names.hpp"
#include "berth/http/simple_exchange.hpp"
#include "berth/iam/form_body.hpp"
#include "query_errors.hpp"
#include "query_operations.hpp"

namespace berth::iam {
namespace {

const char* namespace_of(std::string_view service) {
  return service == "sts" ? "https://sts.amazonaws.com/doc/2011-06-15/" : "https://iam.amazonaws.com/doc/2010-05-08/";
}

http::response xml_response(unsigned status, std::string body, const std::string& request_id) {
  http::response r;
  r.status = status;
  r.headers.add("x-amzn-RequestId", request_id);
  r.headers.add("Content-Type", "text/xml");
  r.body = std::move(body);
  return r;
}

http::response error_response(const error& e, std::string_view service, const std::string& request_id) {
  const auto kind = query_error_for(e.code);
  xml_writer x;
  x.open(std::string("ErrorResponse xmlns=\"") + namespace_of(service) + "\"").open("Error");
  x.leaf("Type", kind.sender ? "Sender" : "Receiver").leaf("Code", kind.code).leaf("Message", e.message);
  x.close("Error").leaf("RequestId", request_id).close("ErrorResponse");
  if (kind.status >= 500) spdlog::error("{} request {} failed: {}", service, request_id, e.message);
  return xml_response(kind.status, x.take(), request_id);
}

}  // namespace

bool is_query_request(const http::request& head) {
  if (head.path != "/" || head.method != http::verb::post || head.header("X-Amz-Target")) return false;
  auto type = head.header("Content-Type");
  return type && type->starts_with("application/x-www-form-urlencoded");
}

query_api::query_api(identity_directory& directory, const access_control& access,
                     const auth::credential_source& credentials, const clock& clk, query_settings settings)
    : directory_(directory),
      access_(access),
      clock_(clk),
      settings_(std::move(settings)),
      iam_verifier_(credentials, "", "iam"),
      sts_verifier_(credentials, "", "sts") {}

std::unique_ptr<http::exchange> query_api::exchange() const {
  return std::make_unique<http::buffered_exchange>(
      settings_.max_body, [this](http::request& req) { return handle(req); },
      [] {
        return error_response(make_error(errc::malformed_request, "Request body too large"), "iam", new_upload_id());
      },
      true,
      [] {
        return error_response(make_error(errc::malformed_request, "Malformed HTTP request body"), "iam",
                              new_upload_id());
      });
}

http::response query_api::handle(const http::request& req) const {
  const auto request_id = new_upload_id();
  req.notes.request_id = request_id;
  req.notes.api = "iam";
  auto in = parse_form(req.body);
  if (!in) return error_response(in.error_value(), "iam", request_id);
  const auto action_it = in->find("Action");
  const std::string action = action_it == in->end() ? std::string() : action_it->second;
  const auto& table = query_operations();
  auto op = table.find(action);
  if (op == table.end()) {
    auto version = in->count("Version") ? in->at("Version") : std::string("2010-05-08");
    return error_response(
        make_error(errc::unsupported_operation, "Could not find operation " + action + " for version " + version),
        "iam", request_id);
  }
  const std::string_view service = op->second.service;
  req.notes.api = service == "sts" ? "sts" : "iam";
  req.notes.operation = op->first;  // the table's key: a static string

  const auto sr = auth::signable_post(req);
  auto who = (service == "sts" ? sts_verifier_ : iam_verifier_).verify(sr, clock_.now_seconds());
  if (!who) {
    req.notes.unauthenticated = true;
    return error_response(who.error_value(), service, request_id);
  }
  req.notes.principal = who->arn;
  req.notes.access_key_id = who->access_key_id;
  req.notes.action = std::string(service) + ":" + op->first;

  xml_writer result_body;
  query_call call{directory_, access_, *who, *in, settings_.account_id, req, result_body};
  result<void> done = make_error(errc::internal, "no result");
  try {
    done = op->second.run(call);
  } catch (const std::exception& e) {
    done = make_error(errc::internal, std::string("internal error: ") + e.what());
  }
  if (!done) return error_response(done.error_value(), service, request_id);

  xml_writer x;
  x.open(op->first + "Response xmlns=\"" + namespace_of(service) + "\"");
  std::string body = x.take();
  if (!result_body.str().empty())
    body += "<" + op->first + "Result>" + result_body.str() + "</" + op->first + "Result>";
  body += "<ResponseMetadata><RequestId>" + request_id + "</RequestId></ResponseMetadata></" + op->first + "Response>";
  return xml_response(200, std::move(body), request_id);
}

// Shared by the operations.

result<std::string> required(const query_call& c, const char* name, const char* field) {
  auto it = c.in.find(name);
  if (it == c.in.end()) {
    return make_error(errc::invalid_parameter, std::string("1 validation error detected: Value null at '") + field +
                                                   "' failed to satisfy constraint: Member must not be null");
  }
  return it->second;
}

std::string optional_param(const query_call& c, const char* name, const std::string& fallback) {
  auto it = c.in.find(name);
  return it == c.in.end() ? fallback : it->second;
}

result<void> authorize(const query_call& c, const std::string& action, const std::string& resource) {
  access_request what;
  what.action = action;
  what.resource = resource;
  what.source_ip = c.req.peer_address();
  what.secure_transport = c.req.tls;
  c.req.notes.resource = resource;
  auto r = c.access.authorize(c.caller, what);
  c.req.notes.denied = !r && r.error_value().code == errc::denied;
  return r;
}

result<page> read_page(const query_call& c) {
  page p;
  if (auto it = c.in.find("Marker"); it != c.in.end()) {
    auto decoded = auth::base64_decode(it->second);
    if (!decoded || it->second.empty() || it->second.size() > 320) {
      return make_error(errc::invalid_parameter, "Invalid Marker.");
    }
    p.after = std::move(*decoded);
  }
  if (auto it = c.in.find("MaxItems"); it != c.in.end()) {
    std::size_t v = 0;
    bool ok = !it->second.empty() && it->second.size() <= 4;
    for (char ch : it->second) {
      ok = ok && ch >= '0' && ch <= '9';
      if (ok) v = v * 10 + static_cast<std::size_t>(ch - '0');
    }
    if (!ok || v < 1 || v > 1000) {
      return make_error(errc::invalid_parameter,
                        "1 validation error detected: Value '" + it->second +
                            "' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 1000");
    }
    p.limit = v;
  }
  return p;
}

void write_truncation(xml_writer& out, bool truncated, const std::string& last_key) {
  out.leaf("IsTruncated", truncated ? "true" : "false");
  if (truncated) out.leaf("Marker", auth::base64_encode(last_key, true));
}

std::string user_arn_of(const query_call& c, const std::string& name) {
  return "arn:aws:iam::" + c.account_id + ":user/" + name;
}

result<std::string> user_or_caller(const query_call& c) {
  if (auto it = c.in.find("UserName"); it != c.in.end()) return it->second;
  if (c.caller.root || c.caller.full_access) {
    return make_error(errc::invalid_parameter,
                      "Berth keeps the root and configured users' keys in its configuration: name a user (UserName)");
  }
  return c.caller.name;
}

}  // namespace berth::iam
