#include "berth/config/config.hpp"

#include <gtest/gtest.h>

#include <map>

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

TEST(config, storage_driver_and_s3_keys) {
  auto s = load({}, no_env);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->storage_driver, "filesystem");
  auto s3 = apply_json(settings{}, R"({"storage":{"driver":"s3","s3":{"endpoint":"http://127.0.0.1:7480",
      "region":"eu-west-1","bucket":"berth","access_key_id":"AK","secret_access_key":"SK","path_style":false,
      "redirect":true,"part_size":8388608}}})");
  ASSERT_TRUE(s3) << s3.error_value().message;
  EXPECT_EQ(s3->s3_endpoint, "http://127.0.0.1:7480");
  EXPECT_EQ(s3->s3_region, "eu-west-1");
  EXPECT_EQ(s3->s3_bucket, "berth");
  EXPECT_EQ(s3->s3_access_key_id, "AK");
  EXPECT_EQ(s3->s3_secret_access_key, "SK");
  EXPECT_FALSE(s3->s3_path_style);
  EXPECT_TRUE(s3->s3_redirect);
  EXPECT_EQ(s3->s3_part_size, 8388608);
  static std::map<std::string, std::string> vars;
  vars = {{"BERTH_STORAGE_DRIVER", "s3"},       {"BERTH_S3_ENDPOINT", "https://s3.example"},
          {"BERTH_S3_BUCKET", "b-1"},           {"BERTH_S3_ACCESS_KEY_ID", "AK"},
          {"BERTH_S3_SECRET_ACCESS_KEY", "SK"}, {"BERTH_S3_REDIRECT", "true"},
          {"BERTH_S3_PATH_STYLE", "false"},     {"BERTH_S3_PART_SIZE", "6291456"}};
  auto lookup = [](const char* name) -> std::string {
    auto it = vars.find(name);
    return it == vars.end() ? std::string() : it->second;
  };
  auto env = load({}, lookup);
  ASSERT_TRUE(env) << env.error_value().message;
  EXPECT_EQ(env->s3_endpoint, "https://s3.example");
  EXPECT_TRUE(env->s3_redirect);
  EXPECT_FALSE(env->s3_path_style);
  EXPECT_EQ(env->s3_part_size, 6291456);
  // refused at start: a part size S3 does not take, no bucket, a bad boolean, an unknown key
  vars["BERTH_S3_PART_SIZE"] = "1048576";
  EXPECT_FALSE(load({}, lookup));
  vars["BERTH_S3_PART_SIZE"] = "6291456";
  vars["BERTH_S3_REDIRECT"] = "yes please";
  EXPECT_FALSE(load({}, lookup));
  vars["BERTH_S3_REDIRECT"] = "false";
  vars["BERTH_S3_BUCKET"] = "";
  EXPECT_FALSE(load({}, lookup));
  vars["BERTH_S3_BUCKET"] = "Not_A_Bucket";
  EXPECT_FALSE(load({}, lookup));
  EXPECT_FALSE(apply_json(settings{}, R"({"storage":{"s3":{"endpiont":"x"}}})"));
  EXPECT_FALSE(apply_json(settings{}, R"({"storage":{"s3":{"redirect":"true"}}})"));
}

TEST(config, replication_peers_and_tuning) {
  auto s = apply_json(settings{}, R"({"replication":{"peers":[{"region":"eu-west-1","registry_id":"210987654321",
    "endpoint":"http://127.0.0.1:5001","access_key_id":"AKIA1","secret_access_key":"s"}],
    "retry_base_seconds":1,"retry_max_seconds":2,"max_attempts":3,"workers":4}})");
  ASSERT_TRUE(s) << s.error_value().message;
  ASSERT_EQ(s->replication_peers.size(), 1u);
  EXPECT_EQ(s->replication_peers[0].registry_id, "210987654321");
  EXPECT_EQ(s->replication_peers[0].endpoint, "http://127.0.0.1:5001");
  EXPECT_EQ((std::vector<std::int64_t>{s->replication_retry_base_seconds, s->replication_retry_max_seconds,
                                       s->replication_max_attempts, s->replication_workers}),
            (std::vector<std::int64_t>{1, 2, 3, 4}));
  EXPECT_TRUE(settings{}.replication_peers.empty());
  auto refused = [](const std::string& text, const std::string& words) {
    auto r = apply_json(settings{}, text);
    ASSERT_FALSE(r) << text;
    EXPECT_NE(r.error_value().message.find(words), std::string::npos) << r.error_value().message;
  };
  const std::string peer =
      R"("region":"eu-west-1","endpoint":"http://h:1","access_key_id":"a","secret_access_key":"s")";
  refused(R"({"replication":{"peers":[{)" + peer + R"(,"registry_id":"12"}]}})", "registry_id must be 12 digits");
  refused(R"({"replication":{"peers":[{"region":"eu-west-1","registry_id":"210987654321","endpoint":"h:1",)"
          R"("access_key_id":"a","secret_access_key":"s"}]}})",
          "endpoint must be http(s)://host[:port]");
  refused(R"({"replication":{"peers":[{"region":"eu-west-1","registry_id":"210987654321","endpoint":"http://h:1",)"
          R"("access_key_id":"a"}]}})",
          "secret_access_key is required");
  refused(R"({"replication":{"peers":[{)" + peer + R"(,"registry_id":"210987654321"},{)" + peer +
              R"(,"registry_id":"210987654321"}]}})",
          "repeats the destination");
  refused(R"({"replication":{"peers":[{)" + peer + R"(,"registry_id":"210987654321","extra":1}]}})", "extra");
  refused(R"({"replication":{"workers":65}})", "at most 64");
  refused(R"({"replication":{"workers":0}})", "at least 1");
  refused(R"({"replication":{"retry_base_seconds":700}})", "must not exceed");
  refused(R"({"replication":{"max_attempts":100001}})", "at most 100000");
}

TEST(config, listen_forms_users_of_other_registries_write) {
  auto all = parse_listen(":5000");
  ASSERT_TRUE(all);
  EXPECT_EQ(all->host, "0.0.0.0");
  EXPECT_EQ(all->port, 5000);
  auto named = parse_listen("localhost:5001");
  ASSERT_TRUE(named);
  EXPECT_EQ(named->host, "localhost");
  EXPECT_FALSE(parse_listen("5000"));
  EXPECT_FALSE(parse_listen("localhost:http"));
}

TEST(config, mistakes_are_explained) {
  auto syntax = apply_json({}, "{\n  \"listen\": \"127.0.0.1:5000\",\n  \"gc\": {\"grace_seconds\": 5,}\n}");
  ASSERT_FALSE(syntax);
  EXPECT_NE(syntax.error_value().message.find("not valid JSON: line 3, column "), std::string::npos)
      << syntax.error_value().message;
  // Found by fuzz_config: a number beyond a double is refused, not thrown.
  auto huge = apply_json({}, R"({"gc":{"grace_seconds":2e999}})");
  ASSERT_FALSE(huge);
  EXPECT_EQ(huge.error_value().message.rfind("not valid JSON: number overflow", 0), 0u) << huge.error_value().message;
  auto prefix = apply_json({}, R"({"gc":{"grace":5}})");
  ASSERT_FALSE(prefix);
  EXPECT_EQ(prefix.error_value().message, "unknown configuration key gc.grace (did you mean gc.grace_seconds?)");
  auto typo = apply_json({}, R"({"lisen":"x"})");
  ASSERT_FALSE(typo);
  EXPECT_EQ(typo.error_value().message, "unknown configuration key lisen (did you mean listen?)");
  auto nothing_close = apply_json({}, R"({"log":{"zzzzzz":1}})");
  ASSERT_FALSE(nothing_close);
  EXPECT_EQ(nothing_close.error_value().message, "unknown configuration key log.zzzzzz");
}

TEST(config, observability_keys) {
  auto s = apply_json({}, R"({"log":{"access":true},"metrics":{"listen":"127.0.0.1:9100","public":true}})");
  ASSERT_TRUE(s) << s.error_value().message;
  EXPECT_TRUE(s->access_log);
  EXPECT_EQ(s->metrics_listen, "127.0.0.1:9100");
  EXPECT_TRUE(s->metrics_public);
  auto env = [](const char* n) -> std::string {
    std::string name = n;
    if (name == "BERTH_METRICS_LISTEN") return ":9100";
    if (name == "BERTH_ACCESS_LOG") return "true";
    return {};
  };
  auto e = load({}, env);
  ASSERT_TRUE(e) << e.error_value().message;
  EXPECT_EQ(e->metrics_listen, ":9100");
  EXPECT_TRUE(e->access_log);
  EXPECT_TRUE(load({{"access-log", "true"}}, no_env)->access_log);
  auto same = load({{"listen", "127.0.0.1:5000"}, {"metrics-listen", "127.0.0.1:5000"}}, no_env);
  ASSERT_FALSE(same);
  EXPECT_EQ(same.error_value().message, "metrics.listen must differ from the main listen address");
  EXPECT_FALSE(load({{"metrics-listen", "nine"}}, no_env));
}

TEST(config, event_webhooks_and_tuning) {
  auto s = apply_json(settings{}, R"({"events":{"webhooks":[{"url":"http://127.0.0.1:8080/hook","secret":"k"},
    {"url":"https://events.example.com/ecr"}],"retry_base_seconds":2,"retry_max_seconds":60,"max_attempts":7,
    "timeout_seconds":3}})");
  ASSERT_TRUE(s) << s.error_value().message;
  ASSERT_EQ(s->event_webhooks.size(), 2u);
  EXPECT_EQ(s->event_webhooks[0].secret, "k");
  EXPECT_EQ(s->event_webhooks[1].secret, "");
  EXPECT_EQ((std::vector<std::int64_t>{s->events_retry_base_seconds, s->events_retry_max_seconds,
                                       s->events_max_attempts, s->events_timeout_seconds}),
            (std::vector<std::int64_t>{2, 60, 7, 3}));
  EXPECT_TRUE(settings{}.event_webhooks.empty());
  auto refused = [](const std::string& text, const std::string& words) {
    auto r = apply_json(settings{}, text);
    ASSERT_FALSE(r) << text;
    EXPECT_NE(r.error_value().message.find(words), std::string::npos) << r.error_value().message;
  };
  refused(R"({"events":{"webhooks":[{"url":"ftp://h/x"}]}})", "events.webhooks[0].url must be an http");
  refused(R"({"events":{"webhooks":[{"url":"http:///x"}]}})", "must be an http");
  refused(R"({"events":{"webhooks":[{"url":"http://h/x"},{"url":"http://h/x"}]}})", "repeats the webhook");
  refused(R"({"events":{"webhooks":[{"url":"http://h/x","secert":"k"}]}})", "did you mean events.webhooks[0].secret");
  refused(R"({"events":{"webhooks":{"url":"http://h/x"}}})", "must be an array");
  refused(R"({"events":{"timeout_seconds":301}})", "at most 300");
  refused(R"({"events":{"max_attempts":0}})", "at least 1");
  refused(R"({"events":{"retry_base_seconds":10,"retry_max_seconds":5}})", "must not exceed");
  refused(R"({"event":{}})", "did you mean events");
}

TEST(config, ecr_hostnames_from_file_environment_and_flag) {
  EXPECT_FALSE(load({}, no_env)->ecr_hostnames);
  auto file = apply_json({}, R"({"registry":{"ecr_hostnames":true}})");
  ASSERT_TRUE(file) << file.error_value().message;
  EXPECT_TRUE(file->ecr_hostnames);
  EXPECT_FALSE(apply_json({}, R"({"registry":{"ecr_hostnames":"yes"}})"));
  auto env =
      load({}, [](const char* n) -> std::string { return std::string(n) == "BERTH_ECR_HOSTNAMES" ? "true" : ""; });
  ASSERT_TRUE(env) << env.error_value().message;
  EXPECT_TRUE(env->ecr_hostnames);
  EXPECT_FALSE(
      load({}, [](const char* n) -> std::string { return std::string(n) == "BERTH_ECR_HOSTNAMES" ? "maybe" : ""; }));
  auto flag = load({{"ecr-hostnames", ""}}, no_env);
  ASSERT_TRUE(flag);
  EXPECT_TRUE(flag->ecr_hostnames);
  auto both = load({{"ecr-hostnames", ""}, {"public-host", "registry.internal:5000"}}, no_env);
  ASSERT_FALSE(both);
  EXPECT_EQ(both.error_value().message,
            "registry.public_host and registry.ecr_hostnames both name the registry's host; set one of them");
}
