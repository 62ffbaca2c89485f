// A directory of blobs in the filesystem store's layout (blobs/<algorithm>/<2 hex>/<hex>), as a
// backup keeps them: a blob appears there only whole and verified (written to a temporary file,
// hashed as it is written, fsync'd, renamed), so a backup interrupted at any point holds only good
// blobs, and the next one copies only those it lacks. `berth serve` can run on the directory as it is.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>

#include "berth/core/byte_source.hpp"
#include "berth/core/digest.hpp"
#include "berth/core/error.hpp"

namespace berth::storage {

class blob_archive {
 public:
  explicit blob_archive(std::filesystem::path root) : root_(std::move(root)) {}

  // The blob is there, with `size` bytes.
  bool holds(const digest& d, std::uint64_t size) const;
  // Copies `size` bytes from `from`: errc::digest_invalid when they do not hash to `d` or are
  // not `size` bytes (nothing is left behind), errc::storage_full when the disk is. `copied` is
  // told of each chunk written.
  result<void> put(const digest& d, std::uint64_t size, byte_reader& from,
                   const std::function<void(std::uint64_t)>& copied = {});
  // The blob's bytes, read in order (errc::blob_unknown when it is not there).
  result<std::unique_ptr<byte_reader>> open(const digest& d) const;
  std::filesystem::path path_of(const digest& d) const;

 private:
  std::filesystem::path root_;
};

}  // namespace berth::storage
