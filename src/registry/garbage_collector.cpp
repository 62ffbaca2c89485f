#include "berth/registry/garbage_collector.hpp"

#include <spdlog/spdlog.h>

#include "berth/meta/metadata_store.hpp"
#include "berth/storage/blob_store.hpp"
#include "blob_removal.hpp"

namespace berth {
namespace {

constexpr std::size_t page_size = 1000;

}  // namespace

garbage_collector::garbage_collector(registry& reg, registry_backends backends)
    : reg_(reg), backends_(backends), holder_("gc-" + new_upload_id()) {}

void garbage_collector::collect_untagged(const gc_options& options, std::int64_t before, gc_report& report) {
  auto& images = backends_.meta.images();
  std::string after_repo;
  for (;;) {
    auto repos = backends_.meta.repositories().names(after_repo, page_size);
    if (!repos || repos->empty()) return;
    for (const auto& repo : *repos) {
      std::string after;
      for (;;) {
        auto page = reg_.images(repo, image_filter::untagged, after, page_size);
        if (!page) break;
        for (const auto& i : page->items) {
          if (options.interrupted && options.interrupted()) return;
          if (i.pushed_at > before) continue;
          // A referrer (signature, SBOM) stays while its subject does.
          if (!i.subject.empty()) {
            auto subject = images.manifest_by_digest(repo, i.subject);
            if (!subject || *subject) continue;
          }
          auto parents = images.parent_indexes(repo, i.digest);
          if (!parents || !parents->empty()) continue;
          if (!options.dry_run && !reg_.delete_image(repo, i.digest, "")) continue;
          report.images.push_back(repo + "@" + i.digest);
        }
        if (page->next.empty()) break;
        after = page->next;
      }
    }
    after_repo = repos->back();
  }
}

gc_report garbage_collector::collect(const gc_options& options) {
  gc_report report;
  auto& maintenance = backends_.meta.maintenance();
  const auto now = reg_.time_source().now_seconds();
  const auto before = now - options.grace_seconds;
  blob_removal removal(backends_, reg_.time_source(), holder_);
  if (!options.dry_run) removal.recover();

  // 1. Untagged images, when the policy says so: not listed by an index, not a referrer whose
  //    subject is still there, and older than the grace period.
  if (options.delete_untagged) collect_untagged(options, before, report);

  // 2. Blobs no manifest references, older than the grace period and not linked by a recent upload
  //    or mount. Each is marked (the conditions checked again), trashed, unrecorded and purged.
  std::string after;
  for (;;) {
    auto candidates = maintenance.unreferenced_blobs(before, after, page_size);
    if (!candidates || candidates->empty()) break;
    for (const auto& b : *candidates) {
      if (options.interrupted && options.interrupted()) return report;
      auto d = digest::parse(b.digest);
      if (!d) continue;
      if (!options.dry_run) {
        auto removed = removal.remove_unreferenced(*d, before);
        if (!removed) {
          spdlog::error("gc: removing {} failed: {}", b.digest, removed.error_value().message);
          continue;
        }
        if (!*removed) continue;  // referenced again since the scan
      }
      report.blobs.push_back(b.digest);
      report.bytes += static_cast<std::uint64_t>(b.size);
    }
    after = candidates->back().digest;
  }

  // 3. Blob files with no record and older than the grace period: left by a crash between a
  //    commit's bytes and its record.
  for (const auto& [d, mtime] : backends_.blobs.list_blobs()) {
    if (options.interrupted && options.interrupted()) return report;
    if (mtime > before) continue;
    auto row = maintenance.find_blob(d.str());
    if (!row || *row) continue;
    if (!options.dry_run) {
      auto removed = removal.remove_unrecorded(d);
      if (!removed || !*removed) continue;  // recorded meanwhile: a commit that was finishing
    }
    ++report.orphan_files;
  }
  if (!report.blobs.empty() || !report.images.empty() || report.orphan_files) {
    spdlog::info("gc{}: {} image(s), {} blob(s), {} bytes, {} orphan file(s)", options.dry_run ? " (dry run)" : "",
                 report.images.size(), report.blobs.size(), report.bytes, report.orphan_files);
  }
  return report;
}

}  // namespace berth
