#include "berth/registry/replicator.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "berth/meta/metadata_store.hpp"
#include "berth/registry/manifest.hpp"

namespace berth {
namespace {

constexpr int max_replicated_index_depth = 4;

// The failureCode of an error the peer will answer again (FAILED now), or "" for one worth
// another attempt (the peer down, failing, or our own store busy).
std::string permanent_failure(const error& e) {
  switch (e.code) {
    case errc::denied:
    case errc::unauthorized:
    case errc::token_invalid: return "ACCESS_DENIED";
    case errc::tag_immutable: return "TAG_IMMUTABLE";
    case errc::manifest_invalid:
    case errc::manifest_blob_unknown:
    case errc::referenced_images_not_found: return "MANIFEST_REJECTED";
    case errc::blob_upload_invalid:
    case errc::digest_invalid: return "BLOB_REJECTED";
    case errc::limit_exceeded: return "LIMIT_EXCEEDED";
    default: return "";
  }
}

}  // namespace

replicator::replicator(registry& reg, registry_backends backends, replication_rules& rules,
                       replication_connector& connector, const clock& clk, replication_settings settings)
    : reg_(reg), backends_(backends), rules_(rules), connector_(connector), clock_(clk), settings_(settings) {}

std::shared_ptr<replication_target> replicator::target_for(const replication_peer& peer) {
  std::lock_guard lock(mutex_);
  auto& t = targets_[peer.endpoint + "\n" + peer.access_key_id];
  if (!t) t = connector_.connect(peer);
  return t;
}

void replicator::recover(const std::string& holder) {
  if (auto r = backends_.meta.replication().release(holder); !r) {
    spdlog::warn("replication: cannot release the jobs {} held: {}", holder, r.error_value().message);
  }
}

bool replicator::replicate_next(const std::string& holder) {
  auto& jobs = backends_.meta.replication();
  const auto now = clock_.now_seconds();
  auto claimed = jobs.claim_due(holder, now, now + settings_.hold_seconds);
  if (!claimed) {
    spdlog::warn("replication: cannot read the queue: {}", claimed.error_value().message);
    return false;
  }
  if (!*claimed) return false;
  const auto& job = **claimed;
  const replication_destination dest{job.region, job.registry_id};
  const auto where = job.repository + "@" + job.digest + (job.tag.empty() ? "" : " (" + job.tag + ")") + " to " +
                     job.region + "/" + job.registry_id;

  const auto* peer = rules_.peer(dest);
  if (!peer) {
    spdlog::error("replication of {} failed: the destination is no longer in replication.peers", where);
    (void)jobs.fail(job, "PEER_NOT_CONFIGURED");
    return true;
  }
  // The manifest by its tag only while the source's tag still names it; otherwise by digest (the
  // tag's own, later job moves it).
  std::string reference = job.digest;
  if (!job.tag.empty()) {
    auto current = reg_.find_image(job.repository, "", job.tag);
    if (current && *current && (*current)->digest == job.digest) reference = job.tag;
  }
  auto target = target_for(*peer);
  // Each blob copied renews the hold: another worker takes the job only from a dead one.
  const renewal renew = [&] {
    const auto t = clock_.now_seconds();
    (void)jobs.extend(job, holder, t + settings_.hold_seconds);
  };
  auto copied = [&]() -> result<void> {
    auto repo = reg_.repositories().get(job.repository);
    if (!repo) return repo.take_error();
    if (auto r = target->ensure_repository(job.repository, repo->config); !r) return r;
    return copy_image(*target, dest, job.repository, job.digest, reference, 0, renew);
  }();
  if (copied) {
    (void)jobs.complete(job);
    spdlog::info("replicated {}", where);
    return true;
  }
  const auto& e = copied.error_value();
  if (e.code == errc::name_unknown || e.code == errc::image_not_found || e.code == errc::manifest_unknown) {
    // The source image (or repository) is gone: deletes are not replicated, nor what they removed.
    spdlog::info("replication of {} dropped: the image is no longer here ({})", where, e.message);
    (void)jobs.drop(job);
    return true;
  }
  if (auto code = permanent_failure(e); !code.empty()) {
    spdlog::error("replication of {} failed ({}): {}", where, code, e.message);
    (void)jobs.fail(job, code);
    return true;
  }
  if (job.attempts + 1 >= settings_.max_attempts) {
    spdlog::error("replication of {} failed after {} attempts: {}", where, job.attempts + 1, e.message);
    (void)jobs.fail(job, "PEER_UNAVAILABLE");
    return true;
  }
  auto delay = settings_.retry_base_seconds;
  for (std::int64_t i = 0; i < job.attempts && delay < settings_.retry_max_seconds; ++i) delay *= 2;
  delay = std::min(delay, settings_.retry_max_seconds);
  spdlog::warn("replication of {} will be tried again in {} s (attempt {}): {}", where, delay, job.attempts + 1,
               e.message);
  (void)jobs.retry(job, now + delay, e.message);
  return true;
}

result<void> replicator::copy_image(replication_target& peer, const replication_destination& dest,
                                    const std::string& repository, const std::string& digest_text,
                                    const std::string& reference, int depth, const renewal& renew) {
  auto stored = reg_.find_manifest(repository, digest_text, "");
  if (!stored) return stored.take_error();
  if (!*stored) return make_error(errc::image_not_found, digest_text);
  auto parsed = parse_manifest((*stored)->content, (*stored)->media_type);
  if (!parsed) return parsed.take_error();
  for (const auto& child : parsed->manifests) {
    if (depth >= max_replicated_index_depth) return make_error(errc::manifest_invalid, "indexes nested too deep");
    auto there = peer.has_manifest(repository, child.dgst.str());
    if (!there) return there.take_error();
    if (*there) continue;
    if (auto r = copy_image(peer, dest, repository, child.dgst.str(), child.dgst.str(), depth + 1, renew); !r) {
      return r;
    }
  }
  if (parsed->config) {
    if (auto r = copy_blob(peer, dest, repository, parsed->config->dgst, renew); !r) return r;
  }
  for (const auto& layer : parsed->layers) {
    if (layer.has_urls) continue;  // non-distributable: not here either
    if (auto r = copy_blob(peer, dest, repository, layer.dgst, renew); !r) return r;
  }
  return peer.push_manifest(repository, reference, (*stored)->media_type, (*stored)->content);
}

result<void> replicator::copy_blob(replication_target& peer, const replication_destination& dest,
                                   const std::string& repository, const digest& d, const renewal& renew) {
  auto& known = backends_.meta.replication();
  auto there = peer.has_blob(repository, d);
  if (!there) return there.take_error();
  if (!*there) {
    auto holder = known.blob_holder(dest.region, dest.registry_id, d.str());
    bool mounted = false;
    if (holder && *holder && **holder != repository) {
      auto m = peer.mount_blob(repository, **holder, d);
      if (!m) return m.take_error();
      mounted = *m;
    }
    if (!mounted) {
      auto blob = reg_.open_blob(repository, d);
      if (!blob) return blob.take_error();
      auto bytes = (*blob)->bytes(0, (*blob)->size(), false);
      if (!bytes) return bytes.take_error();
      auto reader = reader_for(std::move(*bytes));
      if (auto r = peer.push_blob(repository, d, (*blob)->size(), *reader); !r) return r;
      renew();
    }
  }
  (void)known.note_blob(dest.region, dest.registry_id, d.str(), repository);
  return {};
}

result<std::pair<std::string, std::vector<replication_status>>> replicator::status(const std::string& repository,
                                                                                   const std::string& digest,
                                                                                   const std::string& tag) {
  auto image = reg_.find_image(repository, digest, tag);
  if (!image) return image.take_error();
  if (!*image) return make_error(errc::image_not_found, "Requested image not found");
  auto jobs = backends_.meta.replication().jobs_of(repository, (*image)->digest);
  if (!jobs) return jobs.take_error();
  // One status per destination: FAILED if any of its jobs failed, else IN_PROGRESS while any
  // runs, else COMPLETE.
  std::vector<replication_status> out;
  for (const auto& j : *jobs) {
    auto it = std::find_if(out.begin(), out.end(), [&](const replication_status& s) {
      return s.region == j.region && s.registry_id == j.registry_id;
    });
    if (it == out.end()) {
      out.push_back(replication_status{j.region, j.registry_id, j.status, j.status == "FAILED" ? j.failure : ""});
      continue;
    }
    if (it->status == "FAILED") continue;
    if (j.status == "FAILED") {
      it->status = "FAILED";
      it->failure_code = j.failure;
    } else if (j.status == "IN_PROGRESS") {
      it->status = "IN_PROGRESS";
    }
  }
  return std::pair{(*image)->digest, std::move(out)};
}

}  // namespace berth
