#include "berth/registry/consistency_check.hpp"

#include <set>

#include "berth/meta/metadata_store.hpp"
#include "berth/storage/blob_store.hpp"

namespace berth {
namespace {

constexpr std::size_t page_size = 1000;

// Hashes a blob's bytes; nullopt when they cannot be read.
std::optional<std::pair<digest, std::uint64_t>> hash_blob(blob_content& blob, digest_algorithm algorithm,
                                                          std::vector<char>& buf) {
  auto bytes = blob.bytes(0, blob.size(), false);
  if (!bytes) return std::nullopt;
  auto reader = reader_for(std::move(bytes).value());
  hasher h(algorithm);
  std::uint64_t total = 0;
  for (;;) {
    auto n = reader->read(buf.data(), buf.size());
    if (!n || *n == 0) break;
    h.update(buf.data(), *n);
    total += *n;
  }
  return std::make_pair(h.peek(), total);
}

// fsck runs beside a serving registry: a blob whose bytes vanished after its row was read may have
// been removed by a collection meanwhile, which is not damage.
bool still_recorded(meta::maintenance_index& maintenance, const std::string& digest) {
  auto row = maintenance.find_blob(digest);
  return !row || (*row && !(*row)->deleting);  // a failed read counts as recorded: report, never hide
}

}  // namespace

fsck_report check_consistency(registry_backends b, bool repair, const progress_listener& progress) {
  fsck_report report;
  auto& maintenance = b.meta.maintenance();
  std::set<std::string> damaged;  // recorded blobs whose bytes are missing or wrong
  std::vector<char> buf(1 << 20);
  work_progress p;
  if (progress) {
    // The totals, from the rows alone.
    for (std::string after;;) {
      auto rows = maintenance.blobs(after, page_size);
      if (!rows || rows->empty()) break;
      for (const auto& r : *rows) {
        ++p.items_total;
        p.bytes_total += static_cast<std::uint64_t>(r.size);
      }
      after = rows->back().digest;
    }
    progress(p);
  }

  std::string after;
  for (;;) {
    auto rows = maintenance.blobs(after, page_size);
    if (!rows) {
      report.problems.push_back("cannot list blobs: " + rows.error_value().message);
      return report;
    }
    if (rows->empty()) break;
    for (const auto& row : *rows) {
      if (progress) {
        p.items_done = report.blobs_checked;
        progress(p);
        p.bytes_done += static_cast<std::uint64_t>(row.size);
      }
      ++report.blobs_checked;
      auto d = digest::parse(row.digest);
      if (!d) {
        report.problems.push_back("blob record with an invalid digest: " + row.digest);
        damaged.insert(row.digest);
        continue;
      }
      auto opened = b.blobs.open_blob(*d);
      if (!opened) {
        if (!still_recorded(maintenance, row.digest)) continue;
        report.problems.push_back("blob " + row.digest + " is recorded but its file is missing");
        damaged.insert(row.digest);
        continue;
      }
      auto actual = hash_blob(**opened, d->algorithm(), buf);
      opened->reset();
      if (!actual || actual->first != *d || actual->second != static_cast<std::uint64_t>(row.size)) {
        if (!still_recorded(maintenance, row.digest)) continue;  // removed while it was read
        report.problems.push_back("blob " + row.digest + " is corrupt (" +
                                  (actual ? std::to_string(actual->second) + " bytes hash to " + actual->first.str()
                                          : std::string("unreadable")) +
                                  ", recorded " + std::to_string(row.size) + " bytes)");
        damaged.insert(row.digest);
        if (repair) {
          if (auto where = b.blobs.quarantine_blob(*d)) report.quarantined.push_back(*where);
        }
      }
    }
    after = rows->back().digest;
  }

  meta::reference_row cursor;
  for (;;) {
    auto refs = maintenance.references(cursor, page_size);
    if (!refs) {
      report.problems.push_back("cannot list references: " + refs.error_value().message);
      return report;
    }
    if (refs->empty()) break;
    for (const auto& r : *refs) {
      ++report.references_checked;
      if (r.child_is_manifest) {
        auto m = b.meta.images().manifest_by_digest(r.repository, r.child);
        if (!m || !*m) {
          auto parent = b.meta.images().manifest_by_digest(r.repository, r.manifest);
          if (parent && !*parent) continue;  // the index went too
          report.problems.push_back(r.repository + "@" + r.manifest + " lists manifest " + r.child +
                                    ", which is missing");
        }
        continue;
      }
      auto row = maintenance.find_blob(r.child);
      if (row && (!*row || (*row)->deleting)) {
        // Its manifest may have been deleted (and the blob collected) since the page was read.
        auto parent = b.meta.images().manifest_by_digest(r.repository, r.manifest);
        if (parent && !*parent) continue;
        report.problems.push_back(r.repository + "@" + r.manifest + " references blob " + r.child +
                                  ", which is not recorded");
      } else if (damaged.count(r.child)) {
        report.problems.push_back(r.repository + "@" + r.manifest + " references blob " + r.child +
                                  ", which is damaged");
      }
    }
    cursor = refs->back();
  }
  return report;
}

result<std::vector<repository_usage>> storage_usage(registry_backends b) {
  std::vector<repository_usage> out;
  std::string after;
  for (;;) {
    auto rows = b.meta.maintenance().usage(after, page_size);
    if (!rows) return rows.take_error();
    if (rows->empty()) return out;
    for (auto& r : *rows) out.push_back(repository_usage{r.repository, r.images, r.tags, r.referenced_bytes});
    after = rows->back().repository;
  }
}

}  // namespace berth
