// The intermediary's registry: which sites are alive, which sessions carry
// them, and which site each advertised prefix routes to.
//
// Pure bookkeeping, no policy: the caller checks Policy before add_session.
// A site exists while at least one session carries it; several sessions of
// the same identity may carry one site (redundant links, reconnect overlap).
//
// Prefixes of different identities do not overlap. Exactly the same prefix
// is never registered twice (PrefixTaken). A prefix inside, or around,
// another identity's prefix is refused too (PrefixOverlaps): route() prefers
// the more specific, so a site with a wide grant could otherwise take part
// of another site's LAN (or, around it, the addresses nobody registered).
// The exception is a *nestable* prefix, which may lie inside another
// identity's and be registered around: the addresses the relay assigned
// from its pool (a laptop numbered inside HQ's LAN) and advertised prefixes
// the policy lets nest (`nest`, e.g. a laptop's fixed address in an office
// LAN). Prefixes of one identity may nest freely: one owner.
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
  PrefixTaken,       // exactly this prefix is registered by another site
  PrefixOverlaps,    // a prefix lies inside or around another identity's (see above)
  PrefixMismatch,    // joining a live site with a different prefix list
  DuplicateSession,  // session id 0 or already registered
  InvalidName,       // not a valid site name
  IdsExhausted,      // 2^32 - 1 sites created in this process
};

const char* to_string(RegistryError e);

// Why add_session refused; for PrefixTaken and PrefixOverlaps also which of
// the session's prefixes met which prefix of which site.
struct RegistryRefusal {
  RegistryError error = RegistryError::DuplicateSession;
  Prefix ours{}, theirs{};
  std::string site;  // the name of the site holding `theirs`
};

// The reason, and for a prefix collision both prefixes and the other site:
// for the relay's log (the peer is told less, see Relay::on_register).
std::string to_string(const RegistryRefusal& r);

struct Site {
  SiteId id = 0;
  std::string name, identity;
  std::vector<Prefix> prefixes;  // sorted, unique: advertised and assigned
  std::vector<Prefix> assigned;  // sorted, unique: from the relay's pool
  std::vector<SessionId> sessions;
};

class Registry {
 public:
  // Returns the site the session now carries (new or joined). `advertised`
  // comes from the site; `assigned` are pool addresses the relay gave it;
  // `nestable` lists those advertised prefixes the policy lets nest. Prefix
  // lists are compared as sets: order and repeats do not matter.
  Expected<SiteId, RegistryRefusal> add_session(SessionId session, std::string_view identity, std::string_view name,
                                                std::span<const Prefix> advertised,
                                                std::span<const Prefix> assigned = {},
                                                std::span<const Prefix> nestable = {});
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
  struct Route {
    SiteId site = 0;
    bool nestable = false;
  };
  // The first collision of `p` (`nestable` or not) with another site's
  // prefix, as the refusal to return.
  std::optional<RegistryRefusal> collision(std::string_view identity, const Prefix& p, bool nestable) const;

  std::unordered_map<SessionId, SiteId> session_site_;
  PrefixTable<Route> routes_;
  SiteId next_id_ = 1;
  uint64_t generation_ = 0;
};

}  // namespace dialout
