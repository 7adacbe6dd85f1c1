#include "intermediary/registry.hpp"

#include <algorithm>
#include <limits>

#include "netlib/site_name.hpp"

namespace dialout {

const char* to_string(RegistryError e) {
  switch (e) {
    case RegistryError::NameTaken: return "name registered by another identity";
    case RegistryError::PrefixTaken: return "prefix advertised by another site";
    case RegistryError::PrefixMismatch: return "prefixes differ from the live site's";
    case RegistryError::DuplicateSession: return "duplicate session id";
    case RegistryError::InvalidName: return "invalid site name";
    case RegistryError::IdsExhausted: return "site ids exhausted";
  }
  return "unknown registry error";
}

Expected<SiteId, RegistryError> Registry::add_session(SessionId session, std::string_view identity,
                                                      std::string_view name,
                                                      std::span<const Prefix> prefixes) {
  if (session == 0 || session_site_.contains(session)) return unexpected(RegistryError::DuplicateSession);
  if (!valid_site_name(name)) return unexpected(RegistryError::InvalidName);
  std::vector<Prefix> wanted(prefixes.begin(), prefixes.end());
  std::sort(wanted.begin(), wanted.end());
  wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());

  if (auto it = by_name_.find(name); it != by_name_.end()) {
    Site& s = sites_.at(it->second);
    if (s.identity != identity) return unexpected(RegistryError::NameTaken);
    if (s.prefixes != wanted) return unexpected(RegistryError::PrefixMismatch);
    s.sessions.push_back(session);
    session_site_.emplace(session, s.id);
    ++generation_;
    return s.id;
  }

  for (const auto& p : wanted) {
    if (routes_.find_exact(p)) return unexpected(RegistryError::PrefixTaken);
  }
  if (next_id_ == std::numeric_limits<SiteId>::max()) return unexpected(RegistryError::IdsExhausted);

  SiteId id = next_id_++;
  for (const auto& p : wanted) routes_.insert(p, id);
  Site s{id, std::string(name), std::string(identity), std::move(wanted), {session}};
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
  const SiteId* id = routes_.lookup(dst);
  if (!id) return std::nullopt;
  return *id;
}

bool Registry::owns_source(SiteId site, const IpAddr& src) const {
  const SiteId* id = routes_.lookup(src);
  return site != 0 && id && *id == site;
}

}  // namespace dialout
