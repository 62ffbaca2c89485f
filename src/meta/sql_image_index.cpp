// Manifests, tags and images in SQL (SQLite and PostgreSQL). The rules that must hold with several writers are each one
// transaction here: put_manifest (references, immutability, tag moves) and delete_image (the
// index check and the deletion).
#include <algorithm>

#include "sql_roles.hpp"

namespace berth::meta {

using namespace sql_rows;

namespace {

// A SQL literal (the statement cache is keyed by its address), so a macro.
#define BERTH_IMAGE_COLUMNS                                                                                   \
  "digest, media_type, COALESCE(config_media_type, ''), COALESCE(artifact_type, ''), COALESCE(subject, ''), " \
  "size, image_size, pushed_at, COALESCE(last_pulled_at, 0), storage_class = 'ARCHIVE', "                     \
  "COALESCE(last_archived_at, 0), COALESCE(last_activated_at, 0)"

constexpr auto read_image = [](const auto& s) -> image_row {
  image_row r;
  r.digest = s.text(0);
  r.media_type = s.text(1);
  r.config_media_type = s.text(2);
  r.artifact_type = s.text(3);
  r.subject = s.text(4);
  r.manifest_size = s.int64(5);
  r.image_size = s.int64(6);
  r.pushed_at = s.int64(7);
  r.last_pulled_at = s.int64(8);
  r.archived = s.boolean(9);
  r.last_archived_at = s.int64(10);
  r.last_activated_at = s.int64(11);
  return r;
};

constexpr auto read_manifest = [](const auto& s) -> manifest_row {
  return manifest_row{s.text(0), s.text(1), s.int64(2), s.blob(3), s.int64(4), s.boolean(5)};
};

std::int64_t filter_code(tag_filter f) {
  switch (f) {
    case tag_filter::any: return 0;
    case tag_filter::tagged: return 1;
    case tag_filter::untagged: return 2;
  }
  return 0;
}

// Fills in the tags of `rows` (ordered by digest) with one range query.
template <class Db>
result<void> attach_tags(Db& db, std::int64_t rid, std::vector<image_row>& rows) {
  if (rows.empty()) return {};
  auto pairs = db.all(
      "SELECT digest, name FROM tags WHERE repository_id = ? AND digest >= ? AND digest <= ? ORDER BY digest, name",
      [](const auto& s) { return std::make_pair(s.text(0), s.text(1)); }, rid, rows.front().digest, rows.back().digest);
  if (!pairs) return pairs.take_error();
  std::size_t i = 0;
  for (auto& [d, name] : *pairs) {
    while (i < rows.size() && rows[i].digest < d) ++i;
    if (i < rows.size() && rows[i].digest == d) rows[i].tags.push_back(std::move(name));
  }
  return {};
}

template <class Db>
result<std::optional<std::string>> tag_target(Db& db, std::int64_t rid, const std::string& tag) {
  return db.one("SELECT digest FROM tags WHERE repository_id = ? AND name = ?", text_column, rid, tag);
}

// The events a deletion announces, in its transaction (the rows carry the deletion's time).
template <class Db>
result<void> announce_removal(Db& db, const std::string& repo, const std::vector<image_ref>& removed,
                              const deletion_events* announce) {
  if (!announce || !announce->make) return {};
  std::vector<outbox_event> events;
  for (const auto& ref : removed) {
    auto more = announce->make(repo, ref);
    events.insert(events.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
  }
  return insert_events(db, events, announce->at);
}

}  // namespace

template <class Pool>
result<std::optional<manifest_row>> sql_image_index<Pool>::manifest_by_digest(const std::string& repo,
                                                                              const std::string& digest) {
  return pool_.read([&](auto& db) {
    return db.one(
        "SELECT m.digest, m.media_type, m.size, m.content, m.pushed_at, m.storage_class = 'ARCHIVE' FROM manifests m "
        "JOIN repositories r ON r.id = m.repository_id WHERE r.name = ? AND m.digest = ?",
        read_manifest, repo, digest);
  });
}

template <class Pool>
result<std::optional<manifest_row>> sql_image_index<Pool>::manifest_by_tag(const std::string& repo,
                                                                           const std::string& tag) {
  return pool_.read([&](auto& db) {
    return db.one(
        "SELECT m.digest, m.media_type, m.size, m.content, m.pushed_at, m.storage_class = 'ARCHIVE' FROM repositories "
        "r "
        "JOIN tags t ON t.repository_id = r.id "
        "JOIN manifests m ON m.repository_id = r.id AND m.digest = t.digest WHERE r.name = ? AND t.name = ?",
        read_manifest, repo, tag);
  });
}

template <class Pool>
result<void> sql_image_index<Pool>::put_manifest(const manifest_write& m) {
  return pool_.write([&](auto& db) -> result<void> {
    auto rid = require_repository(db, m.repository);
    if (!rid) return rid.take_error();
    if (m.reject_unchanged) {
      auto same = m.tags.empty()
                      ? db.exists("SELECT 1 FROM manifests WHERE repository_id = ? AND digest = ?", *rid, m.digest)
                      : db.exists("SELECT 1 FROM tags WHERE repository_id = ? AND name = ? AND digest = ?", *rid,
                                  m.tags.front(), m.digest);
      if (!same) return same.take_error();
      if (*same) return make_error(errc::image_already_exists, m.digest);
    }
    for (const auto& b : m.blob_refs) {
      auto linked = db.exists(
          "SELECT 1 FROM repository_blobs l JOIN blobs b ON b.digest = l.digest "
          "WHERE l.repository_id = ? AND l.digest = ? AND b.deleting = 0",
          *rid, b);
      if (!linked) return linked.take_error();
      if (!*linked) return make_error(errc::manifest_blob_unknown, "blob unknown to registry: " + b, digest_detail{b});
    }
    std::int64_t image_size = m.image_size;
    for (const auto& c : m.manifest_refs) {
      auto child =
          db.one("SELECT image_size FROM manifests WHERE repository_id = ? AND digest = ?", int_column, *rid, c);
      if (!child) return child.take_error();
      if (!*child) {
        return make_error(errc::referenced_images_not_found, "manifest unknown to registry: " + c, digest_detail{c});
      }
      if (m.image_size_from_children) image_size = std::max(image_size, **child);
    }
    for (const auto& t : m.immutable_tags) {
      auto current = tag_target(db, *rid, t);
      if (!current) return current.take_error();
      if (*current && **current != m.digest) return make_error(errc::tag_immutable, t, tag_detail{t});
    }
    // Re-pushing identical bytes keeps the original push time.
    auto inserted = db.run(
        "INSERT INTO manifests(repository_id, digest, media_type, size, content, artifact_type, subject, annotations, "
        "pushed_at, image_size, config_media_type) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(repository_id, digest) DO NOTHING",
        *rid, m.digest, m.media_type, m.content.size(), as_blob(m.content), or_null(m.artifact_type),
        or_null(m.subject), or_null(m.annotations), m.pushed_at, image_size, or_null(m.config_media_type));
    if (!inserted) return inserted.take_error();
    auto add_ref = [&](const std::string& child, bool is_manifest) {
      return db.run(
          "INSERT INTO manifest_references(repository_id, manifest_digest, child_digest, child_is_manifest) "
          "VALUES(?, ?, ?, ?) ON CONFLICT DO NOTHING",
          *rid, m.digest, child, is_manifest);
    };
    for (const auto& b : m.blob_refs) {
      if (auto r = add_ref(b, false); !r) return r.take_error();
    }
    for (const auto& c : m.manifest_refs) {
      if (auto r = add_ref(c, true); !r) return r.take_error();
    }
    for (const auto& t : m.tags) {
      auto r = db.run(
          "INSERT INTO tags(repository_id, name, digest, updated_at) VALUES(?, ?, ?, ?) "
          "ON CONFLICT(repository_id, name) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at",
          *rid, t, m.digest, m.pushed_at);
      if (!r) return r.take_error();
    }
    // Replication jobs, in this transaction: a committed push is never left unreplicated. Pushed
    // again, a job is due again (a new generation), whatever became of it before.
    static const std::vector<std::string> by_digest{""};
    for (const auto& [region, registry_id] : m.replicate_to) {
      for (const auto& t : m.tags.empty() ? by_digest : m.tags) {
        auto r = db.run(
            "INSERT INTO replication_jobs(repository, digest, tag, region, registry_id, status, attempts, next_at, "
            "failure, generation, holder, held_until) VALUES(?, ?, ?, ?, ?, 'IN_PROGRESS', 0, ?, '', 1, '', 0) "
            "ON CONFLICT(repository, digest, region, registry_id, tag) DO UPDATE SET status = 'IN_PROGRESS', "
            "attempts = 0, next_at = excluded.next_at, failure = '', holder = '', held_until = 0, "
            "generation = replication_jobs.generation + 1",
            m.repository, m.digest, t, region, registry_id, m.pushed_at);
        if (!r) return r.take_error();
      }
    }
    return insert_events(db, m.events, m.pushed_at);
  });
}

template <class Pool>
result<std::vector<image_ref>> sql_image_index<Pool>::delete_image(const std::string& repo, const std::string& digest,
                                                                   const std::string& tag,
                                                                   const deletion_events* announce) {
  return pool_.write([&](auto& db) -> result<std::vector<image_ref>> {
    auto rid = require_repository(db, repo);
    if (!rid) return rid.take_error();
    std::string target = digest;
    if (target.empty()) {
      auto t = tag_target(db, *rid, tag);
      if (!t) return t.take_error();
      if (!*t) return make_error(errc::image_not_found, "Requested image not found");
      target = **t;
    } else {
      auto present = db.exists("SELECT 1 FROM manifests WHERE repository_id = ? AND digest = ?", *rid, target);
      if (!present) return present.take_error();
      if (!*present) return make_error(errc::image_not_found, "Requested image not found");
      if (!tag.empty()) {
        auto t = tag_target(db, *rid, tag);
        if (!t) return t.take_error();
        if (!*t || **t != target) {
          return make_error(errc::image_digest_mismatch, "The image tag does not match the image digest");
        }
      }
    }
    auto tags =
        db.all("SELECT name FROM tags WHERE repository_id = ? AND digest = ? ORDER BY name", text_column, *rid, target);
    if (!tags) return tags.take_error();
    std::vector<image_ref> removed;
    if (!tag.empty() && digest.empty() && tags->size() > 1) {
      // Only this tag goes; the image keeps its other tags.
      if (auto r = db.run("DELETE FROM tags WHERE repository_id = ? AND name = ?", *rid, tag); !r) {
        return r.take_error();
      }
      removed.push_back(image_ref{target, tag});
      if (auto r = announce_removal(db, repo, removed, announce); !r) return r.take_error();
      return removed;
    }
    auto parent = db.one(
        "SELECT manifest_digest FROM manifest_references WHERE repository_id = ? AND child_digest = ? "
        "AND child_is_manifest = 1 ORDER BY manifest_digest LIMIT 1",
        text_column, *rid, target);
    if (!parent) return parent.take_error();
    if (*parent) return make_error(errc::image_referenced_by_index, target, digest_detail{**parent});
    // Tags and references go with the manifest (ON DELETE CASCADE).
    if (auto r = db.run("DELETE FROM manifests WHERE repository_id = ? AND digest = ?", *rid, target); !r) {
      return r.take_error();
    }
    // Deletes are not replicated; what was reported for the image goes with it.
    if (auto r = db.run("DELETE FROM replication_jobs WHERE repository = ? AND digest = ?", repo, target); !r) {
      return r.take_error();
    }
    if (tags->empty()) removed.push_back(image_ref{target, ""});
    for (const auto& t : *tags) removed.push_back(image_ref{target, t});
    if (auto r = announce_removal(db, repo, removed, announce); !r) return r.take_error();
    return removed;
  });
}

template <class Pool>
result<bool> sql_image_index<Pool>::delete_tag(const std::string& repo, const std::string& tag,
                                               const deletion_events* announce) {
  return pool_.write([&](auto& db) -> result<bool> {
    auto rid = repository_id(db, repo);
    if (!rid) return false;
    auto target = tag_target(db, *rid, tag);
    if (!target) return target.take_error();
    if (!*target) return false;
    auto n = db.run("DELETE FROM tags WHERE repository_id = ? AND name = ?", *rid, tag);
    if (!n) return n.take_error();
    if (auto r = announce_removal(db, repo, {image_ref{**target, tag}}, announce); !r) return r.take_error();
    return *n > 0;
  });
}

template <class Pool>
result<std::vector<std::string>> sql_image_index<Pool>::tags(const std::string& repo, const std::string& after,
                                                             std::size_t limit) {
  return pool_.read([&](auto& db) -> result<std::vector<std::string>> {
    auto rid = require_repository(db, repo);
    if (!rid) return rid.take_error();
    return db.all("SELECT name FROM tags WHERE repository_id = ? AND name > ? ORDER BY name LIMIT ?", text_column, *rid,
                  after, limit);
  });
}

template <class Pool>
result<std::vector<image_row>> sql_image_index<Pool>::images(const std::string& repo, tag_filter filter,
                                                             const std::string& after, std::size_t limit) {
  return pool_.read([&](auto& db) -> result<std::vector<image_row>> {
    auto rid = require_repository(db, repo);
    if (!rid) return rid.take_error();
    auto rows = db.all("SELECT " BERTH_IMAGE_COLUMNS
                       " FROM manifests m WHERE repository_id = ?1 AND digest > ?2 "
                       "AND (?3 = 0 OR (?3 = 1) = EXISTS(SELECT 1 FROM tags t WHERE t.repository_id = m.repository_id "
                       "AND t.digest = m.digest)) ORDER BY digest LIMIT ?4",
                       read_image, *rid, after, filter_code(filter), limit);
    if (!rows) return rows.take_error();
    if (auto r = attach_tags(db, *rid, *rows); !r) return r.take_error();
    return rows;
  });
}

template <class Pool>
result<std::vector<image_ref>> sql_image_index<Pool>::image_refs(const std::string& repo, tag_filter filter,
                                                                 const image_ref& after, std::size_t limit) {
  return pool_.read([&](auto& db) -> result<std::vector<image_ref>> {
    auto rid = require_repository(db, repo);
    if (!rid) return rid.take_error();
    return db.all(
        "SELECT m.digest, COALESCE(t.name, '') FROM manifests m "
        "LEFT JOIN tags t ON t.repository_id = m.repository_id AND t.digest = m.digest "
        "WHERE m.repository_id = ?1 AND (m.digest > ?2 OR (m.digest = ?2 AND COALESCE(t.name, '') > ?3)) "
        "AND (?4 = 0 OR (?4 = 1) = (t.name IS NOT NULL)) ORDER BY m.digest, COALESCE(t.name, '') LIMIT ?5",
        [](const auto& s) {
          return image_ref{s.text(0), s.text(1)};
        },
        *rid, after.digest, after.tag, filter_code(filter), limit);
  });
}

template <class Pool>
result<std::optional<image_row>> sql_image_index<Pool>::find_image(const std::string& repo, const std::string& digest,
                                                                   const std::string& tag) {
  return pool_.read([&](auto& db) -> result<std::optional<image_row>> {
    auto rid = require_repository(db, repo);
    if (!rid) return rid.take_error();
    std::string target = digest;
    if (target.empty()) {
      if (tag.empty()) return std::optional<image_row>();
      auto t = tag_target(db, *rid, tag);
      if (!t) return t.take_error();
      if (!*t) return std::optional<image_row>();
      target = **t;
    }
    auto row = db.one("SELECT " BERTH_IMAGE_COLUMNS " FROM manifests m WHERE repository_id = ? AND digest = ?",
                      read_image, *rid, target);
    if (!row) return row.take_error();
    if (!*row) return row;
    std::vector<image_row> one{std::move(**row)};
    if (auto r = attach_tags(db, *rid, one); !r) return r.take_error();
    if (!tag.empty() && std::find(one[0].tags.begin(), one[0].tags.end(), tag) == one[0].tags.end()) {
      return std::optional<image_row>();
    }
    return std::optional<image_row>(std::move(one[0]));
  });
}

template <class Pool>
result<std::vector<std::string>> sql_image_index<Pool>::parent_indexes(const std::string& repo,
                                                                       const std::string& digest) {
  return pool_.read([&](auto& db) {
    return db.all(
        "SELECT manifest_digest FROM manifest_references WHERE repository_id = "
        "(SELECT id FROM repositories WHERE name = ?) AND child_digest = ? AND child_is_manifest = 1 "
        "ORDER BY manifest_digest",
        text_column, repo, digest);
  });
}

template <class Pool>
result<std::vector<referrer_row>> sql_image_index<Pool>::referrers(const std::string& repo,
                                                                   const std::string& subject) {
  return pool_.read([&](auto& db) {
    return db.all(
        "SELECT m.digest, m.media_type, m.size, COALESCE(m.artifact_type, ''), COALESCE(m.annotations, '') "
        "FROM manifests m WHERE m.repository_id = (SELECT id FROM repositories WHERE name = ?) AND m.subject = ? "
        "ORDER BY m.digest",
        [](const auto& s) {
          return referrer_row{s.text(0), s.text(1), s.int64(2), s.text(3), s.text(4)};
        },
        repo, subject);
  });
}

template <class Pool>
result<void> sql_image_index<Pool>::record_pulls(const std::vector<std::pair<std::string, std::string>>& repo_digest,
                                                 std::int64_t when) {
  return pool_.write([&](auto& db) -> result<void> {
    for (const auto& [repo, digest] : repo_digest) {
      auto r = db.run(
          "UPDATE manifests SET last_pulled_at = ? WHERE digest = ? AND "
          "repository_id = (SELECT id FROM repositories WHERE name = ?)",
          when, digest, repo);
      if (!r) return r.take_error();
    }
    return {};
  });
}

template <class Pool>
result<bool> sql_image_index<Pool>::set_storage_class(const std::string& repo, const std::string& digest, bool archived,
                                                      std::int64_t now) {
  return pool_.write([&](auto& db) -> result<bool> {
    auto n = archived ? db.run(
                            "UPDATE manifests SET storage_class = 'ARCHIVE', last_archived_at = ? WHERE digest = ? "
                            "AND repository_id = (SELECT id FROM repositories WHERE name = ?)",
                            now, digest, repo)
                      : db.run(
                            "UPDATE manifests SET storage_class = 'STANDARD', last_activated_at = ? WHERE digest = ? "
                            "AND repository_id = (SELECT id FROM repositories WHERE name = ?)",
                            now, digest, repo);
    if (!n) return n.take_error();
    return *n > 0;
  });
}

template class sql_image_index<connection_pool>;
template class sql_image_index<pg_pool>;

}  // namespace berth::meta
