// The behaviour every blob and upload store must have: one typed suite, instantiated per backend
// (filesystem_storage_test.cpp; an object store instantiates it the same way). A backend type
// provides `open()` returning a struct with `blobs` and `uploads` (unique_ptrs), reopening the same
// store on each call, and `crash(f)`, which runs `f(store)` in a process that then dies without
// cleaning up (the store must be opened inside it).
#pragma once

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "berth/core/names.hpp"
#include "berth/storage/blob_store.hpp"
#include "berth/storage/upload_store.hpp"

namespace berth::testing_support {

inline std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(gen());
  return s;
}

inline std::string read_all(byte_reader& r) {
  std::string out;
  char buf[65536];
  for (;;) {
    auto n = r.read(buf, sizeof buf);
    if (!n || *n == 0) return out;
    out.append(buf, *n);
  }
}

template <class Backend>
class blob_store_suite : public ::testing::Test {
 protected:
  void SetUp() override { store = backend.open(); }
  void reopen() {
    store = {};
    store = backend.open();
  }
  storage::blob_store& blobs() { return *store.blobs; }
  storage::upload_store& uploads() { return *store.uploads; }

  // Appends `bytes` to session `id` from `offset` in pieces of `piece`, as requests do.
  std::uint64_t append(const std::string& id, std::uint64_t offset, const std::string& bytes, hasher& h,
                       std::size_t piece = 65536) {
    auto sink = uploads().open_upload(id, offset, h);
    EXPECT_TRUE(sink) << (sink ? "" : sink.error_value().message);
    if (!sink) return 0;
    (*sink)->expect(bytes.size());
    for (std::size_t i = 0; i < bytes.size(); i += piece) {
      EXPECT_TRUE((*sink)->append(bytes.data() + i, std::min(piece, bytes.size() - i)));
    }
    EXPECT_TRUE((*sink)->flush());
    return (*sink)->size();
  }
  std::string blob_bytes(const digest& d) {
    auto b = blobs().open_blob(d);
    EXPECT_TRUE(b);
    if (!b) return {};
    auto bytes = (*b)->bytes(0, (*b)->size(), false);
    EXPECT_TRUE(bytes);
    if (!bytes) return {};
    return read_all(*reader_for(std::move(bytes).value()));
  }

  Backend backend;
  decltype(std::declval<Backend&>().open()) store;
};

TYPED_TEST_SUITE_P(blob_store_suite);

TYPED_TEST_P(blob_store_suite, an_absent_blob_is_unknown) {
  auto d = digest_of("nothing");
  EXPECT_EQ(this->blobs().open_blob(d).error_value().code, errc::blob_unknown);
  EXPECT_EQ(this->blobs().stat_blob(d).value(), std::nullopt);
}

// Small and large bodies (the large ones take a store's fast path), in pieces that do not line up
// with any block size: every byte reaches the hash once, in order, and the blob is what was sent.
TYPED_TEST_P(blob_store_suite, uploads_hash_every_byte_and_commit_exactly_them) {
  for (std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{4097}, std::size_t{3 * 1024 * 1024 + 11}}) {
    auto data = random_bytes(size, static_cast<unsigned>(size));
    auto id = new_upload_id();
    ASSERT_TRUE(this->uploads().create_upload(id));
    hasher h;
    EXPECT_EQ(this->append(id, 0, data, h, 65536 + 3), size);
    EXPECT_EQ(h.bytes_hashed(), size);
    auto d = h.peek();
    EXPECT_EQ(d, digest_of(data)) << size;
    {
      hasher again;
      auto sink = this->uploads().open_upload(id, size, again);
      ASSERT_TRUE(sink);
      ASSERT_TRUE((*sink)->commit(d));
      ASSERT_TRUE((*sink)->commit(d));  // repeatable: the session keeps its bytes
    }
    EXPECT_EQ(this->blobs().stat_blob(d).value(), std::optional<std::uint64_t>(size));
    EXPECT_EQ(this->blob_bytes(d), data);
    auto reader = this->uploads().read_upload(id);
    ASSERT_TRUE(reader);
    EXPECT_EQ(read_all(**reader), data);
    this->uploads().remove_upload(id);
    EXPECT_EQ(this->blob_bytes(d), data);  // the blob does not depend on the session
  }
}

TYPED_TEST_P(blob_store_suite, a_session_continues_from_its_checkpoint) {
  auto one = random_bytes(700 * 1024 + 5, 1);
  auto extra = random_bytes(1000, 2);
  auto two = random_bytes(600 * 1024 + 9, 3);
  auto id = new_upload_id();
  ASSERT_TRUE(this->uploads().create_upload(id));
  hasher h;
  ASSERT_EQ(this->append(id, 0, one, h), one.size());
  auto checkpoint = h.export_state();
  hasher lost = *hasher::import_state(checkpoint);
  this->append(id, one.size(), extra, lost);  // a request that never checkpointed
  this->reopen();
  auto resumed = *hasher::import_state(checkpoint);
  ASSERT_EQ(this->append(id, one.size(), two, resumed), one.size() + two.size());  // `extra` is dropped
  EXPECT_EQ(resumed.peek(), digest_of(one + two));
  auto reader = this->uploads().read_upload(id);
  ASSERT_TRUE(reader);
  EXPECT_EQ(read_all(**reader), one + two);
  // A checkpoint past what the session holds is refused with what it holds.
  hasher h2;
  auto beyond = this->uploads().open_upload(id, one.size() + two.size() + 1, h2);
  ASSERT_FALSE(beyond);
  EXPECT_EQ(beyond.error_value().code, errc::upload_out_of_order);
  EXPECT_EQ(std::get<upload_detail>(beyond.error_value().detail).size, one.size() + two.size());
}

TYPED_TEST_P(blob_store_suite, sessions_are_listed_and_removed) {
  auto a = new_upload_id();
  auto b = new_upload_id();
  ASSERT_TRUE(this->uploads().create_upload(a));
  ASSERT_TRUE(this->uploads().create_upload(b));
  auto ids = this->uploads().list_uploads();
  std::sort(ids.begin(), ids.end());
  auto want = std::vector<std::string>{a, b};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(ids, want);
  this->uploads().remove_upload(a);
  EXPECT_EQ(this->uploads().list_uploads(), std::vector<std::string>{b});
  hasher h;
  EXPECT_EQ(this->uploads().open_upload(a, 0, h).error_value().code, errc::blob_upload_unknown);
  EXPECT_EQ(this->uploads().read_upload(a).error_value().code, errc::blob_upload_unknown);
}

TYPED_TEST_P(blob_store_suite, the_epoch_holds_across_reopening) {
  auto epoch = this->uploads().epoch();
  EXPECT_FALSE(epoch.empty());
  this->reopen();
  EXPECT_EQ(this->uploads().epoch(), epoch);
}

TYPED_TEST_P(blob_store_suite, ranges_of_a_blob) {
  auto data = random_bytes(100000, 4);
  auto id = new_upload_id();
  ASSERT_TRUE(this->uploads().create_upload(id));
  hasher h;
  auto sink = this->uploads().open_upload(id, 0, h);
  ASSERT_TRUE((*sink)->append(data.data(), data.size()));
  ASSERT_TRUE((*sink)->flush());
  ASSERT_TRUE((*sink)->commit(h.peek()));
  auto b = this->blobs().open_blob(h.peek());
  ASSERT_TRUE(b);
  EXPECT_EQ((*b)->size(), data.size());
  auto part = (*b)->bytes(1000, 5000, false);
  ASSERT_TRUE(part);
  EXPECT_EQ(read_all(*reader_for(std::move(part).value())), data.substr(1000, 5000));
  EXPECT_FALSE((*b)->bytes(99999, 2, false));
}

TYPED_TEST_P(blob_store_suite, trash_restore_purge_and_quarantine) {
  auto put = [&](const std::string& data) {
    auto id = new_upload_id();
    EXPECT_TRUE(this->uploads().create_upload(id));
    hasher h;
    auto sink = this->uploads().open_upload(id, 0, h);
    EXPECT_TRUE((*sink)->append(data.data(), data.size()));
    EXPECT_TRUE((*sink)->commit(h.peek()));
    this->uploads().remove_upload(id);
    return h.peek();
  };
  auto d = put("keep me");
  auto listed = this->blobs().list_blobs();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].first, d);
  ASSERT_TRUE(this->blobs().trash_blob(d));
  EXPECT_FALSE(this->blobs().stat_blob(d).value());
  EXPECT_TRUE(this->blobs().list_blobs().empty());
  EXPECT_EQ(this->blobs().trashed_blobs(), std::vector<digest>{d});
  ASSERT_TRUE(this->blobs().trash_blob(d));  // again: nothing left to move
  ASSERT_TRUE(this->blobs().restore_blob(d));
  EXPECT_EQ(this->blob_bytes(d), "keep me");
  EXPECT_TRUE(this->blobs().trashed_blobs().empty());
  ASSERT_TRUE(this->blobs().trash_blob(d));
  this->blobs().purge_blob(d);
  EXPECT_TRUE(this->blobs().trashed_blobs().empty());
  EXPECT_FALSE(this->blobs().stat_blob(d).value());
  auto bad = put("rotten");
  auto where = this->blobs().quarantine_blob(bad);
  ASSERT_TRUE(where);
  EXPECT_FALSE(where->empty());
  EXPECT_FALSE(this->blobs().stat_blob(bad).value());
}

// Crash consistency: the process dies right after a step, without destructors or flushes.
TYPED_TEST_P(blob_store_suite, a_commit_survives_a_crash_right_after_it) {
  auto data = random_bytes(2 * 1024 * 1024 + 77, 5);
  auto id = new_upload_id();
  ASSERT_TRUE(this->uploads().create_upload(id));
  const auto d = digest_of(data);
  this->backend.crash([&](auto& s) {
    hasher h;
    auto sink = s.uploads->open_upload(id, 0, h);
    if (!sink || !(*sink)->append(data.data(), data.size()) || !(*sink)->commit(d)) std::abort();
  });
  this->reopen();
  EXPECT_EQ(this->blob_bytes(d), data);
  auto listed = this->blobs().list_blobs();
  ASSERT_EQ(listed.size(), 1u);  // no half-committed name is listed as a blob
  EXPECT_EQ(listed[0].first, d);
  auto reader = this->uploads().read_upload(id);  // the session still holds its bytes
  ASSERT_TRUE(reader);
  EXPECT_EQ(read_all(**reader), data);
}

TYPED_TEST_P(blob_store_suite, appended_bytes_survive_a_crash_of_the_process) {
  auto data = random_bytes(1536 * 1024 + 3, 6);
  auto id = new_upload_id();
  ASSERT_TRUE(this->uploads().create_upload(id));
  this->backend.crash([&](auto& s) {
    hasher h;
    auto sink = s.uploads->open_upload(id, 0, h);
    if (!sink || !(*sink)->append(data.data(), data.size()) || !(*sink)->flush()) std::abort();
  });
  this->reopen();
  hasher h;
  auto sink = this->uploads().open_upload(id, data.size(), h);  // the checkpoint a flush allows
  ASSERT_TRUE(sink);
  auto reader = this->uploads().read_upload(id);
  ASSERT_TRUE(reader);
  EXPECT_EQ(read_all(**reader), data);
}

TYPED_TEST_P(blob_store_suite, a_trashed_blob_survives_a_crash_and_can_go_back) {
  auto id = new_upload_id();
  ASSERT_TRUE(this->uploads().create_upload(id));
  hasher h;
  {
    auto sink = this->uploads().open_upload(id, 0, h);
    ASSERT_TRUE((*sink)->append("precious", 8));
    ASSERT_TRUE((*sink)->commit(h.peek()));
  }
  this->uploads().remove_upload(id);
  const auto d = h.peek();
  this->backend.crash([&](auto& s) {
    if (!s.blobs->trash_blob(d)) std::abort();
  });
  this->reopen();
  EXPECT_EQ(this->blobs().trashed_blobs(), std::vector<digest>{d});
  ASSERT_TRUE(this->blobs().restore_blob(d));
  EXPECT_EQ(this->blob_bytes(d), "precious");
}

REGISTER_TYPED_TEST_SUITE_P(blob_store_suite, an_absent_blob_is_unknown,
                            uploads_hash_every_byte_and_commit_exactly_them, a_session_continues_from_its_checkpoint,
                            sessions_are_listed_and_removed, the_epoch_holds_across_reopening, ranges_of_a_blob,
                            trash_restore_purge_and_quarantine, a_commit_survives_a_crash_right_after_it,
                            appended_bytes_survive_a_crash_of_the_process,
                            a_trashed_blob_survives_a_crash_and_can_go_back);

}  // namespace berth::testing_support
