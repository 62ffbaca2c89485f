// Upload sessions: start, continue (from a checkpoint, by any process), commit, cancel, expire;
// and ECR's layer API over the same sessions.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <thread>
#include <vector>

#include "berth/meta/metadata_store.hpp"
#include "berth/registry/registry.hpp"
#include "berth/storage/blob_store.hpp"
#include "berth/storage/upload_store.hpp"
#include "blob_removal.hpp"

namespace berth {
namespace {

error upload_unknown() { return make_error(errc::blob_upload_unknown, "blob upload unknown to registry"); }

// A commit that finds garbage collection removing the same digest waits for it, this often at most.
constexpr int commit_attempts = 100;
constexpr auto commit_retry_pause = std::chrono::milliseconds(50);

}  // namespace

result<upload_status> registry::start_upload(const std::string& repo) {
  if (auto r = repositories_.require_for_push(repo); !r) return r.take_error();
  auto id = new_upload_id();
  // The session row first: the expiry sweep deletes upload files that have no row.
  auto created = backends_.meta.uploads().create(
      id, repo, clock_.now_seconds(), options_.max_upload_sessions_per_repository, backends_.uploads.epoch());
  if (!created) {
    if (created.error_value().code == errc::too_many_requests) {
      return make_error(errc::too_many_requests, "too many upload sessions in progress for repository " + repo +
                                                     " (limit " +
                                                     std::to_string(options_.max_upload_sessions_per_repository) + ")");
    }
    if (created.error_value().code == errc::name_unknown) return repositories_.repository_not_found(repo);
    return created.take_error();
  }
  if (auto r = backends_.uploads.create_upload(id); !r) {
    (void)backends_.meta.uploads().remove(id);
    return r.take_error();
  }
  return upload_status{id, repo, 0};
}

result<upload_status> registry::get_upload(const std::string& repo, const std::string& id) {
  if (!is_valid_upload_id(id)) return upload_unknown();
  auto row = backends_.meta.uploads().find(id);
  if (!row) return row.take_error();
  if (!*row || (*row)->repository != repo) return upload_unknown();
  return upload_status{id, repo, (*row)->size};
}

result<hasher> registry::rehash_upload(const std::string& id, digest_algorithm algorithm, std::uint64_t& size) {
  auto reader = backends_.uploads.read_upload(id);
  if (!reader) return reader.take_error();
  hasher h(algorithm);
  std::vector<char> buf(1 << 20);
  std::uint64_t total = 0;
  while (total < size) {
    auto n = (*reader)->read(buf.data(), static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), size - total)));
    if (!n) return n.take_error();
    if (*n == 0) break;
    h.update(buf.data(), *n);
    total += *n;
  }
  size = total;
  return h;
}

std::string registry::new_writer() {
  std::lock_guard lock(claims_mutex_);
  return writer_id_ + "/" + std::to_string(++writers_);
}

void registry::track_claim(const std::string& id, const std::string& writer, bool active) {
  std::lock_guard lock(claims_mutex_);
  if (active) {
    active_claims_.emplace(id, writer);
  } else {
    active_claims_.erase({id, writer});
  }
}

void registry::renew_upload_claims() {
  std::set<std::pair<std::string, std::string>> claims;
  {
    std::lock_guard lock(claims_mutex_);
    claims = active_claims_;
  }
  const auto now = clock_.now_seconds();
  // A session may close between the copy above and its renewal: renew() then finds its claim
  // released and leaves it so (claim() here would hold it for a writer that is gone).
  for (const auto& [id, writer] : claims) {
    (void)backends_.meta.uploads().renew(id, writer, now + options_.upload_claim_seconds);
  }
}

result<meta::upload_row> registry::claim_session(const std::string& repo, const std::string& id,
                                                 const std::string& writer, const char* busy_message) {
  if (!is_valid_upload_id(id)) return upload_unknown();
  auto& uploads = backends_.meta.uploads();
  const auto now = clock_.now_seconds();
  auto row = uploads.claim(id, writer, now, now + options_.upload_claim_seconds);
  if (!row) {
    if (row.error_value().code == errc::busy) return make_error(errc::blob_upload_invalid, busy_message);
    if (row.error_value().code == errc::blob_upload_unknown) return upload_unknown();
    return row.take_error();
  }
  if (row->repository != repo) {
    uploads.release(id, writer);
    return upload_unknown();  // another repository's session is no session of this one
  }
  return row;
}

result<std::unique_ptr<upload_session>> registry::resume_upload(const std::string& repo, const std::string& id,
                                                                std::optional<byte_range> content_range,
                                                                digest_algorithm algorithm) {
  auto& uploads = backends_.meta.uploads();
  // Each request is its own writer: two requests of one process exclude each other too.
  const auto writer = new_writer();
  auto row = claim_session(repo, id, writer, "another request is writing to this upload");
  if (!row) return row.take_error();
  // Where the hash continues from. A checkpoint is trusted in the store's epoch (bytes the store
  // flushed are still there) and for the algorithm it was taken with; otherwise the session's
  // bytes are hashed again: after a machine restart, an upgrade, or a client that asks for sha512
  // at the end of an upload it began without saying.
  const std::string epoch = backends_.uploads.epoch();
  std::optional<hasher> hash;
  std::uint64_t offset = row->size;
  if (row->store_epoch == epoch) {
    if (row->hash_state.empty() && row->size == 0) {
      hash.emplace(algorithm);
    } else if (auto imported = hasher::import_state(row->hash_state);
               imported && imported->algorithm() == algorithm && imported->bytes_hashed() == row->size) {
      hash.emplace(std::move(imported).value());
    }
  }
  if (!hash) {
    std::uint64_t held = row->store_epoch == epoch ? row->size : UINT64_MAX;
    auto rehashed = rehash_upload(id, algorithm, held);
    if (!rehashed) {
      uploads.release(id, writer);
      return rehashed.take_error();
    }
    hash.emplace(std::move(rehashed).value());
    offset = held;
  }
  if (content_range && content_range->first != offset) {
    uploads.release(id, writer);
    return make_error(errc::upload_out_of_order, "chunk does not start at the end of the upload",
                      upload_detail{repo, id, offset});
  }
  auto session = std::make_unique<upload_session>(upload_session::place{repo, id, writer, epoch}, uploads, clock_,
                                                  std::move(*hash));
  auto sink = backends_.uploads.open_upload(id, offset, session->hash_);
  if (!sink && sink.error_value().code == errc::upload_out_of_order) {
    // The store holds fewer bytes than the checkpoint says: trust the bytes, hash them again.
    std::uint64_t held = UINT64_MAX;
    auto rehashed = rehash_upload(id, algorithm, held);
    if (!rehashed) return rehashed.take_error();
    session->hash_ = std::move(rehashed).value();
    offset = held;
    if (content_range && content_range->first != offset) {
      return make_error(errc::upload_out_of_order, "chunk does not start at the end of the upload",
                        upload_detail{repo, id, offset});
    }
    sink = backends_.uploads.open_upload(id, offset, session->hash_);
  }
  if (!sink) return sink.take_error();  // the session releases its claim
  session->attach(std::move(sink).value(), row->size);
  track_claim(id, writer, true);
  session->on_close([this, id, writer] { track_claim(id, writer, false); });
  return session;
}

void registry::discard_session(upload_session& session) {
  backends_.uploads.remove_upload(session.id());
  (void)backends_.meta.uploads().remove(session.id());
  session.forget();
}

result<void> registry::commit_session(upload_session& session, const digest& d) {
  const auto id = session.id();
  const auto repo = session.repository();
  const auto size = static_cast<std::int64_t>(session.size());
  blob_removal removal(backends_, clock_, writer_id_);
  // A collection is removing these very bytes: let it finish (or finish it, if it died), then
  // commit again from the session, which still holds them.
  auto wait_for_removal = [&] {
    if (auto taken = removal.take_over(d); taken && *taken) return;
    std::this_thread::sleep_for(commit_retry_pause);
  };
  for (int attempt = 0; attempt < commit_attempts; ++attempt) {
    // Announced, then bytes durable at the address, then the record. A removal that had begun
    // could move bytes written now and finish before the record (which would then name removed
    // bytes): the announcement waits for it; one not yet begun does not begin until the session
    // ends. And record() refuses a marked blob.
    if (auto reserved =
            backends_.meta.uploads().reserve_commit(id, d.str(), clock_.now_seconds() + blob_removal::mark_seconds);
        !reserved) {
      if (reserved.error_value().code != errc::busy) return reserved;  // nothing written: the session stays
      wait_for_removal();
      continue;
    }
    if (auto r = session.sink().commit(d); !r) {
      discard_session(session);  // the session's file may now share bytes with the blob: never reuse it
      return r;
    }
    auto recorded = backends_.meta.blobs().record(meta::blob_record{repo, d.str(), size, clock_.now_seconds(), id});
    if (recorded) {
      backends_.uploads.remove_upload(id);
      session.forget();
      return {};
    }
    if (recorded.error_value().code != errc::busy) {
      discard_session(session);
      if (recorded.error_value().code == errc::name_unknown) return repositories_.repository_not_found(repo);
      return recorded;
    }
    wait_for_removal();
  }
  discard_session(session);
  return make_error(errc::too_many_requests, "garbage collection is removing this blob; push it again");
}

result<void> registry::complete_upload(std::unique_ptr<upload_session> session, const digest& expected) {
  auto actual = session->finish_hash();
  if (!actual) return actual.take_error();
  if (actual->algorithm() != expected.algorithm()) {
    // The session was written without knowing the final algorithm (a PATCH, then a PUT with a
    // sha512 digest): hash its bytes once more with the one asked for.
    std::uint64_t size = session->size();
    auto again = rehash_upload(session->id(), expected.algorithm(), size);
    if (!again) return again.take_error();
    if (size != session->size()) return make_error(errc::internal, "the upload changed while it was hashed");
    actual = again->peek();
  }
  if (*actual != expected) {
    discard_session(*session);
    return make_error(errc::digest_invalid, "provided digest did not match uploaded content",
                      digest_detail{expected.str()});
  }
  return commit_session(*session, expected);
}

result<digest> registry::upload_digest(upload_session& session) { return session.finish_hash(); }

result<void> registry::cancel_upload(const std::string& repo, const std::string& id) {
  auto& uploads = backends_.meta.uploads();
  const auto writer = new_writer();
  auto row = claim_session(repo, id, writer, "upload is in use");
  if (!row) return row.take_error();
  // The file first: on a full disk, removing it is what makes room for the metadata change.
  backends_.uploads.remove_upload(id);
  auto removed = uploads.remove(id);
  uploads.release(id, writer);
  return removed;
}

std::size_t registry::expire_uploads() {
  std::size_t removed = 0;
  auto& uploads = backends_.meta.uploads();
  const auto now = clock_.now_seconds();
  if (auto idle = uploads.idle_since(now - options_.upload_expiry_seconds, now)) {
    const auto writer = new_writer();
    for (const auto& u : *idle) {
      if (!uploads.claim(u.id, writer, now, now + options_.upload_claim_seconds)) continue;
      backends_.uploads.remove_upload(u.id);
      (void)uploads.remove(u.id);
      uploads.release(u.id, writer);
      ++removed;
    }
  }
  // Upload files with no session row: left by a crash, or by a cancel between its two steps.
  // Files are listed before rows: a session's row exists before its file, so a file listed here
  // whose session is live has a row in the list that follows.
  auto files = backends_.uploads.list_uploads();
  if (auto ids = uploads.ids()) {
    std::set<std::string> known(ids->begin(), ids->end());
    for (const auto& id : files) {
      if (!known.count(id)) {
        backends_.uploads.remove_upload(id);
        ++removed;
      }
    }
  }
  return removed;
}

// ---- ECR's layer API -----------------------------------------------------------------------------

namespace {

error layer_upload_not_found(const std::string& registry_id, const std::string& repo, const std::string& id) {
  return make_error(errc::blob_upload_unknown, "The upload with id '" + id +
                                                   "' does not exist in the repository with name '" + repo +
                                                   "' in the registry with id '" + registry_id + "'");
}

}  // namespace

result<std::uint64_t> registry::upload_layer_part(const std::string& repo, const std::string& id, std::uint64_t first,
                                                  std::uint64_t last, std::string_view bytes) {
  if (auto r = require_repository(repo); !r) return r.take_error();
  auto status = get_upload(repo, id);
  if (!status) return layer_upload_not_found(registry_id(), repo, id);
  auto part_error = [&](std::uint64_t held, const std::string& why) {
    return make_error(errc::invalid_layer_part, why, upload_detail{repo, id, held});
  };
  if (last < first || last - first + 1 != bytes.size()) {
    return part_error(status->size, "The part's byte range does not match the length of layerPartBlob");
  }
  auto session = resume_upload(repo, id, byte_range{first, last});
  if (!session) {
    const auto& e = session.error_value();
    if (e.code == errc::upload_out_of_order) {
      const auto held = std::get<upload_detail>(e.detail).size;
      return part_error(held, "The part does not start at the next byte of the upload (" + std::to_string(held) + ")");
    }
    if (e.code == errc::blob_upload_unknown) return layer_upload_not_found(registry_id(), repo, id);
    return session.take_error();
  }
  if (auto r = (*session)->write(bytes.data(), bytes.size()); !r) return r.take_error();
  if (auto r = (*session)->checkpoint(static_cast<std::int64_t>(bytes.size()), min_layer_part_size); !r) {
    return r.take_error();
  }
  return (*session)->size();
}

result<void> registry::complete_layer_upload(const std::string& repo, const std::string& id, const digest& d) {
  if (auto r = require_repository(repo); !r) return r.take_error();
  if (!is_valid_upload_id(id)) return layer_upload_not_found(registry_id(), repo, id);
  auto row = backends_.meta.uploads().find(id);
  if (!row) return row.take_error();
  if (!*row || (*row)->repository != repo) return layer_upload_not_found(registry_id(), repo, id);
  if ((*row)->size == 0) {
    return make_error(errc::empty_upload, "The upload with id '" + id + "' does not contain any layer parts");
  }
  if ((*row)->small_part_followed) {
    return make_error(errc::layer_part_too_small, "Layer parts must be at least 5 MiB in size, except the last part");
  }
  if (blob_size(repo, d)) {
    (void)cancel_upload(repo, id);
    return make_error(errc::layer_already_exists, "The layer with digest " + d.str() +
                                                      " already exists in the repository with name '" + repo + "'");
  }
  auto session = resume_upload(repo, id, std::nullopt, d.algorithm());
  if (!session) return session.take_error();
  if (auto r = complete_upload(std::move(*session), d); !r) {
    if (r.error_value().code == errc::digest_invalid) {
      return make_error(errc::invalid_layer, "The calculated digest of the upload does not match " + d.str());
    }
    return r;
  }
  return {};
}

}  // namespace berth
