#include "berth/registry/secret_vault.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

#include "berth/core/names.hpp"
#include "berth/meta/metadata_store.hpp"

namespace berth {
namespace {

using json = nlohmann::json;

constexpr std::string_view current_stage = "AWSCURRENT";
constexpr std::string_view previous_stage = "AWSPREVIOUS";
constexpr std::size_t max_value_bytes = 65536;
constexpr int write_attempts = 20;

error no_such_secret() {
  return make_error(errc::secret_not_found, "Secrets Manager can't find the specified secret.");
}

error marked_for_deletion() {
  return make_error(errc::invalid_request,
                    "You can't perform this operation on the secret because it was marked for deletion.");
}

error invalid_name() {
  return make_error(errc::name_invalid,
                    "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: "
                    "-/_+=.@!");
}

// The SDKs always fill the token in (an idempotency token); a raw request must too.
error missing_token() {
  return make_error(errc::invalid_request,
                    "You must provide a ClientRequestToken value. We recommend a UUID-type value.");
}

bool valid_name(const std::string& name) {
  if (name.empty() || name.size() > 512) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("/_+=.@-").find(c) != std::string_view::npos;
  });
}

result<void> check_value(const secret_value& v) {
  if (v.bytes.size() > max_value_bytes) {
    return make_error(errc::invalid_parameter, "The secret value exceeds the maximum size of 65536 bytes.");
  }
  return {};
}

result<void> check_token(const std::string& token) {
  if (token.size() < 32 || token.size() > 64) {
    return make_error(errc::invalid_parameter, "ClientRequestToken must be between 32 and 64 characters long.");
  }
  return {};
}

std::string seal_text(const secret_value& v) { return std::string(v.binary ? "B" : "S") + v.bytes; }

std::vector<std::string> labels_of(const std::string& stages) {
  auto j = json::parse(stages, nullptr, false);
  std::vector<std::string> out;
  if (!j.is_array()) return out;
  for (const auto& s : j)
    if (s.is_string()) out.push_back(s.get<std::string>());
  return out;
}

std::string labels_text(const std::vector<std::string>& labels) { return json(labels).dump(); }

secret_tags tags_of(const std::string& text) {
  auto j = json::parse(text, nullptr, false);
  secret_tags out;
  if (!j.is_array()) return out;
  for (const auto& t : j) {
    if (t.is_object()) out.emplace_back(t.value("Key", std::string()), t.value("Value", std::string()));
  }
  return out;
}

std::string tags_text(const secret_tags& tags) {
  json out = json::array();
  for (const auto& [k, v] : tags) out.push_back({{"Key", k}, {"Value", v}});
  return out.dump();
}

bool has(const std::vector<std::string>& v, std::string_view s) { return std::find(v.begin(), v.end(), s) != v.end(); }

std::int64_t day_of(std::int64_t t) { return t - t % 86400; }

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The words of a text (runs of letters and digits), for the "all" filter.
std::vector<std::string> words_of(const std::string& s) {
  std::vector<std::string> out;
  std::string w;
  for (char c : s + " ") {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      w.push_back(c);
    } else if (!w.empty()) {
      out.push_back(lower(w));
      w.clear();
    }
  }
  return out;
}

// Whether one filter value matches a field, as Secrets Manager filters: a prefix match, with case
// for names and tags, without for descriptions; "all" breaks the value into words and finds each
// as the start of a word of any attribute. "!" negates.
bool matches(const std::string& key, const std::string& field, std::string value) {
  bool negate = false;
  if (!value.empty() && value[0] == '!') {
    negate = true;
    value.erase(0, 1);
  }
  bool hit = false;
  if (key == "all") {
    const auto fields = words_of(field);
    const auto wanted = words_of(value);
    hit = !wanted.empty() && std::all_of(wanted.begin(), wanted.end(), [&](const std::string& w) {
      return std::any_of(fields.begin(), fields.end(), [&](const std::string& f) { return f.starts_with(w); });
    });
  } else if (key == "description") {
    hit = lower(field).starts_with(lower(value));
  } else {
    hit = field.starts_with(value);
  }
  return hit != negate;
}

bool passes(const secret_info& s, const secret_filter& f) {
  auto any = [&](const std::vector<std::string>& fields) {
    for (const auto& v : f.values)
      for (const auto& field : fields)
        if (matches(f.key, field, v)) return true;
    return false;
  };
  std::vector<std::string> keys, values;
  for (const auto& [k, v] : s.tags) {
    keys.push_back(k);
    values.push_back(v);
  }
  if (f.key == "name") return any({s.name});
  if (f.key == "description") return any({s.description});
  if (f.key == "tag-key") return any(keys);
  if (f.key == "tag-value") return any(values);
  if (f.key == "all") {
    std::vector<std::string> all{s.name, s.description};
    all.insert(all.end(), keys.begin(), keys.end());
    all.insert(all.end(), values.begin(), values.end());
    return any(all);
  }
  return false;  // primary-region, owning-service: no secret here has either
}

}  // namespace

std::string secret_vault::arn_prefix() const {
  return "arn:aws:secretsmanager:" + region_ + ":" + account_id_ + ":secret:";
}

result<meta::vault_secret_row> secret_vault::resolve(const std::string& secret_id, bool allow_deleted) {
  auto& vault = backends_.meta.vault();
  std::optional<meta::vault_secret_row> row;
  if (secret_id.starts_with("arn:")) {
    const auto prefix = arn_prefix();
    if (!secret_id.starts_with(prefix)) return no_such_secret();
    const auto rest = secret_id.substr(prefix.size());
    // A full ARN ends with "-" and six random characters; a partial one is the name alone.
    if (rest.size() > 7 && rest[rest.size() - 7] == '-') {
      auto full = vault.find(rest.substr(0, rest.size() - 7));
      if (!full) return full.take_error();
      if (*full && (*full)->arn == secret_id) row = std::move(*full);
    }
    if (!row) {
      auto partial = vault.find(rest);
      if (!partial) return partial.take_error();
      row = std::move(*partial);
    }
  } else {
    if (!valid_name(secret_id)) return invalid_name();
    auto named = vault.find(secret_id);
    if (!named) return named.take_error();
    row = std::move(*named);
  }
  if (!row) return no_such_secret();
  if (row->deletion_date != 0) {
    if (row->deletion_date <= clock_.now_seconds()) {
      // Its recovery window is over: it is gone (removed here, on the first look after).
      if (auto r = vault.remove(row->name); !r) return r.take_error();
      return no_such_secret();
    }
    if (!allow_deleted) return marked_for_deletion();
  }
  return std::move(*row);
}

result<secret_info> secret_vault::info_of(const meta::vault_secret_row& row) {
  secret_info info{row.name,       row.arn,        row.description, row.kms_key_id,    tags_of(row.tags),
                   row.created_at, row.changed_at, row.accessed_at, row.deletion_date, {}};
  auto versions = backends_.meta.vault().versions(row.name);
  if (!versions) return versions.take_error();
  for (const auto& v : *versions) {
    auto labels = labels_of(v.stages);
    if (!labels.empty()) info.versions.emplace_back(v.version_id, std::move(labels));
  }
  return info;
}

result<secret_info> secret_vault::create(const new_secret& s) {
  if (!valid_name(s.name)) return invalid_name();
  if (s.value) {
    if (auto r = check_value(*s.value); !r) return r.take_error();
  }
  if (s.value && s.client_request_token.empty()) return missing_token();
  if (!s.client_request_token.empty()) {
    if (auto r = check_token(s.client_request_token); !r) return r.take_error();
  }
  auto& vault = backends_.meta.vault();
  const auto now = clock_.now_seconds();
  for (int attempt = 0; attempt < 2; ++attempt) {
    meta::vault_secret_row row{
        s.name,
        arn_prefix() + s.name + "-" + random_text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", 6),
        s.description,
        s.kms_key_id,
        tags_text(s.tags),
        now,
        now,
        0,
        0,
        0};
    std::optional<meta::vault_version_row> first;
    if (s.value) {
      const auto& id = s.client_request_token;
      first = meta::vault_version_row{id, sealer_.seal(seal_text(*s.value), row.arn + "/" + id),
                                      labels_text({std::string(current_stage)}), now};
    }
    auto created = vault.create(row, first);
    if (created) return info_of(row);
    if (created.error_value().code != errc::secret_already_exists) return created.take_error();
    // Taken: by a live secret, one in its recovery window, or one whose window is over (gone now).
    auto existing = resolve(s.name, true);
    if (!existing) {
      if (existing.error_value().code == errc::secret_not_found) continue;
      return existing.take_error();
    }
    if (existing->deletion_date != 0) {
      return make_error(errc::invalid_request,
                        "You can't create this secret because a secret with this name is already scheduled for "
                        "deletion.");
    }
    // A retry of this very request (same token, same value) is answered as the first was.
    if (s.value && !s.client_request_token.empty()) {
      auto versions = vault.versions(existing->name);
      if (!versions) return versions.take_error();
      for (const auto& v : *versions) {
        if (v.version_id != s.client_request_token) continue;
        auto opened = sealer_.open(v.sealed_value, existing->arn + "/" + v.version_id);
        if (opened && *opened == seal_text(*s.value)) return info_of(*existing);
      }
    }
    return make_error(errc::secret_already_exists,
                      "The operation failed because the secret " + s.name + " already exists.");
  }
  return make_error(errc::secret_already_exists,
                    "The operation failed because the secret " + s.name + " already exists.");
}

result<secret_version> secret_vault::value(const std::string& secret_id, const std::string& version_id,
                                           const std::string& stage) {
  auto row = resolve(secret_id, false);
  if (!row) return row.take_error();
  auto versions = backends_.meta.vault().versions(row->name);
  if (!versions) return versions.take_error();
  const std::string wanted_stage = stage.empty() && version_id.empty() ? std::string(current_stage) : stage;
  for (const auto& v : *versions) {
    auto labels = labels_of(v.stages);
    if (!version_id.empty() && v.version_id != version_id) continue;
    if (!wanted_stage.empty() && !has(labels, wanted_stage)) {
      if (version_id.empty()) continue;
      return make_error(errc::invalid_request,
                        "You provided a VersionStage that is not associated to the provided VersionId.");
    }
    auto opened = sealer_.open(v.sealed_value, row->arn + "/" + v.version_id);
    if (!opened || opened->empty()) {
      return make_error(errc::unable_to_decrypt_secret,
                        "Secrets Manager can't decrypt the protected secret text using the provided KMS key.");
    }
    const auto today = day_of(clock_.now_seconds());
    if (row->accessed_at < today) (void)backends_.meta.vault().mark_accessed(row->name, today);
    return secret_version{row->name,         row->arn,     v.version_id,
                          std::move(labels), v.created_at, secret_value{(*opened)[0] == 'B', opened->substr(1)}};
  }
  if (!version_id.empty()) {
    return make_error(errc::secret_not_found,
                      "Secrets Manager can't find the specified secret value for VersionId: " + version_id);
  }
  return make_error(errc::secret_not_found,
                    "Secrets Manager can't find the specified secret value for staging label: " + wanted_stage);
}

result<secret_version> secret_vault::put_value(const std::string& secret_id, const std::string& client_request_token,
                                               const secret_value& v, std::vector<std::string> stages) {
  if (auto r = check_value(v); !r) return r.take_error();
  if (client_request_token.empty()) return missing_token();
  const auto& token = client_request_token;
  if (auto r = check_token(token); !r) return r.take_error();
  if (stages.empty()) stages.emplace_back(current_stage);
  std::sort(stages.begin(), stages.end());
  stages.erase(std::unique(stages.begin(), stages.end()), stages.end());
  auto& vault = backends_.meta.vault();
  for (int attempt = 0; attempt < write_attempts; ++attempt) {
    auto row = resolve(secret_id, false);
    if (!row) return row.take_error();
    auto versions = vault.versions(row->name);
    if (!versions) return versions.take_error();
    const auto now = clock_.now_seconds();
    // Idempotent by token: the same value again is the version already made; another value is refused.
    for (const auto& existing : *versions) {
      if (existing.version_id != token) continue;
      auto opened = sealer_.open(existing.sealed_value, row->arn + "/" + existing.version_id);
      if (opened && *opened == seal_text(v)) {
        return secret_version{row->name, row->arn, token, labels_of(existing.stages), existing.created_at, v};
      }
      return make_error(errc::secret_already_exists,
                        "You can't use ClientRequestToken " + token +
                            " because that value is already in use for a version of secret " + row->arn + ".");
    }
    meta::vault_version_change change;
    const bool moves_current = has(stages, current_stage);
    std::vector<std::pair<std::string, std::vector<std::string>>> labels;
    for (const auto& existing : *versions) labels.emplace_back(existing.version_id, labels_of(existing.stages));
    // A label is on one version only: the new one takes each of its labels from wherever it was;
    // the version AWSCURRENT leaves becomes AWSPREVIOUS.
    for (auto& [id, l] : labels) {
      const auto before = l;
      const bool was_current = has(l, current_stage);
      std::erase_if(l, [&](const std::string& s) { return has(stages, s) || (moves_current && s == previous_stage); });
      if (moves_current && was_current) l.emplace_back(previous_stage);
      if (l != before) change.relabelled.emplace_back(id, labels_text(l));
    }
    // At most max_versions: the oldest versions without a label go first.
    std::size_t count = labels.size() + 1;
    for (const auto& entry : labels) {
      if (count <= max_versions) break;
      if (entry.second.empty()) {
        const auto& id = entry.first;
        change.removed.push_back(id);
        std::erase_if(change.relabelled, [&id](const auto& p) { return p.first == id; });
        --count;
      }
    }
    change.added =
        meta::vault_version_row{token, sealer_.seal(seal_text(v), row->arn + "/" + token), labels_text(stages), now};
    auto written = vault.change_versions(row->name, row->revision, change, now);
    if (written) return secret_version{row->name, row->arn, token, stages, now, v};
    if (written.error_value().code == errc::secret_not_found) return no_such_secret();
    if (written.error_value().code != errc::busy) return written.take_error();
  }
  return make_error(errc::busy, "The secret is being changed by another request; try again.");
}

result<secret_info> secret_vault::describe(const std::string& secret_id) {
  auto row = resolve(secret_id, true);
  if (!row) return row.take_error();
  return info_of(*row);
}

result<secret_listing> secret_vault::list(const std::vector<secret_filter>& filters, bool include_planned_deletion,
                                          const std::string& after, std::size_t limit) {
  secret_listing out;
  const auto now = clock_.now_seconds();
  std::string cursor = after;
  for (;;) {
    auto page = backends_.meta.vault().list(cursor, 200);
    if (!page) return page.take_error();
    if (page->empty()) return out;
    for (const auto& row : *page) {
      cursor = row.name;
      if (row.deletion_date != 0 && (row.deletion_date <= now || !include_planned_deletion)) continue;
      auto info = info_of(row);
      if (!info) return info.take_error();
      bool keep = true;
      for (const auto& f : filters) keep = keep && passes(*info, f);
      if (!keep) continue;
      if (out.items.size() == limit) {
        out.next = out.items.back().name;
        return out;
      }
      out.items.push_back(std::move(*info));
    }
  }
}

result<secret_info> secret_vault::remove(const std::string& secret_id, std::optional<int> recovery_days, bool force) {
  if (recovery_days && (*recovery_days < 7 || *recovery_days > 30)) {
    return make_error(errc::invalid_parameter,
                      "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).");
  }
  if (force && recovery_days) {
    return make_error(errc::invalid_parameter,
                      "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.");
  }
  auto& vault = backends_.meta.vault();
  for (int attempt = 0; attempt < write_attempts; ++attempt) {
    auto row = resolve(secret_id, true);
    const auto now = clock_.now_seconds();
    if (!row && force && row.error_value().code == errc::secret_not_found) {
      // Forcing the deletion of a secret that is not there succeeds, as in Secrets Manager.
      const auto name = secret_id.starts_with(arn_prefix()) ? secret_id.substr(arn_prefix().size()) : secret_id;
      secret_info gone;
      gone.name = name;
      gone.arn = secret_id.starts_with("arn:") ? secret_id : arn_prefix() + name;
      gone.deletion_date = now;
      return gone;
    }
    if (!row) return row.take_error();
    if (force) {
      if (auto r = vault.remove(row->name); !r) return r.take_error();
      row->deletion_date = now;
      return info_of(*row);
    }
    if (row->deletion_date != 0) return marked_for_deletion();
    const auto when = now + std::int64_t{86400} * recovery_days.value_or(30);
    auto scheduled = vault.schedule_deletion(row->name, row->revision, when);
    if (scheduled) {
      row->deletion_date = when;
      return info_of(*row);
    }
    if (scheduled.error_value().code == errc::secret_not_found) return no_such_secret();
    if (scheduled.error_value().code != errc::busy) return scheduled.take_error();
  }
  return make_error(errc::busy, "The secret is being changed by another request; try again.");
}

}  // namespace berth
