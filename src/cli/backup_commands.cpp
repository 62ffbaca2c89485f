// berth backup DEST and berth restore SRC --data-dir NEW. A backup is itself a data directory:
// berth.db (an online snapshot), the blobs it records (blobs/, verified as they are copied, only
// those DEST lacks), the registry's keys, and berth-backup.json saying when it was taken. The
// snapshot replaces DEST's berth.db only after every blob it records is in DEST, so DEST is a
// complete backup at every moment: the new one, or, if this one stopped, the previous one.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "berth/cli/commands.hpp"
#include "berth/cli/data_dir.hpp"
#include "berth/cli/failure.hpp"
#include "berth/cli/flags.hpp"
#include "berth/cli/key_files.hpp"
#include "berth/cli/progress_meter.hpp"
#include "berth/cli/text_output.hpp"
#include "berth/meta/migrations.hpp"
#include "berth/meta/sqlite_metadata.hpp"
#include "berth/registry/blob_backup.hpp"

namespace berth::cli {
namespace {

namespace fs = std::filesystem;

constexpr const char* backup_marker = "berth-backup.json";
constexpr const char* key_names[] = {root_credentials_secret, signing_key_secret, sealing_key_secret};

bool empty_or_absent(const fs::path& p) {
  std::error_code ec;
  if (!fs::exists(p, ec)) return true;
  return fs::is_directory(p, ec) && fs::is_empty(p, ec);
}

// Writes `text` to `path` whole or not at all.
result<void> write_file(const fs::path& path, const std::string& text, mode_t mode) {
  const auto tmp = path.string() + ".partial";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return make_error(errc::internal, "cannot write " + tmp);
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  ::close(fd);
  std::error_code ec;
  if (ok) fs::rename(tmp, path, ec);
  if (!ok || ec) {
    fs::remove(tmp, ec);
    return make_error(errc::internal, "cannot write " + path.string());
  }
  return {};
}

result<void> copy_file(const fs::path& from, const fs::path& to, mode_t mode) {
  std::ifstream in(from, std::ios::binary);
  if (!in) return make_error(errc::internal, "cannot read " + from.string());
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return write_file(to, text, mode);
}

// The registry's keys (root credentials, token signing, the key that seals IAM secrets): without
// the last, the restored IAM users' secret keys could not be read.
result<void> copy_keys(const fs::path& from, const fs::path& to) {
  auto source = data_dir_secrets(from);
  auto target = data_dir_secrets(to);
  for (const char* name : key_names) {
    auto value = source->get(name);
    if (!value) return value.take_error();
    if (!*value) continue;
    if (auto r = target->put_if_absent(name, **value); !r) return r.take_error();
    if (auto here = target->get(name); !here || !*here || **here != **value) {
      // A key of another registry in the way: replace it with this one's.
      if (auto r = write_file(target->location(name), **value, 0600); !r) return r;
    }
  }
  return {};
}

result<void> refuse_shared_backends(const config::settings& cfg) {
  if (cfg.metadata_driver == "postgres") {
    return make_error(
        errc::internal,
        "backup and restore take the SQLite metadata of a data directory; with PostgreSQL, back up "
        "the database with pg_dump and the bucket with its own tools (docs/operations.md#backup-and-restore)");
  }
  if (cfg.storage_driver == "s3") {
    return make_error(errc::internal,
                      "backup and restore copy the blobs of a data directory; with storage.driver s3, back up the "
                      "bucket with its own tools (docs/operations.md#backup-and-restore)");
  }
  return {};
}

struct dir_lock {
  int fd = -1;
  ~dir_lock() {
    if (fd >= 0) ::close(fd);
  }
};

void print_report(bool json_output, const std::string& verb, const fs::path& where, const blob_copy_report& r,
                  double seconds) {
  if (json_output) {
    nlohmann::json j = {{"blobs", r.blobs},
                        {"bytes", r.bytes},
                        {"blobs_copied", r.blobs_copied},
                        {"bytes_copied", r.bytes_copied},
                        {"seconds", seconds},
                        {"problems", r.problems},
                        {"path", where.string()}};
    std::cout << j.dump(2) << "\n";
    return;
  }
  for (const auto& p : r.problems) std::printf("problem: %s\n", p.c_str());
  std::printf("%s %s: %s (%s), %s copied (%s), %s\n", verb.c_str(), where.string().c_str(),
              counted(r.blobs, "blob", "blobs").c_str(), human_size(r.bytes).c_str(),
              counted(r.blobs_copied, "blob", "blobs").c_str(), human_size(r.bytes_copied).c_str(),
              counted(r.problems.size(), "problem", "problems").c_str());
}

}  // namespace

int backup_command(const std::vector<std::string>& args) {
  if (args.empty() || args[0].starts_with("-")) {
    std::cout << "Usage: berth backup DEST [--data-dir DIR] [--config FILE] [--output text|json]\n\n"
                 "A consistent backup of a registry, also while it serves: an online snapshot of its\n"
                 "metadata, the blobs it records (verified; only those DEST lacks are copied), and its keys.\n"
                 "DEST is a data directory: berth restore DEST --data-dir NEW, or berth serve on a copy.\n"
                 "Progress on a terminal; exit 0 when the backup is complete, 1 otherwise.\n";
    return args.empty() || (args[0] != "-h" && args[0] != "--help") ? 2 : 0;
  }
  const fs::path dest = fs::absolute(args[0]).lexically_normal();
  auto flags = parse_flags({args.begin() + 1, args.end()}, {"data-dir", "config", "output"}, {}, "backup");
  if (!flags) return fail(flags.error_value().message);
  auto json_output = json_wanted(flags->values);
  if (!json_output) return fail(json_output.error_value().message);
  config::flag_map base;
  for (auto key : {"data-dir", "config"}) {
    if (auto it = flags->values.find(key); it != flags->values.end()) base[key] = it->second;
  }
  auto cfg = config::load(base);
  if (!cfg) return fail(cfg.error_value().message);
  if (auto r = refuse_shared_backends(*cfg); !r) return fail(r.error_value().message);
  auto dir = open_for_command(flags->values);  // refuses what is not a data directory; migrates
  if (!dir) return fail(dir.error_value().message);
  const fs::path data = fs::absolute(cfg->data_dir).lexically_normal();
  std::error_code ec;
  if (dest == data || fs::equivalent(dest, data, ec))
    return fail("the backup must go somewhere else than " + data.string());
  if (!empty_or_absent(dest) && !fs::exists(dest / backup_marker, ec)) {
    return fail("'" + dest.string() + "' is neither empty nor a Berth backup; give a new or empty directory");
  }
  fs::create_directories(dest, ec);
  if (ec) return fail("cannot create '" + dest.string() + "': " + ec.message());
  dir_lock lock;
  lock.fd = ::open((dest / "backup.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock.fd < 0 || ::flock(lock.fd, LOCK_EX | LOCK_NB) != 0) {
    return fail("'" + dest.string() + "' is in use by another berth backup");
  }
  const auto started = std::chrono::steady_clock::now();
  const auto taken_at = (*dir)->clk.now_seconds();
  const fs::path snapshot = dest / "berth.db.new";
  blob_copy_report report;
  // A blob garbage collection removed after the snapshot is one no manifest then referenced (an
  // upload whose manifest had not come yet): its record leaves the snapshot. If one that a manifest
  // of the snapshot references vanished (its image was deleted and collected meanwhile), a newer
  // snapshot no longer has that image: take one, and copy what it adds.
  for (int attempt = 1;; ++attempt) {
    if (auto r = meta::snapshot_sqlite_database(data / "berth.db", snapshot); !r) {
      return fail("snapshot of " + (data / "berth.db").string() + ": " + r.error_value().message);
    }
    {
      auto snap = meta::open_sqlite_metadata(snapshot);
      if (!snap) return fail("snapshot: " + snap.error_value().message);
      storage::blob_archive archive(dest);
      progress_meter meter("backup", "blobs", progress_meter::on_terminal() && !*json_output);
      report = copy_recorded_blobs(
          (*snap)->maintenance(), open_from(*(*dir)->blobs), archive,
          [&](const work_progress& p) { meter.update(p.items_done, p.items_total, p.bytes_done, p.bytes_total); });
    }
    auto forgotten = meta::forget_unreferenced_blobs(snapshot, report.vanished);
    if (!forgotten) return fail("snapshot: " + forgotten.error_value().message);
    if (*forgotten) {
      report.blobs -= report.vanished.size();
      break;
    }
    if (attempt == 3) {
      for (const auto& d : report.vanished) {
        report.problems.push_back("blob " + d + " was removed while the backup ran, three times over");
      }
      break;
    }
  }
  if (auto r = copy_keys(data, dest); !r) report.problems.push_back("keys: " + r.error_value().message);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (!report.problems.empty()) {
    fs::remove(snapshot, ec);  // the previous backup in DEST (if any) stays whole
    print_report(*json_output, "backup (INCOMPLETE) of " + data.string() + " in", dest, report, seconds);
    return 1;
  }
  fs::rename(snapshot, dest / "berth.db", ec);
  if (ec) return fail("cannot rename the snapshot: " + ec.message());
  for (const char* stale : {"berth.db-wal", "berth.db-shm"}) fs::remove(dest / stale, ec);
  nlohmann::json marker = {{"format", 1},
                           {"berth_version", BERTH_VERSION},
                           {"taken_at", utc_time(taken_at)},
                           {"schema_version", meta::latest_schema_version()},
                           {"source", data.string()},
                           {"blobs", report.blobs},
                           {"bytes", report.bytes}};
  if (auto r = write_file(dest / backup_marker, marker.dump(2) + "\n", 0644); !r) return fail(r.error_value().message);
  print_report(*json_output, "backup of " + data.string() + " in", dest, report, seconds);
  return 0;
}

int restore_command(const std::vector<std::string>& args) {
  if (args.empty() || args[0].starts_with("-")) {
    std::cout << "Usage: berth restore SRC --data-dir NEW [--output text|json]\n\n"
                 "Builds a new data directory from a backup (berth backup): its metadata, every blob it\n"
                 "records (verified as it is copied) and its keys. NEW must not exist or be empty; then\n"
                 "berth serve --data-dir NEW. Progress on a terminal.\n";
    return args.empty() || (args[0] != "-h" && args[0] != "--help") ? 2 : 0;
  }
  const fs::path src = fs::absolute(args[0]).lexically_normal();
  auto flags = parse_flags({args.begin() + 1, args.end()}, {"data-dir", "output"}, {}, "restore");
  if (!flags) return fail(flags.error_value().message);
  auto json_output = json_wanted(flags->values);
  if (!json_output) return fail(json_output.error_value().message);
  auto it = flags->values.find("data-dir");
  if (it == flags->values.end() || it->second.empty()) return fail("restore needs --data-dir NEW (a new directory)");
  const fs::path target = fs::absolute(it->second).lexically_normal();
  std::error_code ec;
  if (!fs::exists(src / backup_marker, ec) || !fs::exists(src / "berth.db", ec)) {
    return fail("'" + src.string() + "' is not a Berth backup (no " + backup_marker + ")");
  }
  if (!empty_or_absent(target))
    return fail("'" + target.string() + "' is not empty: restore builds a new data directory");
  const bool created = !fs::exists(target, ec);
  fs::create_directories(target, ec);
  if (ec) return fail("cannot create '" + target.string() + "': " + ec.message());
  // A failed restore leaves nothing that looks like a data directory.
  auto undo = [&](const std::string& why) {
    if (created) {
      fs::remove_all(target, ec);
    } else {
      for (const auto& e : fs::directory_iterator(target, ec)) fs::remove_all(e.path(), ec);
    }
    return fail(why);
  };
  const auto started = std::chrono::steady_clock::now();
  if (auto r = copy_file(src / "berth.db", target / "berth.db", 0644); !r) return undo(r.error_value().message);
  blob_copy_report report;
  {
    auto restored = meta::open_sqlite_metadata(target / "berth.db");  // migrates a backup of an older berth
    if (!restored) return undo("metadata: " + restored.error_value().message);
    storage::blob_archive from(src);
    storage::blob_archive to(target);
    progress_meter meter("restore", "blobs", progress_meter::on_terminal() && !*json_output);
    report = copy_recorded_blobs((*restored)->maintenance(), open_from(from), to, [&](const work_progress& p) {
      meter.update(p.items_done, p.items_total, p.bytes_done, p.bytes_total);
    });
  }
  for (const auto& d : report.vanished) report.problems.push_back("blob " + d + " is missing from the backup");
  if (auto r = copy_keys(src, target); !r) report.problems.push_back("keys: " + r.error_value().message);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (!report.problems.empty()) {
    print_report(*json_output, "restore (FAILED, removed) into", target, report, seconds);
    return undo("the backup in " + src.string() + " is incomplete or damaged");
  }
  print_report(*json_output, "restored into", target, report, seconds);
  return 0;
}

}  // namespace berth::cli
