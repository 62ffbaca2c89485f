// A metadata backend: its roles, each a small interface. SQLite implements them by default
// (sqlite_metadata.hpp); every backend passes the suites in tests/unit/metadata_suite.hpp.
#pragma once

#include "berth/meta/blob_index.hpp"
#include "berth/meta/cache_index.hpp"
#include "berth/meta/event_index.hpp"
#include "berth/meta/identity_index.hpp"
#include "berth/meta/image_index.hpp"
#include "berth/meta/lease_index.hpp"
#include "berth/meta/lifecycle_index.hpp"
#include "berth/meta/maintenance_index.hpp"
#include "berth/meta/replication_index.hpp"
#include "berth/meta/repository_index.hpp"
#include "berth/meta/secret_index.hpp"
#include "berth/meta/settings_index.hpp"
#include "berth/meta/statistics_index.hpp"
#include "berth/meta/upload_index.hpp"
#include "berth/meta/vault_index.hpp"

namespace berth::meta {

class metadata_store {
 public:
  virtual ~metadata_store() = default;

  virtual repository_index& repositories() = 0;
  virtual image_index& images() = 0;
  virtual blob_index& blobs() = 0;
  virtual upload_index& uploads() = 0;
  virtual settings_index& settings() = 0;
  virtual lifecycle_index& lifecycle() = 0;
  virtual maintenance_index& maintenance() = 0;
  virtual lease_index& leases() = 0;
  virtual secret_index& secrets() = 0;
  virtual identity_index& identities() = 0;
  virtual vault_index& vault() = 0;
  virtual cache_index& cache() = 0;
  virtual replication_index& replication() = 0;
  virtual statistics_index& statistics() = 0;
  virtual event_index& events() = 0;

  // Gives back memory held for speed (idle connections, caches); called when the server is idle.
  virtual void release_memory() {}
};

}  // namespace berth::meta
