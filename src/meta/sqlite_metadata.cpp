// The SQLite metadata backend: one connection pool (a writer and readers) shared by its roles.
#include "berth/meta/sqlite_metadata.hpp"

#include "berth/meta/migrations.hpp"
#include "sqlite_roles.hpp"

namespace berth::meta {
namespace {

class sqlite_metadata final : public metadata_store {
 public:
  explicit sqlite_metadata(std::unique_ptr<connection_pool> pool)
      : pool_(std::move(pool)),
        repositories_(*pool_),
        images_(*pool_),
        blobs_(*pool_),
        uploads_(*pool_),
        settings_(*pool_),
        lifecycle_(*pool_),
        maintenance_(*pool_),
        leases_(*pool_) {}

  repository_index& repositories() override { return repositories_; }
  image_index& images() override { return images_; }
  blob_index& blobs() override { return blobs_; }
  upload_index& uploads() override { return uploads_; }
  settings_index& settings() override { return settings_; }
  lifecycle_index& lifecycle() override { return lifecycle_; }
  maintenance_index& maintenance() override { return maintenance_; }
  lease_index& leases() override { return leases_; }

  void release_memory() override {
    pool_->close_idle_readers(2);
    sqlite3_release_memory(64 << 20);
  }

 private:
  std::unique_ptr<connection_pool> pool_;
  sqlite_repository_index repositories_;
  sqlite_image_index images_;
  sqlite_blob_index blobs_;
  sqlite_upload_index uploads_;
  sqlite_settings_index settings_;
  sqlite_lifecycle_index lifecycle_;
  sqlite_maintenance_index maintenance_;
  sqlite_lease_index leases_;
};

}  // namespace

result<std::unique_ptr<metadata_store>> open_sqlite_metadata(const std::filesystem::path& db_path) {
  auto pool = connection_pool::open(db_path.string());
  if (!pool) return pool.take_error();
  {
    auto lock = (*pool)->lock_writer();
    if (auto r = migrate((*pool)->writer()); !r) return r.take_error();
  }
  return std::unique_ptr<metadata_store>(new sqlite_metadata(std::move(pool).value()));
}

}  // namespace berth::meta
