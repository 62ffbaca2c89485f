#include "berth/config/config.hpp"

#include <gtest/gtest.h>

#include <fstream>

using namespace berth::config;

namespace {
std::string no_env(const char*) { return {}; }
std::string some_env(const char* name) {
  std::string n = name;
  if (n == "BERTH_LISTEN") return "127.0.0.1:7000";
  if (n == "BERTH_DATA_DIR") return "/env/data";
  return {};
}
}  // namespace

TEST(config, defaults) {
  auto s = load({}, no_env);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->listen, "0.0.0.0:5000");
  EXPECT_EQ(s->data_dir, "./berth-data");
  EXPECT_EQ(s->upload_expiry_seconds, 86400);
}

TEST(config, flag_beats_env_beats_file) {
  auto path = testing::TempDir() + "/berth-config-test.json";
  std::ofstream(path) << R"({"listen":"127.0.0.1:6000","data_dir":"/file/data","log":{"format":"json"}})";
  auto file_only = load({{"config", path}}, no_env);
  ASSERT_TRUE(file_only) << file_only.error_value().message;
  EXPECT_EQ(file_only->listen, "127.0.0.1:6000");
  EXPECT_EQ(file_only->log_format, "json");
  auto with_env = load({{"config", path}}, some_env);
  ASSERT_TRUE(with_env);
  EXPECT_EQ(with_env->listen, "127.0.0.1:7000");
  EXPECT_EQ(with_env->data_dir, "/env/data");
  auto with_flag = load({{"config", path}, {"listen", "[::1]:8000"}}, some_env);
  ASSERT_TRUE(with_flag);
  EXPECT_EQ(with_flag->listen, "[::1]:8000");
}

TEST(config, rejects_bad_values) {
  EXPECT_FALSE(load({{"listen", "nonsense"}}, no_env));
  EXPECT_FALSE(load({{"listen", "1.2.3.4:70000"}}, no_env));
  EXPECT_FALSE(load({{"log-format", "xml"}}, no_env));
  EXPECT_FALSE(load({{"config", "/nonexistent/berth.json"}}, no_env));
  EXPECT_FALSE(apply_json({}, "{"));
  EXPECT_FALSE(apply_json({}, R"({"lisen":"x"})"));
  EXPECT_FALSE(apply_json({}, R"({"uploads":{"expiry_seconds":-1}})"));
  EXPECT_FALSE(apply_json({}, R"({"http":{"worker_threads":0}})"));
}

TEST(config, listen_forms) {
  auto v6 = parse_listen("[::1]:5000");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 5000);
  auto v4 = parse_listen("0.0.0.0:0");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->port, 0);
}

TEST(config, metadata_driver_and_dsn) {
  auto s = load({}, no_env);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->metadata_driver, "sqlite");
  auto pg =
      apply_json(settings{}, R"({"metadata":{"driver":"postgres","dsn":"postgresql://b@h/db","max_connections":4}})");
  ASSERT_TRUE(pg) << pg.error_value().message;
  EXPECT_EQ(pg->metadata_driver, "postgres");
  EXPECT_EQ(pg->metadata_dsn, "postgresql://b@h/db");
  EXPECT_EQ(pg->metadata_max_connections, 4);
  auto env = load({}, [](const char* name) -> std::string {
    std::string n = name;
    if (n == "BERTH_METADATA_DRIVER") return "postgres";
    if (n == "BERTH_METADATA_DSN") return "host=127.0.0.1 dbname=berth";
    return {};
  });
  ASSERT_TRUE(env) << env.error_value().message;
  EXPECT_EQ(env->metadata_dsn, "host=127.0.0.1 dbname=berth");
  // postgres without a DSN, an unknown driver, an unknown key: refused at start
  EXPECT_FALSE(load({}, [](const char* name) -> std::string {
    return std::string(name) == "BERTH_METADATA_DRIVER" ? "postgres" : "";
  }));
  EXPECT_FALSE(load(
      {}, [](const char* name) -> std::string { return std::string(name) == "BERTH_METADATA_DRIVER" ? "mysql" : ""; }));
  EXPECT_FALSE(apply_json(settings{}, R"({"metadata":{"drvier":"sqlite"}})"));
}
