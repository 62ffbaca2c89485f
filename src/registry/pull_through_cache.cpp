#include "berth/registry/pull_through_cache.hpp"

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <set>

#include "berth/meta/metadata_store.hpp"
#include "berth/registry/manifest.hpp"
#include "berth/registry/upload_session.hpp"

namespace berth {
namespace {

constexpr std::int64_t rules_refresh_seconds = 2;
constexpr int max_cached_index_depth = 2;  // an index of indexes at most

std::string reference_text(const reference& ref) {
  if (const auto* d = std::get_if<digest>(&ref)) return d->str();
  return std::get<std::string>(ref);
}

error not_found_upstream() { return make_error(errc::manifest_unknown, "Requested image not found"); }

}  // namespace

pull_through_cache::pull_through_cache(registry& reg, registry_backends backends, pull_through_rules& rules,
                                       upstream_connector& connector, const clock& clk, cache_settings settings)
    : reg_(reg), backends_(backends), rules_(rules), connector_(connector), clock_(clk), settings_(settings) {}

pull_through_cache::~pull_through_cache() = default;

// Every V2 read asks: the common answer (no rule covers it) takes a shared lock and no allocation.
bool pull_through_cache::covers(const std::string& repository) {
  auto rules = rules_now();
  return rules && !(*rules)->empty() && pull_through_rules::match(**rules, repository).has_value();
}

result<std::shared_ptr<const std::vector<pull_through_rule>>> pull_through_cache::rules_now() {
  const auto now = clock_.now_seconds();
  const auto changes = rules_.changes();
  auto fresh = [&] {
    return rules_snapshot_ && now >= rules_read_at_ && now - rules_read_at_ < rules_refresh_seconds &&
           changes == rules_seen_;
  };
  {
    std::shared_lock lock(rules_mutex_);
    if (fresh()) return rules_snapshot_;
  }
  std::unique_lock lock(rules_mutex_);
  if (fresh()) return rules_snapshot_;
  auto all = rules_.all();
  if (!all) return all.take_error();
  rules_snapshot_ = std::make_shared<const std::vector<pull_through_rule>>(std::move(*all));
  rules_read_at_ = now;
  rules_seen_ = changes;
  return rules_snapshot_;
}

result<upstream_target> pull_through_cache::target_of(const std::string& repository) {
  auto rules = rules_now();
  if (!rules) return rules.take_error();
  auto t = pull_through_rules::match(**rules, repository);
  if (!t) return make_error(errc::name_unknown, repository);
  return std::move(*t);
}

result<std::shared_ptr<upstream_registry>> pull_through_cache::upstream_for(const upstream_target& t) {
  auto creds = rules_.credentials(t.rule);
  if (!creds) return creds.take_error();
  return connector_.connect(t.rule, *creds);
}

result<manifest_content> pull_through_cache::fetch_manifest(const std::string& repository, const upstream_target& t,
                                                            const std::string& reference,
                                                            const std::vector<std::string>& accept) {
  auto up = upstream_for(t);
  if (!up) return up.take_error();
  auto m = (*up)->manifest(t.repository, reference, accept);
  if (!m) return m.take_error();
  // Verified before anything is kept or answered: the digest asked for, and the one announced.
  auto wanted = digest::parse(reference);
  const auto actual = digest_of(m->content, wanted ? wanted->algorithm() : digest_algorithm::sha256);
  if ((wanted && actual != *wanted) ||
      (!m->digest.empty() && digest::parse(m->digest) && digest::parse(m->digest)->algorithm() == actual.algorithm() &&
       m->digest != actual.str())) {
    spdlog::error("pull-through cache: the upstream of {} answered {} with a manifest whose digest is {}; refused",
                  repository, reference, actual.str());
    return make_error(errc::upstream_unavailable, "the upstream's manifest does not match its digest");
  }
  auto parsed = parse_manifest(m->content, m->media_type);
  if (!parsed) return parsed.take_error();
  if (auto r = reg_.repositories().require_for_cache(repository); !r) return r.take_error();
  meta::cache_import_row row{repository,
                             actual.str(),
                             wanted ? std::string() : reference,
                             parsed->media_type,
                             m->content,
                             clock_.now_seconds(),
                             0,
                             clock_.now_seconds() + settings_.import_delay_seconds,
                             ""};
  if (auto r = backends_.meta.cache().enqueue(row); !r) return r.take_error();
  return manifest_content{actual.str(), parsed->media_type, std::move(m->content)};
}

result<manifest_content> pull_through_cache::manifest(const std::string& repository, const reference& ref,
                                                      const std::vector<std::string>& accept, bool pull) {
  auto local = reg_.get_manifest(repository, ref, pull);
  if (!local && local.error_value().code != errc::manifest_unknown && local.error_value().code != errc::name_unknown) {
    return local;
  }
  auto t = target_of(repository);
  if (!t) return local;
  const auto text = reference_text(ref);
  const bool by_tag = std::holds_alternative<std::string>(ref);
  auto& cache = backends_.meta.cache();
  const auto now = clock_.now_seconds();
  if (local) {
    if (!by_tag) return local;
    // A move already seen upstream whose import is not finished: the new manifest, not the old.
    if (auto pending = cache.pending(repository, text);
        pending && *pending && (*pending)->tag == text && (*pending)->digest != local->digest) {
      return manifest_content{(*pending)->digest, (*pending)->media_type, (*pending)->content};
    }
    auto checked = cache.tag_checked_at(repository, text);
    if (checked && *checked && now - **checked < settings_.tag_check_seconds && now >= **checked) return local;
    // Due: does the tag still name this digest upstream?
    (void)cache.set_tag_checked_at(repository, text, now);
    auto up = upstream_for(*t);
    auto current = up ? (*up)->manifest_digest(t->repository, text, accept) : result<std::string>(up.error_value());
    if (!current) {
      spdlog::warn("pull-through cache: cannot check {}:{} with its upstream ({}); serving the cached image",
                   repository, text, current.error_value().message);
      return local;
    }
    if (current->empty() || *current == local->digest) return local;
    spdlog::info("pull-through cache: {}:{} moved upstream to {}", repository, text, *current);
  } else if (auto pending = cache.pending(repository, text); pending && *pending) {
    return manifest_content{(*pending)->digest, (*pending)->media_type, (*pending)->content};
  }
  auto fetched = fetch_manifest(repository, *t, text, accept);
  if (!fetched) {
    if (local) {
      spdlog::warn("pull-through cache: fetching {}:{} from its upstream failed ({}); serving the cached image",
                   repository, text, fetched.error_value().message);
      return local;
    }
    if (fetched.error_value().code == errc::manifest_unknown) return not_found_upstream();
    return fetched.take_error();
  }
  if (by_tag) (void)cache.set_tag_checked_at(repository, text, now);
  return fetched;
}

result<std::vector<referrer_info>> pull_through_cache::referrers(const std::string& repository, const digest& subject) {
  std::vector<referrer_info> out;
  auto local = reg_.referrers(repository, subject);
  if (local) {
    out = std::move(*local);
  } else if (local.error_value().code != errc::name_unknown) {
    return local.take_error();
  }
  auto t = target_of(repository);
  if (!t) return out;
  auto up = upstream_for(*t);
  auto listed = up ? (*up)->referrers(t->repository, subject) : result<std::string>(up.error_value());
  if (!listed) {
    spdlog::warn("pull-through cache: cannot list the referrers of {}@{} upstream ({}); answering those here",
                 repository, subject.str(), listed.error_value().message);
    return out;
  }
  if (listed->empty()) return out;
  auto index = nlohmann::json::parse(*listed, nullptr, false);
  if (!index.is_object() || !index.contains("manifests") || !index["manifests"].is_array()) {
    spdlog::warn("pull-through cache: the upstream of {} listed the referrers of {} in no image index", repository,
                 subject.str());
    return out;
  }
  std::size_t added = 0;
  for (const auto& d : index["manifests"]) {
    if (!d.is_object() || !d.contains("digest") || !d["digest"].is_string()) continue;
    auto dg = digest::parse(d["digest"].get<std::string>());
    if (!dg) continue;
    if (std::any_of(out.begin(), out.end(), [&](const referrer_info& r) { return r.digest == dg->str(); })) continue;
    if (added == max_cached_referrers) break;
    // Fetched and verified like a pull by digest (and queued for import): what is answered is
    // what the manifest says, not what the upstream's index claims.
    const std::string type = d.value("mediaType", std::string(media_type::oci_manifest));
    auto m = manifest(repository, *dg, {type}, false);
    if (!m) {
      spdlog::warn("pull-through cache: referrer {} of {}@{} not fetched: {}", dg->str(), repository, subject.str(),
                   m.error_value().message);
      continue;
    }
    auto parsed = parse_manifest(m->content, m->media_type);
    if (!parsed || !parsed->subject || parsed->subject->dgst != subject) continue;
    referrer_info r;
    r.digest = m->digest;
    r.media_type = parsed->media_type;
    r.size = static_cast<std::int64_t>(m->content.size());
    r.artifact_type = parsed->artifact_type;
    r.annotations = parsed->annotations_json;
    out.push_back(std::move(r));
    ++added;
  }
  std::sort(out.begin(), out.end(), [](const referrer_info& a, const referrer_info& b) { return a.digest < b.digest; });
  return out;
}

result<void> pull_through_cache::import(const std::string& repository, const std::string& tag,
                                        const std::string& media_type, const std::string& content, int depth) {
  auto parsed = parse_manifest(content, media_type);
  if (!parsed) return parsed.take_error();
  std::set<std::string> blobs;
  if (parsed->config) blobs.insert(parsed->config->dgst.str());
  for (const auto& l : parsed->layers)
    if (!l.has_urls) blobs.insert(l.dgst.str());
  for (const auto& b : blobs) {
    auto d = digest::parse(b);
    if (!d) continue;
    if (auto r = fetch_blob(repository, *d, false); !r) return r.take_error();
  }
  if (!parsed->manifests.empty()) {
    if (depth >= max_cached_index_depth) return make_error(errc::manifest_invalid, "indexes nested too deeply");
    auto t = target_of(repository);
    if (!t) return t.take_error();
    for (const auto& child : parsed->manifests) {
      if (reg_.get_manifest(repository, child.dgst)) continue;
      auto up = upstream_for(*t);
      if (!up) return up.take_error();
      auto m = (*up)->manifest(t->repository, child.dgst.str(), {child.media_type});
      if (!m) return m.take_error();
      if (digest_of(m->content, child.dgst.algorithm()) != child.dgst) {
        return make_error(errc::upstream_unavailable,
                          "the upstream's manifest " + child.dgst.str() + " does not match its digest");
      }
      if (auto r =
              import(repository, "", m->media_type.empty() ? child.media_type : m->media_type, m->content, depth + 1);
          !r) {
        return r;
      }
    }
  }
  const auto d = digest_of(content);
  reference ref = tag.empty() ? reference(d) : reference(tag);
  auto stored = reg_.put_manifest(repository, ref, parsed->media_type, content);
  if (!stored) return stored.take_error();
  return {};
}

bool pull_through_cache::import_next(const std::string& holder) {
  auto& cache = backends_.meta.cache();
  const auto now = clock_.now_seconds();
  auto row = cache.claim_due(holder, now, now + settings_.import_hold_seconds);
  if (!row || !*row) return false;
  const auto& r = **row;
  auto done = import(r.repository, r.tag, r.media_type, r.content, 0);
  if (done) {
    (void)cache.finish(r);
    spdlog::info("pull-through cache: stored {}@{}{}", r.repository, r.digest, r.tag.empty() ? "" : " (" + r.tag + ")");
    return true;
  }
  const auto& e = done.error_value();
  const bool hopeless =
      e.code == errc::manifest_invalid || e.code == errc::tag_immutable || e.code == errc::name_unknown;
  if (hopeless || r.attempts + 1 >= settings_.max_import_attempts) {
    spdlog::error("pull-through cache: giving up on {}@{} after {} attempt(s): {}", r.repository, r.digest,
                  r.attempts + 1, e.message);
    (void)cache.finish(r);
    return true;
  }
  // 30 s, 1 min, 2 min, … at most an hour.
  const auto wait = std::min<std::int64_t>(3600, std::int64_t{30} << std::min<std::int64_t>(r.attempts, 7));
  spdlog::warn("pull-through cache: importing {}@{} failed ({}); trying again in {} s", r.repository, r.digest,
               e.message, wait);
  (void)cache.retry(r, now + wait, e.message);
  return true;
}

}  // namespace berth
