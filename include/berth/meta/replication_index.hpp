// Metadata role: replication's durable work. A job is one image (and one of its tags, "" for a
// push by digest) to copy to one destination registry; the manifest write that makes it necessary
// inserts it in the same transaction (manifest_write::replicate_to), so a push that committed is
// never lost, and a push that did not leaves nothing. Workers on any server claim a job for a
// while, copy, and mark it COMPLETE, set it back with a later attempt time, or mark it FAILED.
// Rows stay after completion: they are what DescribeImageReplicationStatus reports.
// Replicated blobs remember a repository on each peer that holds a digest, so another repository
// there can mount it instead of receiving its bytes again.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "berth/core/error.hpp"

namespace berth::meta {

struct replication_job_row {
  std::string repository;
  std::string digest;
  std::string tag;  // "" for the manifest by digest
  std::string region;
  std::string registry_id;
  std::string status;  // IN_PROGRESS | COMPLETE | FAILED
  std::int64_t attempts = 0;
  std::int64_t next_at = 0;
  std::string failure;  // failureCode (FAILED), or the last error of a retried attempt
  // Moves each time a push enqueues the job again: a worker's outcome applies only to the
  // generation it claimed.
  std::int64_t generation = 0;
};

class replication_index {
 public:
  virtual ~replication_index() = default;

  // The job due first (IN_PROGRESS, next_at <= now) nobody holds, held by `holder` until `until`.
  virtual result<std::optional<replication_job_row>> claim_due(const std::string& holder, std::int64_t now,
                                                               std::int64_t until) = 0;
  virtual result<void> complete(const replication_job_row& r) = 0;
  // Released for another attempt at `next_at` (attempts + 1, the error kept for the log).
  virtual result<void> retry(const replication_job_row& r, std::int64_t next_at, const std::string& error) = 0;
  virtual result<void> fail(const replication_job_row& r, const std::string& failure_code) = 0;
  // A long copy keeps its hold (false: the job was taken by another holder or pushed again).
  virtual result<bool> extend(const replication_job_row& r, const std::string& holder, std::int64_t until) = 0;
  // At start-up: the jobs a predecessor under the same name held when it died are due again now.
  virtual result<void> release(const std::string& holder) = 0;
  // The image is gone from its repository: nothing to replicate.
  virtual result<void> drop(const replication_job_row& r) = 0;
  // Every job of one image, ordered by destination then tag.
  virtual result<std::vector<replication_job_row>> jobs_of(const std::string& repository,
                                                           const std::string& digest) = 0;

  // A repository on the destination known to hold `digest`, if any.
  virtual result<std::optional<std::string>> blob_holder(const std::string& region, const std::string& registry_id,
                                                         const std::string& digest) = 0;
  virtual result<void> note_blob(const std::string& region, const std::string& registry_id, const std::string& digest,
                                 const std::string& repository) = 0;
};

}  // namespace berth::meta
