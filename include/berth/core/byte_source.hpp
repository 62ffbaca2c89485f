// How bytes reach whoever reads them: a region of an open file (the transport sends it with
// sendfile), a stream read in order, or a URL to fetch them from. Blob stores produce these; the
// domain passes them on; the HTTP adapter turns them into a response.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <variant>

#include "berth/core/error.hpp"

namespace berth {

// `owner` keeps `fd` open for as long as the region is in use.
struct file_region {
  std::shared_ptr<const void> owner;
  int fd = -1;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
};

// Bytes read in order. read() may block (a network read): callers run it off the I/O threads.
class byte_reader {
 public:
  virtual ~byte_reader() = default;
  // Up to `size` bytes into `out`; 0 at the end.
  virtual result<std::size_t> read(char* out, std::size_t size) = 0;
};

struct stream_source {
  std::shared_ptr<byte_reader> reader;
  std::uint64_t length = 0;
  // Read once more after `length` bytes, once they are all sent: the reader finishes its work
  // there (the pull-through cache commits the blob it streamed) without holding up the last bytes.
  bool read_past_end = false;
};

// Somewhere a client may fetch the bytes itself (an object store's presigned URL).
struct redirect_source {
  std::string url;
};

using byte_source = std::variant<file_region, stream_source, redirect_source>;

// A committed blob, open for reading.
class blob_content {
 public:
  virtual ~blob_content() = default;
  virtual std::uint64_t size() const = 0;
  // The bytes [offset, offset + length). With `may_redirect`, a store that can hand out URLs
  // answers with one (for the whole blob); without it, always with the bytes themselves.
  virtual result<byte_source> bytes(std::uint64_t offset, std::uint64_t length, bool may_redirect) = 0;
};

// Reads a file region or a stream in order (errc::internal for a redirect: there are no bytes here).
std::unique_ptr<byte_reader> reader_for(byte_source source);

}  // namespace berth
