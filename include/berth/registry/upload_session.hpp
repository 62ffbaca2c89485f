// One request's turn at an upload session: it holds the session's claim (one writer at a time),
// the running hash and the blob store's sink, and checkpoints size and hash when the request ends,
// so any process can continue the upload without re-reading its bytes.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "berth/core/clock.hpp"
#include "berth/core/digest.hpp"

namespace berth {

namespace storage {
class upload_sink;
}
namespace meta {
class upload_index;
}

class upload_session {
 public:
  struct place {
    std::string repository;
    std::string id;
    std::string writer;       // this process's claim
    std::string store_epoch;  // the blob store's epoch, recorded with each checkpoint
  };
  upload_session(place where, meta::upload_index& uploads, const clock& clk, hasher hash);
  // Checkpoints what was written (bytes a client sent before it left are kept) and releases the
  // claim; after a failed write, only releases it (the next request continues from the last
  // checkpoint).
  ~upload_session();
  upload_session(const upload_session&) = delete;
  upload_session& operator=(const upload_session&) = delete;

  // How many bytes this request will bring (nullopt: unknown).
  void expect(std::optional<std::uint64_t> length);
  // Where the next bytes may be received so that write() need not copy them (empty: anywhere).
  std::span<char> receive_buffer();
  // Appends and hashes.
  result<void> write(const char* data, std::size_t size);
  // Makes every byte written so far part of the session and records it (size and hash); call
  // before answering the request. `part_size`: an ECR layer part's size, with the API's minimum.
  result<void> checkpoint(std::optional<std::int64_t> part_size = std::nullopt, std::int64_t min_part_size = 0);

  const std::string& repository() const { return where_.repository; }
  const std::string& id() const { return where_.id; }
  std::uint64_t size() const;

 private:
  friend class registry;
  // `checkpointed`: the size the session's record says; a difference is recorded at the end.
  void attach(std::unique_ptr<storage::upload_sink> sink, std::uint64_t checkpointed);
  // Waits for the sink and returns the digest of everything written.
  result<digest> finish_hash();
  storage::upload_sink& sink() { return *sink_; }
  void forget() { done_ = true; }  // the session is gone (committed or discarded): nothing to record
  void on_close(std::function<void()> f) { on_close_ = std::move(f); }

  place where_;
  meta::upload_index& uploads_;
  const clock& clock_;
  hasher hash_;  // declared before sink_: the sink feeds it until it is destroyed
  std::unique_ptr<storage::upload_sink> sink_;
  std::uint64_t checkpointed_ = 0;
  bool failed_ = false;
  bool done_ = false;
  std::function<void()> on_close_;
};

}  // namespace berth
