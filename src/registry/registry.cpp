#include "berth/registry/registry.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <set>

namespace berth {
namespace {

error upload_unknown() { return make_error(errc::blob_upload_unknown, "blob upload unknown to registry"); }

}  // namespace

registry::registry(storage::blob_store& blobs, meta::meta_index& meta, repository_catalog& repositories,
                   const clock& clk, registry_options options)
    : blobs_(blobs), meta_(meta), repositories_(repositories), clock_(clk), options_(options) {}

result<void> registry::require_repository(const std::string& repo) {
  auto exists = meta_.repository_exists(repo);
  if (!exists) return exists.take_error();
  if (!*exists) return repositories_.repository_not_found(repo);
  return {};
}

// ---- blobs -----------------------------------------------------------------------------------

result<std::uint64_t> registry::blob_size(const std::string& repo, const digest& d) {
  auto size = meta_.linked_blob_size(repo, d.str());
  if (!size) return size.take_error();
  if (!*size) {
    if (auto r = require_repository(repo); !r) return r.take_error();
    return make_error(errc::blob_unknown, "blob unknown to registry", digest_detail{d.str()});
  }
  return static_cast<std::uint64_t>(**size);
}

result<storage::opened_blob> registry::open_blob(const std::string& repo, const digest& d) {
  auto size = blob_size(repo, d);
  if (!size) return size.take_error();
  return blobs_.open_blob(d);
}

result<void> registry::delete_blob(const std::string& repo, const digest& d) {
  auto removed = meta_.unlink_blob(repo, d.str());
  if (!removed) return removed.take_error();
  if (!*removed) return make_error(errc::blob_unknown, "blob unknown to registry");
  return {};
}

result<bool> registry::mount_blob(const std::string& repo, const std::string& from, const digest& d) {
  if (auto r = repositories_.require_for_push(repo); !r) return r.take_error();
  if (!is_valid_repository_name(from) || !repositories_.blob_mounting_enabled()) return false;
  if (!blobs_.has_blob(d)) return false;
  return meta_.mount_blob(repo, from, d.str(), clock_.now_seconds());
}

// ---- uploads ---------------------------------------------------------------------------------

std::shared_ptr<upload_progress> registry::progress_for(const std::string& id) {
  std::lock_guard lock(progress_mutex_);
  auto& p = progress_[id];
  if (!p) p = std::make_shared<upload_progress>();
  return p;
}

void registry::forget_progress(const std::string& id) {
  std::lock_guard lock(progress_mutex_);
  progress_.erase(id);
}

result<upload_status> registry::start_upload(const std::string& repo) {
  if (auto r = repositories_.require_for_push(repo); !r) return r.take_error();
  auto open = meta_.count_uploads(repo);
  if (!open) return open.take_error();
  if (*open >= options_.max_upload_sessions_per_repository) {
    return make_error(errc::too_many_requests, "too many upload sessions in progress for repository " + repo +
                                                   " (limit " +
                                                   std::to_string(options_.max_upload_sessions_per_repository) + ")");
  }
  auto id = new_upload_id();
  // The session row first: the expiry sweep deletes upload files that have no row.
  if (auto r = meta_.create_upload(id, repo, clock_.now_seconds()); !r) return r.take_error();
  if (auto r = blobs_.create_upload(id); !r) {
    (void)meta_.delete_upload(id);
    return r.take_error();
  }
  return upload_status{id, repo, 0};
}

result<upload_status> registry::get_upload(const std::string& repo, const std::string& id) {
  if (!is_valid_upload_id(id)) return upload_unknown();
  auto row = meta_.find_upload(id);
  if (!row) return row.take_error();
  if (!*row || (*row)->repository != repo) return upload_unknown();
  auto size = blobs_.upload_size(id);
  if (!size) return size.take_error();
  return upload_status{id, repo, *size};
}

result<std::unique_ptr<upload_writer>> registry::resume_upload(const std::string& repo, const std::string& id,
                                                               std::optional<byte_range> content_range,
                                                               digest_algorithm algorithm) {
  auto status = get_upload(repo, id);
  if (!status) return status.take_error();
  auto progress = progress_for(id);
  std::unique_lock lock(progress->busy, std::try_to_lock);
  if (!lock.owns_lock()) {
    return make_error(errc::blob_upload_invalid, "another request is writing to this upload");
  }
  auto file = blobs_.open_upload_for_append(id);
  if (!file) return file.take_error();
  auto size = blobs_.upload_size(id);  // after taking the lock: no writer can move it now
  if (!size) return size.take_error();
  if (content_range && content_range->first != *size) {
    return make_error(errc::upload_out_of_order, "chunk does not start at the end of the upload",
                      upload_detail{repo, id, *size});
  }
  // Bring the running hash up to the file's end (after a restart, or after a failed write).
  if (!progress->running || progress->hashed_bytes != *size || progress->running->algorithm() != algorithm) {
    auto h = hash_upload_file(id, algorithm, *size);
    if (!h) return h.take_error();
    progress->running = std::move(h).value();
    progress->hashed_bytes = *size;
  }
  (void)meta_.touch_upload(id, clock_.now_seconds());
  auto direct = blobs_.open_upload_direct(id);
  return std::make_unique<upload_writer>(repo, id, std::move(file).value(),
                                         direct ? std::move(direct).value() : storage::file_handle(), *size, progress,
                                         std::move(lock), &disk_io_);
}

result<hasher> registry::hash_upload_file(const std::string& id, digest_algorithm algorithm, std::uint64_t size) {
  auto reader = blobs_.open_upload_for_read(id);
  if (!reader) return reader.take_error();
  hasher h(algorithm);
  std::vector<char> buf(1 << 20);
  std::uint64_t total = 0;
  while (total < size) {
    ssize_t n =
        ::read(reader->get(), buf.data(), static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), size - total)));
    if (n <= 0) return make_error(errc::internal, "re-reading upload failed");
    h.update(buf.data(), static_cast<std::size_t>(n));
    total += static_cast<std::uint64_t>(n);
  }
  return h;
}

result<void> registry::complete_upload(std::unique_ptr<upload_writer> writer, const digest& expected) {
  if (auto r = writer->flush(); !r) return r;
  const std::string id = writer->id();
  const std::string repo = writer->repository();
  auto& progress = writer->progress();
  digest actual;
  if (progress.running && progress.running->algorithm() == expected.algorithm() &&
      progress.hashed_bytes == writer->size()) {
    actual = progress.running->peek();
  } else {
    auto h = hash_upload_file(id, expected.algorithm(), writer->size());
    if (!h) return h.take_error();
    actual = h->peek();
  }
  auto discard = [&] {
    writer.reset();
    blobs_.remove_upload(id);
    (void)meta_.delete_upload(id);
    forget_progress(id);
  };
  if (actual != expected) {
    discard();
    return make_error(errc::digest_invalid, "provided digest did not match uploaded content",
                      digest_detail{expected.str()});
  }
  const auto size = writer->size();
  // Bytes durable first (fsync, no lock held); then, inside the metadata transaction, the rename that
  // makes them visible: garbage collection takes the same write lock, so it can never remove a file
  // that a commit is publishing. A crash after the rename but before the commit leaves an
  // unrecorded blob file (swept later), never a record of missing bytes.
  if (auto r = blobs_.sync_upload(id); !r) return r;
  auto recorded = meta_.record_blob(repo, expected.str(), static_cast<std::int64_t>(size), clock_.now_seconds(),
                                    [&]() { return blobs_.publish_upload(id, expected); });
  if (!recorded) {
    if (recorded.error_value().code == errc::name_unknown) return repositories_.repository_not_found(repo);
    return recorded;
  }
  (void)meta_.delete_upload(id);
  writer.reset();
  forget_progress(id);
  return {};
}

result<void> registry::cancel_upload(const std::string& repo, const std::string& id) {
  auto status = get_upload(repo, id);
  if (!status) return status.take_error();
  auto progress = progress_for(id);
  std::unique_lock lock(progress->busy, std::try_to_lock);
  if (!lock.owns_lock()) return make_error(errc::blob_upload_invalid, "upload is in use");
  // The file first: on a full disk, removing it is what makes room for the metadata change.
  blobs_.remove_upload(id);
  if (auto r = meta_.delete_upload(id); !r) return r;
  lock.unlock();
  forget_progress(id);
  return {};
}

std::size_t registry::expire_uploads() {
  std::size_t removed = 0;
  auto idle = meta_.uploads_idle_since(clock_.now_seconds() - options_.upload_expiry_seconds);
  if (idle) {
    for (const auto& u : *idle) {
      auto progress = progress_for(u.id);
      std::unique_lock lock(progress->busy, std::try_to_lock);
      if (!lock.owns_lock()) continue;
      blobs_.remove_upload(u.id);
      (void)meta_.delete_upload(u.id);
      lock.unlock();
      forget_progress(u.id);
      ++removed;
    }
  }
  // Upload files with no session row: left by a crash, or by a cancel between its two steps.
  auto all = meta_.all_uploads();
  if (all) {
    std::set<std::string> known;
    for (const auto& u : *all) known.insert(u.id);
    for (const auto& id : blobs_.list_uploads()) {
      if (!known.count(id)) {
        blobs_.remove_upload(id);
        ++removed;
      }
    }
  }
  return removed;
}

// ---- manifests -------------------------------------------------------------------------------

result<manifest_content> registry::get_manifest(const std::string& repo, const reference& ref, bool pull) {
  result<std::optional<meta::manifest_row>> row = std::holds_alternative<digest>(ref)
                                                      ? meta_.manifest_by_digest(repo, std::get<digest>(ref).str())
                                                      : meta_.manifest_by_tag(repo, std::get<std::string>(ref));
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
  if (auto r = meta_.record_pulls(batch, clock_.now_seconds()); !r) {
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
  if (options.reject_existing_tag && !tags.empty()) {
    auto existing = meta_.manifest_by_tag(repo, tags.front());
    if (!existing) return existing.take_error();
    if (*existing && (*existing)->digest == d.str()) {
      return make_error(errc::image_already_exists, "Image with digest '" + d.str() + "' and tag '" + tags.front() +
                                                        "' already exists in the repository with name '" + repo +
                                                        "' in registry with id '" + repositories_.registry_id() + "'");
    }
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
  if (auto r = meta_.put_manifest(w); !r) {
    if (r.error_value().code == errc::tag_immutable) {
      return make_error(errc::tag_immutable,
                        "The image tag '" + std::get<tag_detail>(r.error_value().detail).tag + "' already exists in the '" + repo +
                            "' repository and cannot be overwritten because the tag is immutable.");
    }
    if (r.error_value().code == errc::name_unknown) return repositories_.repository_not_found(repo);
    return r.take_error();
  }
  return pushed_manifest{w.digest, w.media_type, w.subject, w.tags};
}

result<void> registry::delete_manifest(const std::string& repo, const reference& ref) {
  if (const auto* d = std::get_if<digest>(&ref)) {
    auto removed = delete_image(repo, d->str(), "");
    if (!removed) return removed.take_error();
    return {};
  }
  auto removed = meta_.delete_tag(repo, std::get<std::string>(ref));
  if (!removed) return removed.take_error();
  if (!*removed) {
    if (auto r = require_repository(repo); !r) return r.take_error();
    return make_error(errc::manifest_unknown, "Requested image not found");
  }
  return {};
}

result<std::vector<image_id>> registry::delete_image(const std::string& repo, const std::string& digest_text,
                                                     const std::string& tag) {
  if (auto r = require_repository(repo); !r) return r.take_error();
  std::string target = digest_text;
  if (target.empty()) {
    auto m = meta_.manifest_by_tag(repo, tag);
    if (!m) return m.take_error();
    if (!*m) return make_error(errc::image_not_found, "Requested image not found");
    target = (*m)->digest;
  } else {
    auto m = meta_.manifest_by_digest(repo, target);
    if (!m) return m.take_error();
    if (!*m) return make_error(errc::image_not_found, "Requested image not found");
    if (!tag.empty()) {
      auto t = meta_.manifest_by_tag(repo, tag);
      if (!t) return t.take_error();
      if (!*t || (*t)->digest != target) {
        return make_error(errc::image_digest_mismatch, "The image tag does not match the image digest");
      }
    }
  }
  auto images = meta_.images(repo);
  if (!images) return images.take_error();
  std::vector<std::string> tags_of_target;
  for (const auto& i : *images) {
    if (i.digest == target) tags_of_target = i.tags;
  }
  std::vector<image_id> removed;
  if (!tag.empty() && digest_text.empty() && tags_of_target.size() > 1) {
    // Only this tag goes; the image keeps its other tags.
    auto r = meta_.delete_tag(repo, tag);
    if (!r) return r.take_error();
    removed.push_back(image_id{target, tag});
    return removed;
  }
  auto parents = meta_.parent_indexes(repo, target);
  if (!parents) return parents.take_error();
  if (!parents->empty()) {
    return make_error(errc::image_referenced_by_index, "The image " + target + " is referenced by the manifest list " +
                                                           parents->front() + " and cannot be deleted");
  }
  auto r = meta_.delete_manifest(repo, target);
  if (!r) return r.take_error();
  if (tags_of_target.empty()) {
    removed.push_back(image_id{target, ""});
  } else {
    for (const auto& t : tags_of_target) removed.push_back(image_id{target, t});
  }
  return removed;
}

result<std::vector<image_id>> registry::expire_image(const std::string& repo, const std::string& digest) {
  std::vector<image_id> removed;
  auto referrers = meta_.referrer_digests(repo, digest);
  if (!referrers) return referrers.take_error();
  for (const auto& r : *referrers) {
    auto gone = expire_image(repo, r);
    if (gone) removed.insert(removed.end(), gone->begin(), gone->end());
  }
  auto gone = delete_image(repo, digest, "");
  if (!gone) return gone.take_error();
  removed.insert(removed.end(), gone->begin(), gone->end());
  return removed;
}

result<void> registry::set_storage_class(const std::string& repo, const std::string& digest, bool archived) {
  if (auto r = require_repository(repo); !r) return r;
  auto changed = meta_.set_storage_class(repo, digest, archived, clock_.now_seconds());
  if (!changed) return changed.take_error();
  if (!*changed) return make_error(errc::image_not_found, "Requested image not found");
  return {};
}

void registry::recover() {
  for (const auto& d : blobs_.trashed_blobs()) {
    auto row = meta_.find_blob(d.str());
    if (row && *row) {
      // The collection never committed: the blob is still recorded, so it must stay.
      if (auto r = blobs_.restore_blob(d); !r)
        spdlog::error("restoring {} from trash failed: {}", d.str(), r.error_value().message);
      else
        spdlog::warn("restored blob {} from an interrupted garbage collection", d.str());
    } else if (row) {
      blobs_.purge_blob(d);
    }
  }
}

result<std::vector<std::string>> registry::list_tags(const std::string& repo, const std::string& after,
                                                     std::size_t limit) {
  if (auto r = require_repository(repo); !r) return r.take_error();
  return meta_.list_tags(repo, after, limit);
}

result<std::vector<std::string>> registry::list_repositories(const std::string& after, std::size_t limit) {
  return meta_.list_repositories(after, limit);
}

result<std::vector<meta::referrer_row>> registry::referrers(const std::string& repo, const digest& subject) {
  return meta_.referrers(repo, subject.str());
}

}  // namespace berth
