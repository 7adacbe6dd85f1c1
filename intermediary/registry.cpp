#include "intermediary/registry.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "netlib/site_name.hpp"

namespace dialout {

const char* to_string(RegistryError e) {
  switch (e) {
    case RegistryError::NameTaken: return "name registered by another identity";
    case RegistryError::PrefixTaken: return "prefix registered by another site";
    case RegistryError::PrefixOverlaps: return "prefix overlaps another identity's prefix";
    case RegistryError::PrefixMismatch: return "prefixes differ from the live site's";
    case RegistryError::DuplicateSession: return "duplicate session id";
    case RegistryError::InvalidName: return "invalid site name";
    case RegistryError::IdsExhausted: return "site ids exhausted";
  }
  return "unknown registry error";
}

std::string to_string(const RegistryRefusal& r) {
  switch (r.error) {
    case RegistryError::PrefixTaken:
      return fmt::format("{} is already registered by site '{}'", r.ours.to_string(), r.site);
    case RegistryError::PrefixOverlaps:
      return fmt::format("{} lies {} {}, registered by site '{}' of another identity", r.ours.to_string(),
                         r.theirs.contains(r.ours) ? "inside" : "around", r.theirs.to_string(), r.site);
    default: return to_string(r.error);
  }
}

namespace {

std::vector<Prefix> sorted_set(std::span<const Prefix> prefixes) {
  std::vector<Prefix> out(prefixes.begin(), prefixes.end());
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

RegistryRefusal refusal(RegistryError e) { return RegistryRefusal{e, {}, {}, {}}; }

}  // namespace

std::optional<RegistryRefusal> Registry::collision(std::string_view identity, const Prefix& p, bool nestable) const {
  if (const Route* r = routes_.find_exact(p))
    return RegistryRefusal{RegistryError::PrefixTaken, p, p, sites_.at(r->site).name};
  std::optional<RegistryRefusal> found;
  // A prefix inside another identity's must be nestable, whichever came first.
  auto check = [&](const Prefix& theirs, const Route& r, bool inner_nestable) {
    const Site& other = sites_.at(r.site);
    if (inner_nestable || other.identity == identity) return false;
    found = RegistryRefusal{RegistryError::PrefixOverlaps, p, theirs, other.name};
    return true;
  };
  if (routes_.any_covering(p, [&](const Prefix& q, const Route& r) { return check(q, r, nestable); })) return found;
  if (routes_.any_within(p, [&](const Prefix& q, const Route& r) { return check(q, r, r.nestable); })) return found;
  return std::nullopt;
}

Expected<SiteId, RegistryRefusal> Registry::add_session(SessionId session, std::string_view identity,
                                                        std::string_view name, std::span<const Prefix> advertised,
                                                        std::span<const Prefix> assigned,
                                                        std::span<const Prefix> nestable) {
  if (session == 0 || session_site_.contains(session)) return unexpected(refusal(RegistryError::DuplicateSession));
  if (!valid_site_name(name)) return unexpected(refusal(RegistryError::InvalidName));
  std::vector<Prefix> pool = sorted_set(assigned);
  std::vector<Prefix> wanted = sorted_set(advertised);
  wanted.insert(wanted.end(), pool.begin(), pool.end());
  wanted = sorted_set(wanted);

  if (auto it = by_name_.find(name); it != by_name_.end()) {
    Site& s = sites_.at(it->second);
    if (s.identity != identity) return unexpected(refusal(RegistryError::NameTaken));
    if (s.prefixes != wanted || s.assigned != pool) return unexpected(refusal(RegistryError::PrefixMismatch));
    s.sessions.push_back(session);
    session_site_.emplace(session, s.id);
    ++generation_;
    return s.id;
  }

  auto is_nestable = [&](const Prefix& p) {
    return std::binary_search(pool.begin(), pool.end(), p) ||
           std::find(nestable.begin(), nestable.end(), p) != nestable.end();
  };
  for (const auto& p : wanted) {
    if (auto c = collision(identity, p, is_nestable(p))) return unexpected(std::move(*c));
  }
  if (next_id_ == std::numeric_limits<SiteId>::max()) return unexpected(refusal(RegistryError::IdsExhausted));

  SiteId id = next_id_++;
  for (const auto& p : wanted) routes_.insert(p, Route{id, is_nestable(p)});
  Site s{id, std::string(name), std::string(identity), std::move(wanted), std::move(pool), {session}};
  by_name_.emplace(s.name, id);
  sites_.emplace(id, std::move(s));
  session_site_.emplace(session, id);
  ++generation_;
  return id;
}

std::optional<SiteId> Registry::remove_session(SessionId session) {
  auto it = session_site_.find(session);
  if (it == session_site_.end()) return std::nullopt;
  SiteId id = it->second;
  session_site_.erase(it);
  ++generation_;
  Site& s = sites_.at(id);
  std::erase(s.sessions, session);
  if (!s.sessions.empty()) return std::nullopt;
  for (const auto& p : s.prefixes) routes_.erase(p);
  by_name_.erase(s.name);
  sites_.erase(id);
  return id;
}

const Site* Registry::site(SiteId id) const {
  auto it = sites_.find(id);
  return it == sites_.end() ? nullptr : &it->second;
}

const Site* Registry::find(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : site(it->second);
}

std::optional<SiteId> Registry::site_of(SessionId session) const {
  auto it = session_site_.find(session);
  if (it == session_site_.end()) return std::nullopt;
  return it->second;
}

std::optional<SiteId> Registry::route(const IpAddr& dst) const {
  const Route* r = routes_.lookup(dst);
  if (!r) return std::nullopt;
  return r->site;
}

bool Registry::owns_source(SiteId site, const IpAddr& src) const {
  const Route* r = routes_.lookup(src);
  return site != 0 && r && r->site == site;
}

}  // namespace dialout
