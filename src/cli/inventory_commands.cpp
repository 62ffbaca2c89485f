// berth repo list, berth image list REPO: what a data directory holds, for people (a table with
// human sizes and UTC times) or scripts (--output json, exact numbers).
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "berth/cli/commands.hpp"
#include "berth/cli/data_dir.hpp"
#include "berth/cli/failure.hpp"
#include "berth/cli/flags.hpp"
#include "berth/cli/text_output.hpp"

namespace berth::cli {
namespace {

constexpr std::size_t page_size = 500;

int repo_list(const std::vector<std::string>& args) {
  auto flags = parse_flags(args, {"data-dir", "config", "output"}, {}, "repo list");
  if (!flags) return fail(flags.error_value().message);
  if (flags->help) {
    std::cout << "Usage: berth repo list [--data-dir DIR] [--config FILE] [--output text|json]\n\n"
                 "Every repository: when it was created, its tag mutability and scan-on-push setting.\n";
    return 0;
  }
  auto json_output = json_wanted(flags->values);
  if (!json_output) return fail(json_output.error_value().message);
  auto dir = open_for_command(flags->values);
  if (!dir) return fail(dir.error_value().message);
  auto out = nlohmann::json::array();
  std::size_t n = 0;
  if (!*json_output) std::printf("%-50s %-22s %-26s %s\n", "REPOSITORY", "CREATED", "TAG MUTABILITY", "SCAN ON PUSH");
  for (std::string after;;) {
    auto rows = (*dir)->repositories->list(after, page_size);
    if (!rows) return fail(rows.error_value().message);
    for (const auto& r : *rows) {
      ++n;
      if (*json_output) {
        out.push_back({{"repository", r.name},
                       {"created_at", r.created_at},
                       {"image_tag_mutability", r.config.image_tag_mutability},
                       {"scan_on_push", r.config.scan_on_push}});
      } else {
        std::printf("%-50s %-22s %-26s %s\n", r.name.c_str(), utc_time(r.created_at).c_str(),
                    r.config.image_tag_mutability.c_str(), r.config.scan_on_push ? "yes" : "no");
      }
    }
    if (rows->size() < page_size) break;
    after = rows->back().name;
  }
  if (*json_output) {
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    std::printf("%s\n", counted(n, "repository", "repositories").c_str());
  }
  return 0;
}

int image_list(const std::vector<std::string>& args) {
  if (args.empty() || args[0].starts_with("-")) {
    std::cout << "Usage: berth image list REPOSITORY [--data-dir DIR] [--config FILE] [--output text|json]\n\n"
                 "Every image of a repository, newest push first: digest, tags (or untagged), size, when\n"
                 "it was pushed and last pulled.\n";
    return args.empty() || (args[0] != "-h" && args[0] != "--help") ? 2 : 0;
  }
  const std::string repo = args[0];
  auto flags = parse_flags({args.begin() + 1, args.end()}, {"data-dir", "config", "output"}, {}, "image list");
  if (!flags) return fail(flags.error_value().message);
  auto json_output = json_wanted(flags->values);
  if (!json_output) return fail(json_output.error_value().message);
  auto dir = open_for_command(flags->values);
  if (!dir) return fail(dir.error_value().message);
  auto images = (*dir)->reg->all_images(repo);
  if (!images) return fail(images.error_value().message);
  std::stable_sort(images->begin(), images->end(),
                   [](const image_info& a, const image_info& b) { return a.pushed_at > b.pushed_at; });
  if (*json_output) {
    auto out = nlohmann::json::array();
    for (const auto& i : *images) {
      out.push_back({{"digest", i.digest},
                     {"tags", i.tags},
                     {"media_type", i.media_type},
                     {"image_size", i.image_size},
                     {"pushed_at", i.pushed_at},
                     {"last_pulled_at", i.last_pulled_at},
                     {"archived", i.archived}});
    }
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::printf("%-73s %-30s %10s %-22s %s\n", "DIGEST", "TAGS", "SIZE", "PUSHED", "PULLED");
  for (const auto& i : *images) {
    std::string tags;
    for (const auto& t : i.tags) tags += (tags.empty() ? "" : ",") + t;
    std::printf("%-73s %-30s %10s %-22s %s%s\n", i.digest.c_str(), tags.empty() ? "untagged" : tags.c_str(),
                human_size(static_cast<std::uint64_t>(i.image_size)).c_str(), utc_time(i.pushed_at).c_str(),
                utc_time(i.last_pulled_at).c_str(), i.archived ? " (archived)" : "");
  }
  std::printf("%s in %s\n", counted(images->size(), "image", "images").c_str(), repo.c_str());
  return 0;
}

}  // namespace

int repo_command(const std::vector<std::string>& args) {
  if (!args.empty() && args[0] == "list") return repo_list({args.begin() + 1, args.end()});
  std::cout << "Usage: berth repo list [--data-dir DIR] [--config FILE] [--output text|json]\n";
  return args.empty() || (args[0] != "-h" && args[0] != "--help") ? 2 : 0;
}

int image_command(const std::vector<std::string>& args) {
  if (!args.empty() && args[0] == "list") return image_list({args.begin() + 1, args.end()});
  std::cout << "Usage: berth image list REPOSITORY [--data-dir DIR] [--config FILE] [--output text|json]\n";
  return args.empty() || (args[0] != "-h" && args[0] != "--help") ? 2 : 0;
}

}  // namespace berth::cli
