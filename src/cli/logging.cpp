#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <ctime>

#include "berth/cli/commands.hpp"

namespace berth::cli {
namespace {

// JSON lines with the message escaped properly (a pattern string cannot escape it).
class json_formatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    auto t = std::chrono::system_clock::to_time_t(msg.time);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char stamp[40];
    std::size_t n = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    std::snprintf(stamp + n, sizeof stamp - n, ".%03dZ", static_cast<int>(ms));
    auto level = spdlog::level::to_string_view(msg.level);
    std::string_view payload(msg.payload.data(), msg.payload.size());
    nlohmann::json j = {{"time", stamp}, {"level", std::string(level.data(), level.size())}};
    // Audit and access lines (request_log.cpp) carry their fields as JSON: they become the line's own.
    std::string_view kind = payload.starts_with("audit {") ? "audit" : payload.starts_with("access {") ? "access" : "";
    auto fields =
        kind.empty() ? nlohmann::json() : nlohmann::json::parse(payload.substr(kind.size() + 1), nullptr, false);
    if (fields.is_object()) {
      j["msg"] = std::string(kind);
      for (auto& [k, v] : fields.items()) j[k] = std::move(v);
    } else {
      j["msg"] = std::string(payload);
    }
    auto text = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    dest.append(text.data(), text.data() + text.size());
    dest.push_back('\n');
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<json_formatter>(); }
};

}  // namespace

void configure_logging(const std::string& format, const std::string& level) {
  auto logger = std::make_shared<spdlog::logger>("berth", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  if (format == "json") {
    logger->set_formatter(std::make_unique<json_formatter>());
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v", spdlog::pattern_time_type::utc);
  }
  logger->set_level(spdlog::level::from_str(level));
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

}  // namespace berth::cli
