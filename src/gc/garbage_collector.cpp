#include "berth/gc/garbage_collector.hpp"

#include <spdlog/spdlog.h>

#include <set>

namespace berth::gc {

gc_report garbage_collector::collect(const gc_options& options) {
  gc_report report;
  auto& meta = reg_.meta();
  auto& blobs = reg_.blobs();
  const auto now = reg_.time_source().now_seconds();
  const auto before = now - options.grace_seconds;

  // 1. Untagged images, when the policy says so: not listed by an index, not a referrer whose
  //    subject is still there, and older than the grace period.
  if (options.delete_untagged) {
    auto repos = meta.list_repositories("", std::size_t(-1) >> 1);
    for (const auto& repo : repos ? *repos : std::vector<std::string>{}) {
      auto images = meta.images(repo);
      if (!images) continue;
      std::set<std::string> present;
      for (const auto& i : *images) present.insert(i.digest);
      for (const auto& i : *images) {
        if (!i.tags.empty() || i.pushed_at > before) continue;
        if (!i.subject.empty() && present.count(i.subject)) continue;
        auto parents = meta.parent_indexes(repo, i.digest);
        if (!parents || !parents->empty()) continue;
        if (!options.dry_run && !reg_.delete_image(repo, i.digest, "")) continue;
        report.images.push_back(repo + "@" + i.digest);
      }
    }
  }

  // 2. Blobs no manifest references, older than the grace period and not linked by a recent upload
  //    or mount. Each is re-checked and moved to the trash under the metadata write lock (the lock
  //    every commit takes to publish a blob), then removed after the commit.
  auto candidates = meta.unreferenced_blobs(before);
  if (candidates) {
    for (const auto& b : *candidates) {
      auto d = digest::parse(b.digest);
      if (!d) continue;
      if (options.dry_run) {
        report.blobs.push_back(b.digest);
        report.bytes += static_cast<std::uint64_t>(b.size);
        continue;
      }
      auto deleted = meta.delete_unreferenced_blob(b.digest, before, [&]() { return blobs.trash_blob(*d); });
      if (!deleted) {
        // The commit failed after the move: put the bytes back where the record says they are.
        (void)blobs.restore_blob(*d);
        spdlog::error("gc: removing {} failed: {}", b.digest, deleted.error_value().message);
        continue;
      }
      if (!*deleted) continue;  // referenced again since the scan
      blobs.purge_blob(*d);
      report.blobs.push_back(b.digest);
      report.bytes += static_cast<std::uint64_t>(b.size);
    }
  }

  // 3. Blob files with no record and older than the grace period: left by a crash between a
  //    publish and its commit.
  for (const auto& [d, mtime] : blobs.blob_files()) {
    if (mtime > before) continue;
    if (options.dry_run) {
      auto row = meta.find_blob(d.str());
      if (row && !*row) ++report.orphan_files;
      continue;
    }
    // Under the write lock: a commit publishing this very digest holds it until its record exists.
    auto removed = meta.if_blob_unrecorded(d.str(), [&, d = d]() { blobs.remove_blob_file(d); });
    if (removed && *removed) ++report.orphan_files;
  }
  if (!report.blobs.empty() || !report.images.empty() || report.orphan_files) {
    spdlog::info("gc{}: {} image(s), {} blob(s), {} bytes, {} orphan file(s)", options.dry_run ? " (dry run)" : "",
                 report.images.size(), report.blobs.size(), report.bytes, report.orphan_files);
  }
  return report;
}

}  // namespace berth::gc
