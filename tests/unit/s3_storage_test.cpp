// The blob store suite on the S3 backend against a real Ceph RGW, and what only an object store
// has: sessions cut into multipart parts, continued by any server, server-side copies in parts,
// presigned redirects, and an outage the store recovers from without being reopened.
#include "berth/storage/s3_storage.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include "../../src/storage/s3/s3_client.hpp"
#include "../../src/storage/s3/s3_layout.hpp"
#include "../common/rgw_server.hpp"
#include "berth/http/http_client.hpp"
#include "blob_store_suite.hpp"

namespace berth::testing_support {
namespace {

struct s3_backend {
  s3_backend() {
    EXPECT_TRUE(rgw_server::shared().ok()) << rgw_server::shared().error();
    options = rgw_server::shared().options();
    options.part_size = 5u * 1024 * 1024;
  }
  storage::s3_storage open() {
    auto s = storage::open_s3_storage(options);
    EXPECT_TRUE(s) << s.error_value().message;
    return s ? std::move(s).value() : storage::s3_storage{};
  }
  // A child process opens the store, runs `f` and dies with _exit: no destructor, no flush.
  template <class F>
  void crash(F&& f) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto s = storage::open_s3_storage(options);
      if (!s) ::_exit(2);
      f(*s);
      ::_exit(0);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the step itself failed";
  }
  storage::s3_options options;
};

}  // namespace

INSTANTIATE_TYPED_TEST_SUITE_P(s3, blob_store_suite, s3_backend);

namespace {

constexpr std::uint64_t small_part = 256 * 1024;

class s3_storage_test : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(rgw_server::shared().ok()) << rgw_server::shared().error();
    options = rgw_server::shared().options();
    options.part_size = small_part;
    store = open();
    ASSERT_TRUE(store.blobs && store.uploads) << "the store did not open";
  }
  storage::s3_storage open() {
    auto s = storage::open_s3_storage(options);
    EXPECT_TRUE(s) << s.error_value().message;
    return s ? std::move(s).value() : storage::s3_storage{};
  }
  // One request of a session: a fresh store each time, as if another server took it.
  std::uint64_t request(const std::string& id, std::uint64_t offset, const std::string& bytes, hasher& h,
                        bool do_flush = true) {
    auto other = open();
    auto sink = other.uploads->open_upload(id, offset, h);
    EXPECT_TRUE(sink) << (sink ? "" : sink.error_value().message);
    if (!sink) return 0;
    (*sink)->expect(std::nullopt);
    for (std::size_t i = 0; i < bytes.size(); i += 70001) {
      EXPECT_TRUE((*sink)->append(bytes.data() + i, std::min<std::size_t>(70001, bytes.size() - i)));
    }
    if (do_flush) {
      EXPECT_TRUE((*sink)->flush());
    }
    return (*sink)->size();
  }
  void commit(const std::string& id, std::uint64_t size, const digest& d) {
    hasher unused;
    auto other = open();
    auto sink = other.uploads->open_upload(id, size, unused);
    ASSERT_TRUE(sink) << sink.error_value().message;
    ASSERT_TRUE((*sink)->commit(d)) << "commit";
  }
  std::string blob(const digest& d) {
    auto b = store.blobs->open_blob(d);
    EXPECT_TRUE(b);
    if (!b) return {};
    auto bytes = (*b)->bytes(0, (*b)->size(), false);
    EXPECT_TRUE(bytes);
    return bytes ? read_all(*reader_for(std::move(bytes).value())) : std::string();
  }
  std::unique_ptr<storage::s3::s3_client> raw_client() {
    auto c = storage::s3::s3_client::connect(options);
    EXPECT_TRUE(c);
    return c ? std::move(c).value() : nullptr;
  }

  storage::s3_options options;
  storage::s3_storage store;
};

TEST_F(s3_storage_test, a_session_of_many_parts_commits_exactly_its_bytes) {
  auto data = random_bytes(5 * small_part + 123, 11);
  auto id = new_upload_id();
  ASSERT_TRUE(store.uploads->create_upload(id));
  hasher h;
  ASSERT_EQ(request(id, 0, data, h), data.size());
  ASSERT_EQ(h.peek(), digest_of(data));
  commit(id, data.size(), h.peek());
  commit(id, data.size(), h.peek());  // again, from another server: the multipart upload is complete
  EXPECT_EQ(store.blobs->stat_blob(h.peek()).value(), std::optional<std::uint64_t>(data.size()));
  EXPECT_EQ(blob(h.peek()), data);
  auto reader = store.uploads->read_upload(id);
  ASSERT_TRUE(reader);
  EXPECT_EQ(read_all(**reader), data);
  store.uploads->remove_upload(id);
  EXPECT_EQ(blob(h.peek()), data);
}

// Each PATCH of a chunked upload on a different server, some ending inside a part, some exactly
// on a part boundary.
TEST_F(s3_storage_test, any_server_continues_any_session) {
  auto data = random_bytes(4 * small_part + 999, 12);
  const std::vector<std::size_t> cuts = {
      100, small_part - 100, small_part, small_part + 1, 3 * small_part, 3 * small_part + 50000, data.size()};
  auto id = new_upload_id();
  ASSERT_TRUE(store.uploads->create_upload(id));
  std::string state = hasher().export_state();
  std::size_t at = 0;
  for (auto cut : cuts) {
    auto h = *hasher::import_state(state);
    ASSERT_EQ(request(id, at, data.substr(at, cut - at), h), cut);
    state = h.export_state();
    at = cut;
  }
  auto h = *hasher::import_state(state);
  ASSERT_EQ(h.peek(), digest_of(data));
  commit(id, data.size(), h.peek());
  EXPECT_EQ(blob(h.peek()), data);
}

// A request that never checkpointed went past a part boundary (its part was uploaded, its tail
// written): the session continues from the checkpoint, and the committed blob holds none of it.
TEST_F(s3_storage_test, bytes_past_the_checkpoint_are_dropped_even_across_parts) {
  auto one = random_bytes(small_part + small_part / 2, 13);
  auto lost = random_bytes(2 * small_part + 7, 14);
  auto two = random_bytes(2 * small_part + small_part / 3, 15);
  auto id = new_upload_id();
  ASSERT_TRUE(store.uploads->create_upload(id));
  hasher h;
  ASSERT_EQ(request(id, 0, one, h), one.size());
  const auto checkpoint = h.export_state();
  auto discarded = *hasher::import_state(checkpoint);
  request(id, one.size(), lost, discarded);
  auto resumed = *hasher::import_state(checkpoint);
  ASSERT_EQ(request(id, one.size(), two, resumed), one.size() + two.size());
  ASSERT_EQ(resumed.peek(), digest_of(one + two));
  commit(id, one.size() + two.size(), resumed.peek());
  EXPECT_EQ(blob(resumed.peek()), one + two);
}

TEST_F(s3_storage_test, a_checkpoint_past_the_parts_is_refused_with_what_the_session_holds) {
  auto data = random_bytes(2 * small_part + 1000, 16);
  auto id = new_upload_id();
  ASSERT_TRUE(store.uploads->create_upload(id));
  hasher h;
  ASSERT_EQ(request(id, 0, data, h), data.size());
  for (std::uint64_t beyond : {data.size() + 1, 4 * small_part, 4 * small_part + 5}) {
    hasher h2;
    auto sink = store.uploads->open_upload(id, beyond, h2);
    ASSERT_FALSE(sink) << beyond;
    EXPECT_EQ(sink.error_value().code, errc::upload_out_of_order);
    EXPECT_EQ(std::get<upload_detail>(sink.error_value().detail).size, data.size());
  }
}

// Blobs over max_single_copy are committed, trashed and restored with UploadPartCopy.
TEST_F(s3_storage_test, large_blobs_are_copied_in_parts) {
  options.max_single_copy = small_part;
  store = open();
  auto data = random_bytes(3 * small_part + 5, 17);
  auto id = new_upload_id();
  ASSERT_TRUE(store.uploads->create_upload(id));
  hasher h;
  ASSERT_EQ(request(id, 0, data, h), data.size());
  commit(id, data.size(), h.peek());
  EXPECT_EQ(blob(h.peek()), data);
  ASSERT_TRUE(store.blobs->trash_blob(h.peek()));
  EXPECT_EQ(store.blobs->stat_blob(h.peek()).value(), std::nullopt);
  ASSERT_TRUE(store.blobs->restore_blob(h.peek()));
  EXPECT_EQ(blob(h.peek()), data);
}

TEST_F(s3_storage_test, removing_a_session_aborts_its_multipart_upload) {
  auto id = new_upload_id();
  ASSERT_TRUE(store.uploads->create_upload(id));
  hasher h;
  request(id, 0, random_bytes(2 * small_part + 3, 18), h);
  auto client = raw_client();
  ASSERT_TRUE(client);
  EXPECT_EQ(client->list_multipart(storage::s3::upload_prefix(id)).value().size(), 1u);
  store.uploads->remove_upload(id);
  EXPECT_TRUE(client->list_multipart(storage::s3::upload_prefix(id)).value().empty());
  EXPECT_TRUE(client->list(storage::s3::upload_prefix(id)).value().objects.empty());
  EXPECT_TRUE(store.uploads->list_uploads().empty());
}

TEST_F(s3_storage_test, a_redirecting_store_hands_out_presigned_urls_that_work) {
  options.redirect = true;
  store = open();
  auto data = random_bytes(300000, 19);
  auto id = new_upload_id();
  ASSERT_TRUE(store.uploads->create_upload(id));
  hasher h;
  ASSERT_EQ(request(id, 0, data, h), data.size());
  commit(id, data.size(), h.peek());
  auto b = store.blobs->open_blob(h.peek());
  ASSERT_TRUE(b);
  auto where = (*b)->bytes(0, data.size(), true);
  ASSERT_TRUE(where);
  ASSERT_TRUE(std::holds_alternative<redirect_source>(*where));
  const auto& url = std::get<redirect_source>(*where).url;
  ASSERT_TRUE(url.starts_with(options.endpoint + "/")) << url;
  auto http = http::make_http_client(options.endpoint);
  ASSERT_TRUE(http);
  http::client_request get{"GET", url.substr(options.endpoint.size()), {}, {}};
  auto got = (*http)->send(get);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 200u);
  EXPECT_EQ(got->body, data);
  get.headers.emplace_back("Range", "bytes=10-19");  // a client's own Range works on the URL
  got = (*http)->send(get);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 206u);
  EXPECT_EQ(got->body, data.substr(10, 10));
  // Without permission to redirect (an ECR layer download through Berth), the bytes come through.
  auto streamed = (*b)->bytes(5, 10, false);
  ASSERT_TRUE(streamed);
  EXPECT_EQ(read_all(*reader_for(std::move(streamed).value())), data.substr(5, 10));
}

// The gateway goes away and comes back: calls fail as unavailable meanwhile, then the same store
// object works again (its pooled connections to the dead gateway are replaced).
TEST_F(s3_storage_test, an_outage_is_unavailable_and_recovers_without_reopening) {
  auto id = new_upload_id();
  ASSERT_TRUE(store.uploads->create_upload(id));
  hasher h;
  auto sink = store.uploads->open_upload(id, 0, h);
  ASSERT_TRUE(sink);
  ASSERT_TRUE((*sink)->append("abc", 3));
  ASSERT_TRUE((*sink)->commit(h.peek()));
  ASSERT_TRUE(rgw_server::shared().stop_gateway());
  auto down = store.blobs->stat_blob(h.peek());
  EXPECT_FALSE(down);
  if (!down) {
    EXPECT_EQ(down.error_value().code, errc::unavailable);
  }
  auto down_open = store.blobs->open_blob(h.peek());
  EXPECT_FALSE(down_open);
  if (!down_open) {
    EXPECT_EQ(down_open.error_value().code, errc::unavailable);
  }
  ASSERT_TRUE(rgw_server::shared().start_gateway());
  EXPECT_EQ(store.blobs->stat_blob(h.peek()).value(), std::optional<std::uint64_t>(3));
  EXPECT_EQ(blob(h.peek()), "abc");
}

// Streams read the way the transport reads them (whole 256 KiB chunks, several at once): every
// read fills the buffer, the body parser reports a full buffer, and no stream is cut short.
TEST_F(s3_storage_test, concurrent_streams_in_whole_chunks_deliver_every_byte) {
  auto data = random_bytes(3 * small_part + 4321, 20);
  auto id = new_upload_id();
  ASSERT_TRUE(store.uploads->create_upload(id));
  hasher h;
  ASSERT_EQ(request(id, 0, data, h), data.size());
  commit(id, data.size(), h.peek());
  auto b = store.blobs->open_blob(h.peek());
  ASSERT_TRUE(b);
  std::vector<std::string> got(4);
  std::vector<std::thread> readers;
  for (auto& out : got) {
    readers.emplace_back([&, blob = *b] {
      auto bytes = blob->bytes(0, data.size(), false);
      if (!bytes) return;
      auto reader = reader_for(std::move(bytes).value());
      std::vector<char> chunk(256 * 1024);
      for (;;) {
        auto n = reader->read(chunk.data(), chunk.size());
        if (!n || *n == 0) return;
        out.append(chunk.data(), *n);
      }
    });
  }
  for (auto& t : readers) t.join();
  for (const auto& out : got) EXPECT_TRUE(out == data) << out.size() << " of " << data.size() << " bytes";
}

TEST(s3_client, lists_more_than_one_page) {
  ASSERT_TRUE(rgw_server::shared().ok()) << rgw_server::shared().error();
  auto options = rgw_server::shared().options();
  auto storage = storage::open_s3_storage(options);
  ASSERT_TRUE(storage);
  auto client = storage::s3::s3_client::connect(options);
  ASSERT_TRUE(client);
  for (int i = 0; i < 1005; ++i) ASSERT_TRUE((*client)->put_object("many/" + std::to_string(i), "x"));
  auto listed = (*client)->list("many/");
  ASSERT_TRUE(listed);
  EXPECT_EQ(listed->objects.size(), 1005u);
  EXPECT_GT(listed->objects.front().modified, 1700000000);
}

TEST(s3_client, parses_s3_times) {
  EXPECT_EQ(storage::s3::parse_iso8601("2026-12-02T04:44:54.000Z"), 1796186694);
  EXPECT_EQ(storage::s3::parse_iso8601("2026-12-02T04:44:54Z"), 1796186694);
  EXPECT_EQ(storage::s3::parse_iso8601("yesterday"), 0);
}

}  // namespace
}  // namespace berth::testing_support
