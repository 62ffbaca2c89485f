#include "berth/registry/blob_backup.hpp"

namespace berth {
namespace {

constexpr std::size_t page_size = 1000;

// Reads a blob and stops there: the store's reader may be a file region or a stream.
class content_reader final : public byte_reader {
 public:
  content_reader(std::shared_ptr<blob_content> blob, std::unique_ptr<byte_reader> inner)
      : blob_(std::move(blob)), inner_(std::move(inner)) {}
  result<std::size_t> read(char* out, std::size_t size) override { return inner_->read(out, size); }

 private:
  std::shared_ptr<blob_content> blob_;  // kept open while read
  std::unique_ptr<byte_reader> inner_;
};

}  // namespace

blob_opener open_from(storage::blob_store& store) {
  return [&store](const digest& d) -> result<std::unique_ptr<byte_reader>> {
    auto blob = store.open_blob(d);
    if (!blob) return blob.take_error();
    auto bytes = (*blob)->bytes(0, (*blob)->size(), false);
    if (!bytes) return bytes.take_error();
    return std::unique_ptr<byte_reader>(new content_reader(*blob, reader_for(std::move(bytes).value())));
  };
}

blob_opener open_from(const storage::blob_archive& archive) {
  return [&archive](const digest& d) { return archive.open(d); };
}

blob_copy_report copy_recorded_blobs(meta::maintenance_index& snapshot, const blob_opener& from,
                                     storage::blob_archive& to, const progress_listener& progress) {
  blob_copy_report report;
  work_progress p;
  // A first pass over the rows (no bytes) gives the totals a progress display needs.
  for (std::string after;;) {
    auto rows = snapshot.blobs(after, page_size);
    if (!rows) {
      report.problems.push_back("cannot list blobs: " + rows.error_value().message);
      return report;
    }
    if (rows->empty()) break;
    for (const auto& r : *rows) {
      if (r.deleting) continue;
      ++p.items_total;
      p.bytes_total += static_cast<std::uint64_t>(r.size);
    }
    after = rows->back().digest;
  }
  if (progress) progress(p);
  for (std::string after;;) {
    auto rows = snapshot.blobs(after, page_size);
    if (!rows) {
      report.problems.push_back("cannot list blobs: " + rows.error_value().message);
      return report;
    }
    if (rows->empty()) break;
    for (const auto& r : *rows) {
      // Being garbage-collected when the snapshot was taken: referenced by nothing.
      if (r.deleting) continue;
      const auto size = static_cast<std::uint64_t>(r.size);
      ++report.blobs;
      report.bytes += size;
      auto d = digest::parse(r.digest);
      if (!d) {
        report.problems.push_back("blob record with an invalid digest: " + r.digest);
      } else if (!to.holds(*d, size)) {
        auto reader = from(*d);
        if (!reader && reader.error_value().code == errc::blob_unknown) {
          report.vanished.push_back(r.digest);
        } else if (!reader) {
          report.problems.push_back("blob " + r.digest + " cannot be read: " + reader.error_value().message);
        } else {
          const auto before = p.bytes_done;
          auto put = to.put(*d, size, **reader, [&](std::uint64_t n) {
            p.bytes_done += n;
            if (progress) progress(p);
          });
          p.bytes_done = before;
          if (!put) {
            report.problems.push_back("blob " + r.digest + ": " + put.error_value().message);
            if (put.error_value().code == errc::storage_full) {
              p.bytes_done += size;
              ++p.items_done;
              return report;  // nothing further can be written
            }
          } else {
            ++report.blobs_copied;
            report.bytes_copied += size;
          }
        }
      }
      p.bytes_done += size;
      ++p.items_done;
      if (progress) progress(p);
    }
    after = rows->back().digest;
  }
  return report;
}

}  // namespace berth
