// The IAM and STS operations, each reading its form parameters and writing its <Result> content.
#pragma once

#include <map>
#include <string>

#include "berth/auth/identity.hpp"
#include "berth/core/error.hpp"
#include "berth/http/message.hpp"
#include "berth/iam/form_body.hpp"
#include "berth/registry/access_control.hpp"
#include "berth/registry/identity_directory.hpp"
#include "xml_writer.hpp"

namespace berth::iam {

struct query_call {
  identity_directory& directory;
  const access_control& access;
  const auth::identity& caller;
  const form& in;
  const std::string& account_id;
  const http::request& req;
  xml_writer& out;  // the content of <ActionResult>; empty: the response has no result element
};

using query_operation = result<void> (*)(query_call&);

struct operation_entry {
  query_operation run;
  const char* service;  // "iam" | "sts": the SigV4 service, the namespace, the version
};

const std::map<std::string, operation_entry, std::less<>>& query_operations();
void add_user_operations(std::map<std::string, operation_entry, std::less<>>& t);
void add_policy_operations(std::map<std::string, operation_entry, std::less<>>& t);

// Shared by the operations.
// A required parameter: IAM's "Value null at 'userName'" validation error when absent.
result<std::string> required(const query_call& c, const char* name, const char* field);
std::string optional_param(const query_call& c, const char* name, const std::string& fallback = "");
// Only root, the configured users and callers allowed `action` on `resource` may.
result<void> authorize(const query_call& c, const std::string& action, const std::string& resource);
// Marker/MaxItems pages: the last key of the page before, base64url; MaxItems 1–1000 (default 100).
struct page {
  std::string after;
  std::size_t limit = 100;
};
result<page> read_page(const query_call& c);
void write_truncation(xml_writer& out, bool truncated, const std::string& last_key);
std::string user_arn_of(const query_call& c, const std::string& name);
// The user an operation without UserName acts on: the caller's own (IAM users only).
result<std::string> user_or_caller(const query_call& c);

}  // namespace berth::iam
