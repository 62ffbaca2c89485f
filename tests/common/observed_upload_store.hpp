// The real upload store, seen through a window: counts how often a session's bytes are read back
// and can pretend the store's epoch changed (as after a machine restart). Not a mock: every call
// reaches the real store.
#pragma once

#include <atomic>

#include "berth/storage/upload_store.hpp"

namespace berth::testing_support {

class observed_upload_store final : public storage::upload_store {
 public:
  explicit observed_upload_store(storage::upload_store& real) : real_(real) {}

  result<void> create_upload(const std::string& id) override { return real_.create_upload(id); }
  result<std::unique_ptr<storage::upload_sink>> open_upload(const std::string& id, std::uint64_t offset,
                                                            hasher& hash) override {
    return real_.open_upload(id, offset, hash);
  }
  result<std::unique_ptr<byte_reader>> read_upload(const std::string& id) override {
    ++reads;
    return real_.read_upload(id);
  }
  void remove_upload(const std::string& id) override { real_.remove_upload(id); }
  std::vector<std::string> list_uploads() override { return real_.list_uploads(); }
  std::string epoch() const override { return epoch_override.empty() ? real_.epoch() : epoch_override; }

  std::atomic<int> reads{0};
  std::string epoch_override;

 private:
  storage::upload_store& real_;
};

}  // namespace berth::testing_support
