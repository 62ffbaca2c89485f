// The pull-through cache's blobs: one fetch per blob, streamed to the client while it is written
// to an upload session and verified (see pull_through_cache.hpp); the rules, manifests, referrers
// and imports are in pull_through_cache.cpp.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "berth/registry/pull_through_cache.hpp"
#include "berth/registry/upload_session.hpp"

namespace berth {
namespace {

constexpr std::size_t drain_chunk = 1 << 20;

// Not here: the blob, or its whole repository (the first pull may ask for a blob first).
bool missing_here(const error& e) { return e.code == errc::blob_unknown || e.code == errc::name_unknown; }

}  // namespace

// One fetch of one blob into one repository; waiters sleep on it.
struct pull_through_cache::flight {
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  std::optional<error> failure;
};

// A blob arriving from the upstream: read once, in order, by the client (or drained by a worker);
// every byte read is written to an upload session, and the digest is verified before the last
// bytes are handed out, so a lying upstream's bytes never complete a response or reach storage.
class pull_through_cache::teeing_blob final : public blob_content, public byte_reader {
 public:
  teeing_blob(pull_through_cache& cache, std::string repository, digest d, upstream_blob body,
              std::unique_ptr<upload_session> session, std::string key, std::shared_ptr<flight> f)
      : cache_(cache),
        repository_(std::move(repository)),
        digest_(std::move(d)),
        size_(body.size),
        body_(std::move(body.body)),
        session_(std::move(session)),
        key_(std::move(key)),
        flight_(std::move(f)) {}

  ~teeing_blob() override {
    if (!landed_) end(make_error(errc::upstream_unavailable, "the fetch of " + digest_.str() + " stopped early"));
  }

  std::uint64_t size() const override { return size_; }

  result<byte_source> bytes(std::uint64_t offset, std::uint64_t length, bool may_redirect) override {
    if (offset == 0 && length == size_ && !handed_out_ && !landed_) {
      handed_out_ = true;
      return byte_source(stream_source{std::shared_ptr<byte_reader>(self_.lock(), this), size_, true});
    }
    // A range, or a second reader: the whole blob first, then its bytes from here.
    if (auto r = drain(); !r) return r.take_error();
    auto local = cache_.reg_.open_blob(repository_, digest_);
    if (!local) return local.take_error();
    return (*local)->bytes(offset, length, may_redirect);
  }

  result<std::size_t> read(char* out, std::size_t want) override {
    if (landed_) return failure_ ? result<std::size_t>(*failure_) : result<std::size_t>(std::size_t{0});
    if (verified_) {
      // Past the end, every byte sent: now the blob is made durable and recorded. A client that
      // leaves first leaves it unstored (the import fetches it again).
      auto committed = cache_.reg_.complete_upload(std::move(session_), digest_);
      if (!committed) {
        return end(make_error(errc::upstream_unavailable,
                              "storing " + digest_.str() + " failed: " + committed.error_value().message));
      }
      landed_ = true;
      cache_.land(key_, flight_, std::nullopt);
      return std::size_t{0};
    }
    const auto left = size_ - received_;
    // A socket read gives what has arrived (often a few KiB): fill the caller's buffer, so each
    // chunk costs one hash update, one write to the upload and one write to the client.
    const auto goal = static_cast<std::size_t>(std::min<std::uint64_t>(want, left));
    result<std::size_t> n = std::size_t{0};
    for (std::size_t filled = 0; filled < goal;) {
      auto got = body_->read(out + filled, goal - filled);
      if (!got || *got == 0) {
        n = filled > 0 ? result<std::size_t>(filled) : got;
        break;
      }
      filled += *got;
      n = filled;
    }
    if (!n)
      return end(make_error(errc::upstream_unavailable,
                            "reading " + digest_.str() + " from the upstream failed: " + n.error_value().message));
    if (*n == 0) {
      return end(make_error(errc::upstream_unavailable, "the upstream ended " + digest_.str() + " after " +
                                                            std::to_string(received_) + " of " + std::to_string(size_) +
                                                            " bytes"));
    }
    if (auto w = session_->write(out, *n); !w) return end(w.error_value());
    received_ += *n;
    if (received_ == size_) {
      // The last bytes wait for the verdict: a digest mismatch fails the read instead. The commit
      // (an fsync, the metadata) waits for the read past the end, after the client has them.
      auto actual = cache_.reg_.upload_digest(*session_);
      if (!actual || *actual != digest_) {
        const auto why = actual ? "its digest is " + actual->str() : actual.error_value().message;
        spdlog::error("pull-through cache: {} from the upstream of {} is not what it claims ({}); nothing stored",
                      digest_.str(), repository_, why);
        return end(make_error(errc::upstream_unavailable,
                              "the upstream's bytes for " + digest_.str() + " do not match their digest"));
      }
      verified_ = true;
    }
    return *n;
  }

  result<void> drain() {
    std::vector<char> buf(drain_chunk);
    for (;;) {
      auto n = read(buf.data(), buf.size());
      if (!n) return n.take_error();
      if (*n == 0) return {};
    }
  }

  void bind(const std::shared_ptr<teeing_blob>& self) { self_ = self; }

 private:
  error end(error e) {
    if (!landed_) {
      landed_ = true;
      failure_ = e;
      if (session_) {
        const auto id = session_->id();
        session_.reset();
        (void)cache_.reg_.cancel_upload(repository_, id);
      }
      cache_.land(key_, flight_, e);
    }
    return e;
  }

  pull_through_cache& cache_;
  std::string repository_;
  digest digest_;
  std::uint64_t size_;
  std::unique_ptr<byte_reader> body_;
  std::unique_ptr<upload_session> session_;
  std::string key_;
  std::shared_ptr<flight> flight_;
  std::weak_ptr<teeing_blob> self_;
  std::uint64_t received_ = 0;
  bool handed_out_ = false;
  bool landed_ = false;
  bool verified_ = false;  // every byte received and its digest checked; the commit comes next
  std::optional<error> failure_;
};

void pull_through_cache::land(const std::string& key, const std::shared_ptr<flight>& f, std::optional<error> failure) {
  {
    std::lock_guard lock(mutex_);
    auto it = flights_.find(key);
    if (it != flights_.end() && it->second == f) flights_.erase(it);
  }
  std::lock_guard lock(f->m);
  f->done = true;
  f->failure = std::move(failure);
  f->cv.notify_all();
}

result<std::shared_ptr<blob_content>> pull_through_cache::fetch_blob(const std::string& repository, const digest& d,
                                                                     bool streaming) {
  const auto key = repository + "@" + d.str();
  std::optional<error> last;
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto local = reg_.open_blob(repository, d);
    if (local || !missing_here(local.error_value())) return local;
    std::shared_ptr<flight> f;
    bool mine = false;
    {
      std::lock_guard lock(mutex_);
      auto& slot = flights_[key];
      if (!slot) {
        slot = std::make_shared<flight>();
        mine = true;
      }
      f = slot;
    }
    if (!mine) {
      // Someone is fetching it: wait for that fetch, then look again.
      std::unique_lock lock(f->m);
      f->cv.wait(lock, [&] { return f->done; });
      if (f->failure) last = f->failure;
      continue;
    }
    auto fail = [&](error e) {
      land(key, f, e);
      return e;
    };
    auto t = target_of(repository);
    if (!t) return fail(make_error(errc::blob_unknown, "blob unknown to registry", digest_detail{d.str()}));
    auto up = upstream_for(*t);
    if (!up) return fail(up.error_value());
    auto body = (*up)->blob(t->repository, d);
    if (!body) return fail(body.error_value());
    if (auto r = reg_.repositories().require_for_cache(repository); !r) return fail(r.error_value());
    auto started = reg_.start_upload(repository);
    if (!started) return fail(started.error_value());
    auto session = reg_.resume_upload(repository, started->id, std::nullopt, d.algorithm());
    if (!session) return fail(session.error_value());
    (*session)->expect(body->size);
    auto tee = std::make_shared<teeing_blob>(*this, repository, d, std::move(*body), std::move(*session), key, f);
    tee->bind(tee);
    if (streaming) return std::shared_ptr<blob_content>(tee);
    if (auto r = tee->drain(); !r) return r.take_error();
    return reg_.open_blob(repository, d);
  }
  if (last) return *last;
  return make_error(errc::upstream_unavailable, "fetching " + d.str() + " from the upstream failed");
}

result<std::shared_ptr<blob_content>> pull_through_cache::blob(const std::string& repository, const digest& d) {
  return fetch_blob(repository, d, true);
}

result<std::uint64_t> pull_through_cache::blob_size(const std::string& repository, const digest& d) {
  auto local = reg_.blob_size(repository, d);
  if (local || !missing_here(local.error_value())) return local;
  auto t = target_of(repository);
  if (!t) return local;
  auto up = upstream_for(*t);
  if (!up) return up.take_error();
  return (*up)->blob_size(t->repository, d);
}

}  // namespace berth
