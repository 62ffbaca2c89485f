// Manifests, tags and images: push, pull, delete, listings, pull times, storage classes.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "berth/meta/metadata_store.hpp"
#include "berth/registry/registry.hpp"

namespace berth {
namespace {

meta::tag_filter to_meta(image_filter f) {
  switch (f) {
    case image_filter::any: return meta::tag_filter::any;
    case image_filter::tagged: return meta::tag_filter::tagged;
    case image_filter::untagged: return meta::tag_filter::untagged;
  }
  return meta::tag_filter::any;
}

image_info info_from(meta::image_row&& r) {
  image_info i;
  i.digest = std::move(r.digest);
  i.media_type = std::move(r.media_type);
  i.config_media_type = std::move(r.config_media_type);
  i.artifact_type = std::move(r.artifact_type);
  i.subject = std::move(r.subject);
  i.manifest_size = r.manifest_size;
  i.image_size = r.image_size;
  i.pushed_at = r.pushed_at;
  i.last_pulled_at = r.last_pulled_at;
  i.tags = std::move(r.tags);
  i.archived = r.archived;
  i.last_archived_at = r.last_archived_at;
  i.last_activated_at = r.last_activated_at;
  return i;
}

// The cursor of ListImages pages: the last (digest, tag) pair, as one string.
std::string image_id_cursor(const image_id& id) { return id.digest + "\n" + id.tag; }
meta::image_ref parse_image_id_cursor(const std::string& cursor) {
  auto nl = cursor.find('\n');
  if (nl == std::string::npos) return meta::image_ref{cursor, ""};
  return meta::image_ref{cursor.substr(0, nl), cursor.substr(nl + 1)};
}

}  // namespace

result<manifest_content> registry::get_manifest(const std::string& repo, const reference& ref, bool pull) {
  auto& images = backends_.meta.images();
  auto row = std::holds_alternative<digest>(ref) ? images.manifest_by_digest(repo, std::get<digest>(ref).str())
                                                 : images.manifest_by_tag(repo, std::get<std::string>(ref));
  if (!row) return row.take_error();
  if (!*row) {
    if (auto r = require_repository(repo); !r) return r.take_error();
    return make_error(errc::manifest_unknown, "Requested image not found");
  }
  auto& m = **row;
  if (m.archived) {
    return make_error(errc::manifest_unknown, "The image is archived; restore it to STANDARD to pull it");
  }
  if (pull) note_pull(repo, m.digest);
  return manifest_content{std::move(m.digest), std::move(m.media_type), std::move(m.content)};
}

result<std::optional<stored_manifest>> registry::find_manifest(const std::string& repo, const std::string& digest,
                                                               const std::string& tag) {
  if (digest.empty() && tag.empty()) return std::optional<stored_manifest>();
  auto& images = backends_.meta.images();
  auto row = tag.empty() ? images.manifest_by_digest(repo, digest) : images.manifest_by_tag(repo, tag);
  if (!row) return row.take_error();
  if (!*row || (!digest.empty() && (*row)->digest != digest)) {
    // Only a miss pays for telling "no such repository" from "no such image".
    if (auto r = require_repository(repo); !r) return r.take_error();
    return std::optional<stored_manifest>();
  }
  auto& m = **row;
  return std::optional<stored_manifest>(
      stored_manifest{std::move(m.digest), std::move(m.media_type), std::move(m.content), m.archived});
}

void registry::note_pull(const std::string& repo, const std::string& digest) {
  std::lock_guard lock(pulls_mutex_);
  if (pulls_.size() < 100000) pulls_.emplace_back(repo, digest);
}

void registry::flush_pulls() {
  std::vector<std::pair<std::string, std::string>> batch;
  {
    std::lock_guard lock(pulls_mutex_);
    batch.swap(pulls_);
  }
  if (batch.empty()) return;
  std::sort(batch.begin(), batch.end());
  batch.erase(std::unique(batch.begin(), batch.end()), batch.end());
  if (auto r = backends_.meta.images().record_pulls(batch, clock_.now_seconds()); !r) {
    spdlog::warn("recording pull times failed: {}", r.error_value().message);
  }
}

result<pushed_manifest> registry::put_manifest(const std::string& repo, const reference& ref,
                                               std::string_view content_type, std::string bytes,
                                               const put_manifest_options& options) {
  auto parsed = parse_manifest(bytes, content_type);
  if (!parsed) return parsed.take_error();
  auto target = repositories_.require_for_push(repo);
  if (!target) return target.take_error();

  digest d;
  std::vector<std::string> tags;
  if (const auto* want = std::get_if<digest>(&ref)) {
    d = digest_of(bytes, want->algorithm());
    if (d != *want) {
      return make_error(errc::digest_invalid, "manifest digest does not match its content", digest_detail{want->str()});
    }
  } else {
    d = digest_of(bytes);
    tags.push_back(std::get<std::string>(ref));
  }
  for (const auto& t : options.extra_tags) {
    if (!is_valid_tag(t)) return make_error(errc::tag_invalid, "invalid tag: " + t);
    tags.push_back(t);
  }

  meta::manifest_write w;
  w.repository = repo;
  w.digest = d.str();
  w.media_type = parsed->media_type;
  w.artifact_type = parsed->artifact_type;
  w.annotations = parsed->annotations_json;
  if (parsed->subject) w.subject = parsed->subject->dgst.str();
  if (parsed->config) w.config_media_type = parsed->config->media_type;
  w.pushed_at = clock_.now_seconds();
  w.reject_unchanged = options.reject_unchanged;
  for (const auto& t : tags) {
    if (tag_is_immutable(target->config, t)) w.immutable_tags.push_back(t);
  }
  w.tags = std::move(tags);
  std::set<std::string> blob_refs;
  std::set<std::string> manifest_refs;
  if (parsed->config) blob_refs.insert(parsed->config->dgst.str());
  for (const auto& l : parsed->layers) {
    w.image_size += l.size;
    if (!l.has_urls) blob_refs.insert(l.dgst.str());  // non-distributable layers live elsewhere
  }
  for (const auto& m : parsed->manifests) manifest_refs.insert(m.dgst.str());
  w.image_size_from_children = parsed->kind == manifest_kind::index;
  w.blob_refs.assign(blob_refs.begin(), blob_refs.end());
  w.manifest_refs.assign(manifest_refs.begin(), manifest_refs.end());
  w.content = std::move(bytes);
  if (replication_ && !options.replicated) {
    auto to = replication_->destinations_for(repo);
    if (!to) return to.take_error();
    w.replicate_to = std::move(*to);
  }
  if (events_) w.events = events_->pushed(repo, w.digest, w.tags, w.media_type);
  if (auto r = backends_.meta.images().put_manifest(w); !r) {
    const auto& e = r.error_value();
    if (e.code == errc::tag_immutable) {
      return make_error(errc::tag_immutable,
                        "The image tag '" + std::get<tag_detail>(e.detail).tag + "' already exists in the '" + repo +
                            "' repository and cannot be overwritten because the tag is immutable.");
    }
    if (e.code == errc::image_already_exists) {
      return make_error(errc::image_already_exists,
                        "Image with digest '" + w.digest + "'" +
                            (w.tags.empty() ? std::string() : " and tag '" + w.tags.front() + "'") +
                            " already exists in the repository with name '" + repo + "' in registry with id '" +
                            registry_id() + "'");
    }
    if (e.code == errc::name_unknown) return repositories_.repository_not_found(repo);
    return r.take_error();  // manifest_blob_unknown, referenced_images_not_found: as they are
  }
  if (!w.events.empty()) events_->written();
  return pushed_manifest{w.digest, w.media_type, w.subject, w.tags};
}

result<void> registry::delete_manifest(const std::string& repo, const reference& ref) {
  if (const auto* d = std::get_if<digest>(&ref)) {
    auto removed = delete_image(repo, d->str(), "");
    if (!removed) return removed.take_error();
    return {};
  }
  const auto announce = events_ ? events_->deletions() : meta::deletion_events{};
  auto removed = backends_.meta.images().delete_tag(repo, std::get<std::string>(ref), &announce);
  if (!removed) return removed.take_error();
  if (!*removed) {
    if (auto r = require_repository(repo); !r) return r.take_error();
    return make_error(errc::manifest_unknown, "Requested image not found");
  }
  if (events_) events_->written();
  return {};
}

result<std::vector<image_id>> registry::delete_image(const std::string& repo, const std::string& digest_text,
                                                     const std::string& tag) {
  const auto announce = events_ ? events_->deletions() : meta::deletion_events{};
  auto removed = backends_.meta.images().delete_image(repo, digest_text, tag, &announce);
  if (!removed) {
    const auto& e = removed.error_value();
    if (e.code == errc::name_unknown) return repositories_.repository_not_found(repo);
    if (e.code == errc::image_referenced_by_index) {
      return make_error(errc::image_referenced_by_index,
                        "The image " + e.message + " is referenced by the manifest list " +
                            std::get<digest_detail>(e.detail).digest + " and cannot be deleted");
    }
    return removed.take_error();
  }
  std::vector<image_id> out;
  for (auto& r : *removed) out.push_back(image_id{std::move(r.digest), std::move(r.tag)});
  if (events_ && !out.empty()) events_->written();
  return out;
}

result<std::vector<image_id>> registry::expire_image(const std::string& repo, const std::string& digest) {
  std::vector<image_id> removed;
  auto referrers = backends_.meta.images().referrers(repo, digest);
  if (!referrers) return referrers.take_error();
  for (const auto& r : *referrers) {
    auto gone = expire_image(repo, r.digest);
    if (gone) removed.insert(removed.end(), gone->begin(), gone->end());
  }
  auto gone = delete_image(repo, digest, "");
  if (!gone) return gone.take_error();
  removed.insert(removed.end(), gone->begin(), gone->end());
  return removed;
}

result<std::string> registry::set_storage_class(const std::string& repo, const std::string& digest,
                                                const std::string& tag, bool archived) {
  if (auto r = require_repository(repo); !r) return r.take_error();
  std::string target = digest;
  if (target.empty()) {
    auto m = backends_.meta.images().manifest_by_tag(repo, tag);
    if (!m) return m.take_error();
    if (!*m) return make_error(errc::image_not_found, "Requested image not found");
    target = (*m)->digest;
  }
  auto changed = backends_.meta.images().set_storage_class(repo, target, archived, clock_.now_seconds());
  if (!changed) return changed.take_error();
  if (!*changed) return make_error(errc::image_not_found, "Requested image not found");
  return target;
}

result<std::vector<std::string>> registry::list_tags(const std::string& repo, const std::string& after,
                                                     std::size_t limit) {
  auto tags = backends_.meta.images().tags(repo, after, limit);
  if (!tags && tags.error_value().code == errc::name_unknown) return repositories_.repository_not_found(repo);
  return tags;
}

result<std::vector<std::string>> registry::list_repositories(const std::string& after, std::size_t limit) {
  return backends_.meta.repositories().names(after, limit);
}

result<std::vector<referrer_info>> registry::referrers(const std::string& repo, const digest& subject) {
  auto rows = backends_.meta.images().referrers(repo, subject.str());
  if (!rows) return rows.take_error();
  std::vector<referrer_info> out;
  for (auto& r : *rows) {
    out.push_back(referrer_info{std::move(r.digest), std::move(r.media_type), r.size, std::move(r.artifact_type),
                                std::move(r.annotations)});
  }
  return out;
}

result<page<image_info>> registry::images(const std::string& repo, image_filter filter, const std::string& after,
                                          std::size_t limit) {
  auto rows = backends_.meta.images().images(repo, to_meta(filter), after, limit + 1);
  if (!rows) {
    if (rows.error_value().code == errc::name_unknown) return repositories_.repository_not_found(repo);
    return rows.take_error();
  }
  page<image_info> out;
  const bool more = rows->size() > limit;
  if (more) rows->resize(limit);
  for (auto& r : *rows) out.items.push_back(info_from(std::move(r)));
  if (more && !out.items.empty()) out.next = out.items.back().digest;
  return out;
}

result<page<image_id>> registry::image_ids(const std::string& repo, image_filter filter, const std::string& after,
                                           std::size_t limit) {
  auto rows = backends_.meta.images().image_refs(repo, to_meta(filter), parse_image_id_cursor(after), limit + 1);
  if (!rows) {
    if (rows.error_value().code == errc::name_unknown) return repositories_.repository_not_found(repo);
    return rows.take_error();
  }
  page<image_id> out;
  const bool more = rows->size() > limit;
  if (more) rows->resize(limit);
  for (auto& r : *rows) out.items.push_back(image_id{std::move(r.digest), std::move(r.tag)});
  if (more && !out.items.empty()) out.next = image_id_cursor(out.items.back());
  return out;
}

result<std::optional<image_info>> registry::find_image(const std::string& repo, const std::string& digest,
                                                       const std::string& tag) {
  auto row = backends_.meta.images().find_image(repo, digest, tag);
  if (!row) {
    if (row.error_value().code == errc::name_unknown) return repositories_.repository_not_found(repo);
    return row.take_error();
  }
  if (!*row) return std::optional<image_info>();
  return std::optional<image_info>(info_from(std::move(**row)));
}

result<std::vector<image_info>> registry::all_images(const std::string& repo) {
  std::vector<image_info> out;
  std::string after;
  for (;;) {
    auto p = images(repo, image_filter::any, after, 1000);
    if (!p) return p.take_error();
    for (auto& i : p->items) out.push_back(std::move(i));
    if (p->next.empty()) return out;
    after = p->next;
  }
}

}  // namespace berth
