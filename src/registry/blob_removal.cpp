#include "blob_removal.hpp"

#include <spdlog/spdlog.h>

#include "berth/meta/metadata_store.hpp"
#include "berth/storage/blob_store.hpp"

namespace berth {

meta::deletion_claim blob_removal::claim() const {
  const auto now = clock_.now_seconds();
  return meta::deletion_claim{holder_, now, now + mark_seconds};
}

result<void> blob_removal::carry_out(const digest& d) {
  // The bytes go to the trash first: until the rows are gone a crash can still be sorted out.
  if (auto r = b_.blobs.trash_blob(d); !r) return r;
  if (auto r = b_.meta.maintenance().finish_delete(d.str(), holder_); !r) return r;
  b_.blobs.purge_blob(d);
  return {};
}

result<bool> blob_removal::remove_unreferenced(const digest& d, std::int64_t before) {
  auto marked = b_.meta.maintenance().begin_delete(d.str(), before, claim());
  if (!marked) return marked.take_error();
  if (!*marked) return false;  // referenced or linked again since the scan
  if (auto r = carry_out(d); !r) return r.take_error();
  return true;
}

result<bool> blob_removal::remove_unrecorded(const digest& d) {
  auto marked = b_.meta.maintenance().begin_delete_unrecorded(d.str(), claim());
  if (!marked) return marked.take_error();
  if (!*marked) return false;  // a commit recorded it meanwhile
  if (auto r = carry_out(d); !r) return r.take_error();
  return true;
}

result<bool> blob_removal::take_over(const digest& d) {
  auto taken = b_.meta.maintenance().take_over_delete(d.str(), claim());
  if (!taken) return taken.take_error();
  if (!*taken) return false;
  spdlog::warn("finishing the removal of blob {}, which an earlier garbage collection left half done", d.str());
  if (auto r = carry_out(d); !r) return r.take_error();
  return true;
}

std::size_t blob_removal::recover() {
  std::size_t touched = 0;
  if (auto abandoned = b_.meta.maintenance().abandoned_deletions(clock_.now_seconds())) {
    for (const auto& text : *abandoned) {
      auto d = digest::parse(text);
      if (!d) continue;
      auto r = take_over(*d);
      if (!r) spdlog::error("finishing the removal of {} failed: {}", text, r.error_value().message);
      if (r && *r) ++touched;
    }
  }
  for (const auto& d : b_.blobs.trashed_blobs()) {
    auto row = b_.meta.maintenance().find_blob(d.str());
    if (!row) continue;
    if (!*row) {
      b_.blobs.purge_blob(d);
      ++touched;
    } else if (!(*row)->deleting) {
      if (auto r = b_.blobs.restore_blob(d); !r) {
        spdlog::error("restoring {} from trash failed: {}", d.str(), r.error_value().message);
      } else {
        spdlog::warn("restored blob {} from an interrupted garbage collection", d.str());
        ++touched;
      }
    }
    // Still marked: its holder is at work (or recovery above takes it over once the mark expires).
  }
  return touched;
}

}  // namespace berth
