// berth gc, berth fsck, berth lifecycle run, berth usage: maintenance on a data directory. They run
// beside a live server (SQLite serializes writers; garbage collection is designed to run online).
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "berth/cli/commands.hpp"
#include "berth/cli/data_dir.hpp"
#include "berth/cli/failure.hpp"
#include "berth/cli/flags.hpp"
#include "berth/cli/progress_meter.hpp"
#include "berth/cli/text_output.hpp"
#include "berth/registry/consistency_check.hpp"
#include "berth/registry/garbage_collector.hpp"
#include "berth/registry/lifecycle_service.hpp"

namespace berth::cli {
int gc_command(const std::vector<std::string>& args) {
  auto flags = parse_flags(args, {"data-dir", "config", "grace", "output"}, {"dry-run", "delete-untagged"}, "gc");
  if (!flags) return fail(flags.error_value().message);
  auto json_output = json_wanted(flags->values);
  if (!json_output) return fail(json_output.error_value().message);
  if (flags->help) {
    std::cout << "Usage: berth gc [--data-dir DIR] [--config FILE] [--dry-run] [--grace SECONDS] [--delete-untagged]\n"
                 "                [--output text|json]\n\n"
                 "Removes blobs that no manifest references and that are older than the grace period (default:\n"
                 "the config's gc.grace_seconds, 86400), and blob files left by a crash. With --delete-untagged\n"
                 "(or gc.untagged: delete) also untagged images no index lists. Safe while berth serves.\n";
    return 0;
  }
  auto dir = open_for_command(flags->values);
  if (!dir) return fail(dir.error_value().message);
  config::flag_map base;
  if (auto it = flags->values.find("config"); it != flags->values.end()) base["config"] = it->second;
  auto cfg = config::load(base);
  gc_options options{cfg ? cfg->gc_grace_seconds : 86400, cfg && cfg->gc_untagged == "delete", false};
  if (auto it = flags->values.find("grace"); it != flags->values.end()) {
    try {
      options.grace_seconds = std::stoll(it->second);
    } catch (...) {
      return fail("--grace must be a number of seconds");
    }
  }
  options.delete_untagged = options.delete_untagged || flags->values.count("delete-untagged");
  options.dry_run = flags->values.count("dry-run") > 0;
  garbage_collector collector(*(*dir)->reg, (*dir)->backends());
  auto report = collector.collect(options);
  if (*json_output) {
    nlohmann::json j = {{"dry_run", options.dry_run},
                        {"images", report.images},
                        {"blobs", report.blobs},
                        {"bytes", report.bytes},
                        {"orphan_files", report.orphan_files}};
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  const char* verb = options.dry_run ? "would remove" : "removed";
  for (const auto& i : report.images) std::printf("%s image %s\n", verb, i.c_str());
  for (const auto& b : report.blobs) std::printf("%s blob %s\n", verb, b.c_str());
  std::printf("gc %s %s, %s (%s), %s\n", verb, counted(report.images.size(), "image", "images").c_str(),
              counted(report.blobs.size(), "blob", "blobs").c_str(), human_size(report.bytes).c_str(),
              counted(report.orphan_files, "orphan file", "orphan files").c_str());
  return 0;
}

int fsck_command(const std::vector<std::string>& args) {
  auto flags = parse_flags(args, {"data-dir", "config", "output"}, {"repair"}, "fsck");
  if (!flags) return fail(flags.error_value().message);
  auto json_output = json_wanted(flags->values);
  if (!json_output) return fail(json_output.error_value().message);
  if (flags->help) {
    std::cout << "Usage: berth fsck [--data-dir DIR] [--config FILE] [--repair] [--output text|json]\n\n"
                 "Verifies every blob's bytes against its digest and every metadata reference. Exits 0 when\n"
                 "nothing is wrong, 1 otherwise. --repair moves corrupt blobs to DIR/quarantine. Progress\n"
                 "on a terminal.\n";
    return 0;
  }
  auto dir = open_for_command(flags->values);
  if (!dir) return fail(dir.error_value().message);
  fsck_report report;
  {
    progress_meter meter("fsck", "blobs", progress_meter::on_terminal() && !*json_output);
    report = check_consistency((*dir)->backends(), flags->values.count("repair") > 0, [&](const work_progress& p) {
      meter.update(p.items_done, p.items_total, p.bytes_done, p.bytes_total);
    });
  }
  if (*json_output) {
    nlohmann::json j = {{"blobs_checked", report.blobs_checked},
                        {"references_checked", report.references_checked},
                        {"problems", report.problems},
                        {"quarantined", report.quarantined}};
    std::cout << j.dump(2) << "\n";
    return report.problems.empty() ? 0 : 1;
  }
  for (const auto& p : report.problems) std::printf("problem: %s\n", p.c_str());
  for (const auto& q : report.quarantined) std::printf("quarantined: %s\n", q.c_str());
  std::printf("fsck: %s, %s checked, %s\n", counted(report.blobs_checked, "blob", "blobs").c_str(),
              counted(report.references_checked, "reference", "references").c_str(),
              counted(report.problems.size(), "problem", "problems").c_str());
  return report.problems.empty() ? 0 : 1;
}

int lifecycle_command(const std::vector<std::string>& args) {
  if (args.empty() || args[0] != "run") {
    std::cout << "Usage: berth lifecycle run [--data-dir DIR] [--config FILE] [--repository NAME] [--dry-run]\n"
                 "                           [--output text|json]\n\n"
                 "Applies the repositories' lifecycle policies now (all, or one), as the server does on its\n"
                 "schedule; --dry-run only reports what would be expired or archived, and why.\n";
    return args.empty() ? 2 : (args[0] == "--help" || args[0] == "-h" ? 0 : 2);
  }
  auto flags = parse_flags({args.begin() + 1, args.end()}, {"data-dir", "config", "repository", "output"}, {"dry-run"},
                           "lifecycle run");
  if (!flags) return fail(flags.error_value().message);
  auto json_output = json_wanted(flags->values);
  if (!json_output) return fail(json_output.error_value().message);
  if (flags->help) return lifecycle_command({});
  auto dir = open_for_command(flags->values);
  if (!dir) return fail(dir.error_value().message);
  auto& runner = *(*dir)->lifecycle;
  bool dry = flags->values.count("dry-run") > 0;
  std::vector<lifecycle_run_report> reports;
  if (auto it = flags->values.find("repository"); it != flags->values.end()) {
    auto r = runner.run(it->second, dry);
    if (!r) return fail(r.error_value().message);
    reports.push_back(std::move(r).value());
  } else {
    reports = runner.run_all(dry);
  }
  if (*json_output) {
    auto out = nlohmann::json::array();
    for (const auto& r : reports) {
      auto actions = nlohmann::json::array();
      for (const auto& a : r.actions) {
        actions.push_back({{"action", a.what.action},
                           {"digest", a.what.digest},
                           {"tags", a.tags},
                           {"rule_priority", a.what.rule_priority}});
      }
      out.push_back({{"repository", r.repository}, {"dry_run", dry}, {"applied", r.applied}, {"actions", actions}});
    }
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::size_t total = 0;
  for (const auto& r : reports) {
    for (const auto& a : r.actions) {
      std::string tags;
      for (const auto& t : a.tags) tags += (tags.empty() ? "" : ",") + t;
      std::printf("%s %s %s@%s [%s] rule %lld\n", dry ? "would" : "did",
                  a.what.action == "EXPIRE" ? "expire" : "archive", r.repository.c_str(), a.what.digest.c_str(),
                  tags.empty() ? "untagged" : tags.c_str(), static_cast<long long>(a.what.rule_priority));
    }
    total += dry ? r.actions.size() : r.applied;
  }
  std::printf("lifecycle: %s, %s %s\n", counted(reports.size(), "repository", "repositories").c_str(),
              counted(total, "image", "images").c_str(), dry ? "would be acted on" : "acted on");
  return 0;
}

int usage_command(const std::vector<std::string>& args) {
  auto flags = parse_flags(args, {"data-dir", "config", "output"}, {}, "usage");
  if (!flags) return fail(flags.error_value().message);
  if (flags->help) {
    std::cout << "Usage: berth usage [--data-dir DIR] [--config FILE] [--output text|json]\n\n"
                 "Per repository: images, tags and the size of the distinct blobs its manifests reference\n"
                 "(a blob shared by repositories counts in each; it is stored once). --output json gives\n"
                 "exact byte counts for scripts.\n";
    return 0;
  }
  const auto output = flags->values.count("output") ? flags->values.at("output") : std::string("text");
  if (output != "text" && output != "json") return fail("--output must be text or json");
  const bool json_output = output == "json";
  auto dir = open_for_command(flags->values);
  if (!dir) return fail(dir.error_value().message);
  auto rows = storage_usage((*dir)->backends());
  if (!rows) return fail(rows.error_value().message);
  if (json_output) {
    auto out = nlohmann::json::array();
    for (const auto& r : *rows) {
      out.push_back({{"repository", r.repository},
                     {"images", r.images},
                     {"tags", r.tags},
                     {"referenced_bytes", r.referenced_bytes}});
    }
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::printf("%-50s %8s %8s %12s\n", "REPOSITORY", "IMAGES", "TAGS", "SIZE");
  std::int64_t images = 0, total = 0;
  for (const auto& r : *rows) {
    std::printf("%-50s %8lld %8lld %12s\n", r.repository.c_str(), static_cast<long long>(r.images),
                static_cast<long long>(r.tags), human_size(static_cast<std::uint64_t>(r.referenced_bytes)).c_str());
    images += r.images;
    total += r.referenced_bytes;
  }
  std::printf("%s, %s, %s referenced\n", counted(rows->size(), "repository", "repositories").c_str(),
              counted(static_cast<std::uint64_t>(images), "image", "images").c_str(),
              human_size(static_cast<std::uint64_t>(total)).c_str());
  return 0;
}

}  // namespace berth::cli
