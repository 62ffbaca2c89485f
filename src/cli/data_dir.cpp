#include "berth/cli/data_dir.hpp"

#include <filesystem>

namespace berth::cli {

result<std::unique_ptr<data_dir>> open_data_dir(const config::settings& cfg) {
  std::filesystem::path path = cfg.data_dir;
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) return make_error(errc::internal, "cannot create data directory '" + path.string() + "': " + ec.message());
  auto d = std::make_unique<data_dir>();
  auto blobs = storage::filesystem_blob_store::open(path);
  if (!blobs) return blobs.take_error();
  d->blobs = std::move(blobs).value();
  auto meta = meta::sqlite_meta_index::open(path / "berth.db");
  if (!meta) return make_error(errc::internal, "metadata: " + meta.error_value().message);
  d->meta = std::move(meta).value();
  d->repositories = std::make_unique<repository_catalog>(*d->meta, d->clk, cfg.account_id);
  d->reg = std::make_unique<registry>(*d->blobs, *d->meta, *d->repositories, d->clk,
                                      registry_options{cfg.upload_expiry_seconds,
                                                       cfg.max_upload_sessions_per_repository});
  d->reg->recover();
  return d;
}

}  // namespace berth::cli
