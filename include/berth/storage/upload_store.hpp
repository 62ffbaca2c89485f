// Upload store role: the bytes of upload sessions, appended request by request and committed to a
// content address. The running hash and the checkpointed size live with the session's metadata;
// a store only keeps bytes. Every store passes the suite in tests/unit/blob_store_suite.hpp.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "berth/core/byte_source.hpp"
#include "berth/core/digest.hpp"

namespace berth::storage {

// Appends to one session. Not thread-safe: one request writes at a time (the session's claim).
class upload_sink {
 public:
  // Keeps what was appended; call flush() to know it all reached the store.
  virtual ~upload_sink() = default;

  // How many bytes this request brings (nullopt: unknown), so the sink can pick its write path.
  virtual void expect(std::optional<std::uint64_t> length) = 0;
  // Where the next bytes may be received so that append() need not copy them (empty: anywhere).
  virtual std::span<char> receive_buffer() = 0;
  // Appends. Every byte reaches the hasher given at open exactly once, in order, perhaps on another
  // thread; after a failure the session holds an unknown prefix of the bytes (checkpoint nothing).
  virtual result<void> append(const char* data, std::size_t size) = 0;
  // Waits until every appended byte is stored and hashed: size() bytes are then in the session.
  virtual result<void> flush() = 0;
  virtual std::uint64_t size() const = 0;
  // Makes the session's bytes durable and readable at `d`'s address, atomically (a reader sees
  // the whole blob or nothing). The session keeps its bytes until remove_upload, so a commit can be
  // repeated.
  virtual result<void> commit(const digest& d) = 0;
};

class upload_store {
 public:
  virtual ~upload_store() = default;

  // Session ids are validated by the caller (names.hpp).
  virtual result<void> create_upload(const std::string& id) = 0;
  // Continues a session after its first `offset` bytes (bytes past them, which no checkpoint
  // covers, are dropped). errc::blob_upload_unknown: no session; errc::upload_out_of_order
  // (upload_detail: what it holds): the session holds fewer than `offset` bytes.
  virtual result<std::unique_ptr<upload_sink>> open_upload(const std::string& id, std::uint64_t offset,
                                                           hasher& hash) = 0;
  // Everything the session holds, to hash it again when its checkpoint cannot be trusted.
  virtual result<std::unique_ptr<byte_reader>> read_upload(const std::string& id) = 0;
  virtual void remove_upload(const std::string& id) = 0;
  virtual std::vector<std::string> list_uploads() = 0;
  // Bytes a sink flushed survive a crash of the process, but perhaps not of the machine: the
  // epoch names the span in which they do (a boot, for a local disk). A checkpoint taken in
  // another epoch is not trusted and the session is hashed again.
  virtual std::string epoch() const = 0;
  // Gives back memory kept for speed (buffers); called when the server is idle.
  virtual void release_memory() {}
};

}  // namespace berth::storage
