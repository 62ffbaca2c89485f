// What a V2 request asks for, in ECR's actions (as ECR documents them for docker push/pull), and
// whether the caller may: pull = BatchGetImage (manifests) + GetDownloadUrlForLayer (blobs); push =
// InitiateLayerUpload, UploadLayerPart, CompleteLayerUpload, BatchCheckLayerAvailability, PutImage;
// delete = BatchDeleteImage; a push that would create its repository also CreateRepository.
#include "handlers.hpp"

namespace berth::oci {
namespace {

struct action_set {
  std::vector<const char*> all;  // every one needed
  std::vector<const char*> any;  // one of them suffices
};

// A push another Berth replicates here (it says so with X-Berth-Replication) is authorized as
// ecr:ReplicateImage, as ECR authorizes its replication into a destination registry; the HEADs it
// checks with accept that action too.
action_set replication_actions_of(const v2_route& route, const http::request& req) {
  switch (route.endpoint) {
    case v2_endpoint::base:
    case v2_endpoint::catalog:
    case v2_endpoint::not_found:
    case v2_endpoint::tags_list:
    case v2_endpoint::referrers: return {};
    case v2_endpoint::manifest:
      if (req.method == http::verb::head) return {{}, {"ecr:ReplicateImage", "ecr:BatchGetImage"}};
      if (req.method == http::verb::put) return {{"ecr:ReplicateImage"}, {}};
      return {};
    case v2_endpoint::blob:
      if (req.method == http::verb::head) return {{}, {"ecr:ReplicateImage", "ecr:BatchCheckLayerAvailability"}};
      return {};
    case v2_endpoint::upload_start:
    case v2_endpoint::upload: return {{"ecr:ReplicateImage"}, {}};
  }
  return {};
}

action_set actions_of(const v2_route& route, const http::request& req) {
  const bool read = req.method == http::verb::get || req.method == http::verb::head;
  if (req.header("X-Berth-Replication")) {
    if (auto r = replication_actions_of(route, req); !r.all.empty() || !r.any.empty()) return r;
  }
  switch (route.endpoint) {
    case v2_endpoint::base:
    case v2_endpoint::catalog:  // filtered per repository instead
    case v2_endpoint::not_found: return {};
    case v2_endpoint::tags_list: return {{"ecr:ListImages"}, {}};
    case v2_endpoint::referrers: return {{"ecr:BatchGetImage"}, {}};
    case v2_endpoint::manifest:
      if (read) return {{"ecr:BatchGetImage"}, {}};
      if (req.method == http::verb::delete_) return {{"ecr:BatchDeleteImage"}, {}};
      return {{"ecr:PutImage"}, {}};
    case v2_endpoint::blob:
      // A pusher HEADs the layers it may skip; a puller GETs them.
      if (req.method == http::verb::head)
        return {{}, {"ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"}};
      if (read) return {{"ecr:GetDownloadUrlForLayer"}, {}};
      return {{"ecr:BatchDeleteImage"}, {}};
    case v2_endpoint::upload_start:
      if (req.has_query_param("digest")) {
        return {{"ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload"}, {}};
      }
      return {{"ecr:InitiateLayerUpload"}, {}};
    case v2_endpoint::upload:
      if (req.method == http::verb::put) return {{"ecr:UploadLayerPart", "ecr:CompleteLayerUpload"}, {}};
      return {{"ecr:UploadLayerPart"}, {}};
  }
  return {};
}

access_request request_for(const http::request& req, const std::string& repository, const char* action) {
  access_request what;
  what.action = action;
  what.repository = repository;
  what.source_ip = req.peer_address();
  what.secure_transport = req.tls;
  return what;
}

}  // namespace

namespace {
// Notes the decision for the audit log.
result<void> decided(const http::request& req, const char* action, result<void> r) {
  req.notes.action = action;
  req.notes.denied = !r && r.error_value().code == errc::denied;
  return r;
}
}  // namespace

result<void> authorize_v2(const access_control& access, registry& reg, const auth::identity& who,
                          const http::request& req, const v2_route& route) {
  req.notes.access_key_id = who.access_key_id;
  if (!route.name.empty()) req.notes.resource = access.repository_arn(route.name);
  auto needed = actions_of(route, req);
  if (!needed.all.empty() || !needed.any.empty()) {
    req.notes.action = !needed.all.empty() ? needed.all.front() : needed.any.front();
  }
  if (who.full_access) return {};
  for (const char* action : needed.all) {
    if (auto r = decided(req, action, access.authorize(who, request_for(req, route.name, action))); !r) return r;
  }
  if (!needed.any.empty()) {
    result<void> last = make_error(errc::denied, "");
    for (const char* action : needed.any) {
      last = decided(req, action, access.authorize(who, request_for(req, route.name, action)));
      if (last) break;
    }
    if (!last) return last;
  }
  // A push that creates its repository (a CREATE_ON_PUSH template) is a CreateRepository too.
  const bool push = route.endpoint == v2_endpoint::upload_start ||
                    (route.endpoint == v2_endpoint::manifest && req.method == http::verb::put);
  if (push) {
    auto exists = reg.repositories().get(route.name);
    if (!exists && exists.error_value().code == errc::name_unknown) {
      if (auto r = decided(req, "ecr:CreateRepository",
                           access.authorize(who, request_for(req, route.name, "ecr:CreateRepository")));
          !r) {
        return r;
      }
    }
  }
  return {};
}

bool may_pull(const access_control& access, const auth::identity& who, const http::request& req,
              const std::string& repository) {
  if (who.full_access) return true;
  return access.authorize(who, request_for(req, repository, "ecr:BatchGetImage")) &&
         access.authorize(who, request_for(req, repository, "ecr:GetDownloadUrlForLayer"));
}

bool may_replicate(const access_control& access, const auth::identity& who, const http::request& req,
                   const std::string& repository) {
  if (who.full_access) return true;
  return access.authorize(who, request_for(req, repository, "ecr:ReplicateImage")).has_value();
}

bool may_import(const access_control& access, registry& reg, const auth::identity& who, const http::request& req,
                const std::string& repository) {
  if (who.full_access) return true;
  if (!access.authorize(who, request_for(req, repository, "ecr:BatchImportUpstreamImage"))) return false;
  // The first pull creates the repository: that needs CreateRepository too.
  auto exists = reg.repositories().get(repository);
  return exists || access.authorize(who, request_for(req, repository, "ecr:CreateRepository")).has_value();
}

bool may_describe(const access_control& access, const auth::identity& who, const http::request& req,
                  const std::string& repository) {
  if (who.full_access) return true;
  return access.authorize(who, request_for(req, repository, "ecr:DescribeRepositories")).has_value();
}

}  // namespace berth::oci
