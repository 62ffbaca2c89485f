#include "berth/gc/fsck.hpp"

#include <unistd.h>

#include <set>

namespace berth::gc {

fsck_report check_consistency(registry& reg, bool repair) {
  fsck_report report;
  auto& meta = reg.meta();
  auto& blobs = reg.blobs();
  std::set<std::string> intact;  // recorded blobs whose bytes verified

  auto rows = meta.all_blobs();
  if (!rows) {
    report.problems.push_back("cannot list blobs: " + rows.error_value().message);
    return report;
  }
  std::vector<char> buf(1 << 20);
  for (const auto& row : *rows) {
    ++report.blobs_checked;
    auto d = digest::parse(row.digest);
    if (!d) {
      report.problems.push_back("blob record with an invalid digest: " + row.digest);
      continue;
    }
    auto opened = blobs.open_blob(*d);
    if (!opened) {
      report.problems.push_back("blob " + row.digest + " is recorded but its file is missing");
      continue;
    }
    hasher h(d->algorithm());
    std::uint64_t total = 0;
    for (;;) {
      ssize_t n = ::read(opened->file->get(), buf.data(), buf.size());
      if (n <= 0) break;
      h.update(buf.data(), static_cast<std::size_t>(n));
      total += static_cast<std::uint64_t>(n);
    }
    auto actual = h.peek();
    if (actual != *d || total != static_cast<std::uint64_t>(row.size)) {
      report.problems.push_back("blob " + row.digest + " is corrupt (" + std::to_string(total) + " bytes hash to " +
                                actual.str() + ", recorded " + std::to_string(row.size) + " bytes)");
      if (repair) {
        opened->file.reset();
        auto where = blobs.quarantine_blob(*d);
        if (where) report.quarantined.push_back(*where);
      }
      continue;
    }
    intact.insert(row.digest);
  }

  std::set<std::string> recorded;
  for (const auto& row : *rows) recorded.insert(row.digest);
  auto refs = meta.all_references();
  if (!refs) {
    report.problems.push_back("cannot list references: " + refs.error_value().message);
    return report;
  }
  for (const auto& r : *refs) {
    ++report.references_checked;
    if (r.child_is_manifest) {
      auto m = meta.manifest_by_digest(r.repository, r.child);
      if (!m || !*m) {
        report.problems.push_back(r.repository + "@" + r.manifest + " lists manifest " + r.child + ", which is missing");
      }
    } else if (!recorded.count(r.child)) {
      report.problems.push_back(r.repository + "@" + r.manifest + " references blob " + r.child + ", which is not recorded");
    } else if (!intact.count(r.child)) {
      report.problems.push_back(r.repository + "@" + r.manifest + " references blob " + r.child + ", which is damaged");
    }
  }
  return report;
}

}  // namespace berth::gc
