// Metadata role: manifests, tags and the images they make. Each rule that must hold with several
// writers (tag immutability, tag moves, "an image an index lists cannot be deleted") is one call,
// done in one transaction.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "berth/core/error.hpp"
#include "berth/meta/rows.hpp"

namespace berth::meta {

class image_index {
 public:
  virtual ~image_index() = default;

  virtual result<std::optional<manifest_row>> manifest_by_digest(const std::string& repo,
                                                                 const std::string& digest) = 0;
  virtual result<std::optional<manifest_row>> manifest_by_tag(const std::string& repo, const std::string& tag) = 0;

  // One step: the repository exists (name_unknown), every blob is linked to it and not being
  // collected (manifest_blob_unknown, digest_detail), every child manifest is in it
  // (referenced_images_not_found), no immutable tag moves (tag_immutable, tag_detail), the
  // reject_unchanged check (image_already_exists); then the manifest, its references and its tags.
  virtual result<void> put_manifest(const manifest_write& m) = 0;

  // BatchDeleteImage in one step. With a digest: that image and all its tags (with a tag as well,
  // the tag must name the digest: image_digest_mismatch). With a tag only: the tag, and the image
  // too when it was its last tag. image_not_found; image_referenced_by_index (digest_detail: the
  // index) when an index lists the image. Returns what was removed; `announce` (if any) makes the
  // events of each removed (digest, tag), written with the deletion.
  virtual result<std::vector<image_ref>> delete_image(const std::string& repo, const std::string& digest,
                                                      const std::string& tag,
                                                      const deletion_events* announce = nullptr) = 0;
  virtual result<bool> delete_tag(const std::string& repo, const std::string& tag,
                                  const deletion_events* announce = nullptr) = 0;

  virtual result<std::vector<std::string>> tags(const std::string& repo, const std::string& after,
                                                std::size_t limit) = 0;
  // Images ordered by digest, strictly after `after`, at most `limit`; name_unknown.
  virtual result<std::vector<image_row>> images(const std::string& repo, tag_filter filter, const std::string& after,
                                                std::size_t limit) = 0;
  // (digest, tag) pairs as ListImages lists them (an untagged image once, with tag ""), ordered by
  // (digest, tag), strictly after `after`; name_unknown.
  virtual result<std::vector<image_ref>> image_refs(const std::string& repo, tag_filter filter, const image_ref& after,
                                                    std::size_t limit) = 0;
  // The image a digest and/or a tag names (both: they must agree).
  virtual result<std::optional<image_row>> find_image(const std::string& repo, const std::string& digest,
                                                      const std::string& tag) = 0;
  // Indexes in the repository that list `digest`.
  virtual result<std::vector<std::string>> parent_indexes(const std::string& repo, const std::string& digest) = 0;
  // Manifests whose subject is `subject` (OCI referrers), ordered by digest.
  virtual result<std::vector<referrer_row>> referrers(const std::string& repo, const std::string& subject) = 0;

  virtual result<void> record_pulls(const std::vector<std::pair<std::string, std::string>>& repo_digest,
                                    std::int64_t when) = 0;
  // ARCHIVE or STANDARD; false when the image is absent.
  virtual result<bool> set_storage_class(const std::string& repo, const std::string& digest, bool archived,
                                         std::int64_t now) = 0;
};

}  // namespace berth::meta
