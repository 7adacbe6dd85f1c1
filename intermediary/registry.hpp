// The intermediary's registry: which sites are alive, which sessions carry
// them, and which site each advertised prefix routes to.
//
// Pure bookkeeping, no policy: the caller checks Policy before add_session.
// A site exists while at least one session carries it; several sessions of
// the same identity may carry one site (redundant links, reconnect overlap).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "netlib/expected.hpp"
#include "netlib/ip_address.hpp"
#include "netlib/prefix_table.hpp"

namespace dialout {

using SessionId = uint64_t;  // 0 = none
using SiteId = uint32_t;     // 0 = none; never reused within a process

enum class RegistryError {
  NameTaken,         // the name is alive under another identity
  PrefixTaken,       // exactly this prefix is advertised by another site
  PrefixMismatch,    // joining a live site with a different prefix list
  DuplicateSession,  // session id 0 or already registered
  InvalidName,       // not a valid site name
  IdsExhausted,      // 2^32 - 1 sites created in this process
};

const char* to_string(RegistryError e);

struct Site {
  SiteId id = 0;
  std::string name, identity;
  std::vector<Prefix> prefixes;  // sorted, unique
  std::vector<SessionId> sessions;
};

class Registry {
 public:
  // Returns the site the session now carries (new or joined). Prefixes are
  // compared as a set: order and repeats do not matter. A prefix strictly
  // inside another site's prefix is allowed; route() prefers the more specific.
  Expected<SiteId, RegistryError> add_session(SessionId session, std::string_view identity,
                                              std::string_view name, std::span<const Prefix> prefixes);
  // The site id when the session was the site's last (the site is gone);
  // nullopt otherwise, including for an unknown session.
  std::optional<SiteId> remove_session(SessionId session);

  const Site* site(SiteId id) const;
  const Site* find(std::string_view name) const;
  std::optional<SiteId> site_of(SessionId session) const;

  // Longest-prefix match over every advertised prefix.
  std::optional<SiteId> route(const IpAddr& dst) const;
  // True when replies to `src` would be routed to `site`: a site may only send
  // from addresses it would receive for, so a more specific prefix owned by
  // another site inside its own is not its to use.
  bool owns_source(SiteId site, const IpAddr& src) const;

  // Bumped on every change (site or session added or removed).
  uint64_t generation() const { return generation_; }
  size_t site_count() const { return sites_.size(); }

  // F(const Site&), in site id order.
  template <class F>
  void for_each_site(F&& f) const {
    for (const auto& [id, s] : sites_) f(static_cast<const Site&>(s));
  }

 private:
  std::map<SiteId, Site> sites_;
  std::map<std::string, SiteId, std::less<>> by_name_;
  std::unordered_map<SessionId, SiteId> session_site_;
  PrefixTable<SiteId> routes_;
  SiteId next_id_ = 1;
  uint64_t generation_ = 0;
};

}  // namespace dialout
