// The plain scan that defined Policy's answers before it was compiled into
// indexes (intermediary/policy.hpp): kept only as the reference the
// differential test compares the compiled Policy against. A policy here is
// the structure a test generated and rendered to text for Policy::parse.
#pragma once

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "intermediary/access_rule.hpp"
#include "intermediary/name_patterns.hpp"
#include "intermediary/peer_identity.hpp"
#include "netlib/ip_address.hpp"
#include "netlib/ip_packet.hpp"

namespace dialout::reference {

struct Section {
  std::vector<NamePatterns::Pattern> names;
  std::vector<Prefix> prefixes, nest;
  std::vector<std::string> reach;
  bool reach_any = false;
  std::vector<AccessRule> allow;
};

struct ScanPolicy {
  std::map<std::string, Section> users, groups;
  std::optional<Section> fallback;  // [identity *]

  static bool pattern_matches(const NamePatterns::Pattern& p, std::string_view name, std::string_view user) {
    if (!name.starts_with(p.head)) return false;
    name.remove_prefix(p.head.size());
    if (p.user) {
      if (!name.starts_with(user)) return false;
      name.remove_prefix(user.size());
      if (!name.starts_with(p.tail)) return false;
      name.remove_prefix(p.tail.size());
    }
    return p.glob || name.empty();
  }

  template <class F>
  bool any_section(const PeerIdentity& peer, F&& f) const {
    if (auto it = users.find(peer.name); it != users.end() && f(it->second)) return true;
    for (const auto& g : peer.groups) {
      if (auto it = groups.find(g); it != groups.end() && f(it->second)) return true;
    }
    return fallback && f(*fallback);
  }

  bool may_register(const PeerIdentity& peer, std::string_view name) const {
    return any_section(peer, [&](const Section& s) {
      return std::any_of(s.names.begin(), s.names.end(),
                         [&](const auto& p) { return pattern_matches(p, name, peer.name); });
    });
  }
  bool may_advertise(const PeerIdentity& peer, const Prefix& prefix) const {
    return any_section(peer, [&](const Section& s) {
      return std::any_of(s.prefixes.begin(), s.prefixes.end(), [&](const Prefix& p) { return p.contains(prefix); });
    });
  }
  bool may_nest(const PeerIdentity& peer, const Prefix& prefix) const {
    return any_section(peer, [&](const Section& s) {
      return std::any_of(s.nest.begin(), s.nest.end(), [&](const Prefix& p) { return p.contains(prefix); });
    });
  }
  bool may_reach(const PeerIdentity& peer, std::string_view dst) const {
    return any_section(peer, [&](const Section& s) {
      return s.reach_any || std::find(s.reach.begin(), s.reach.end(), dst) != s.reach.end();
    });
  }
  bool has_allow_rules(const PeerIdentity& peer) const {
    return any_section(peer, [](const Section& s) { return !s.allow.empty(); });
  }
  bool allows_packet(const PeerIdentity& peer, const PacketInfo& packet) const {
    bool restricted = false;
    bool matched = any_section(peer, [&](const Section& s) {
      restricted = restricted || !s.allow.empty();
      return std::any_of(s.allow.begin(), s.allow.end(), [&](const AccessRule& a) { return a.matches(packet); });
    });
    return matched || !restricted;
  }
};

}  // namespace dialout::reference
