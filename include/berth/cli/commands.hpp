// Subcommands of the berth executable.
#pragma once

#include <string>
#include <vector>

namespace berth::cli {

int serve_command(const std::vector<std::string>& args);
int gc_command(const std::vector<std::string>& args);
int fsck_command(const std::vector<std::string>& args);
int lifecycle_command(const std::vector<std::string>& args);
int usage_command(const std::vector<std::string>& args);
int backup_command(const std::vector<std::string>& args);
int restore_command(const std::vector<std::string>& args);
int repo_command(const std::vector<std::string>& args);
int image_command(const std::vector<std::string>& args);
int cert_command(const std::vector<std::string>& args);
int user_command(const std::vector<std::string>& args);
int key_command(const std::vector<std::string>& args);
int policy_command(const std::vector<std::string>& args);
int health_command(const std::vector<std::string>& args);

// Sets up spdlog on stderr: "text" (human) or "json" (one object per line).
void configure_logging(const std::string& format, const std::string& level);

}  // namespace berth::cli
