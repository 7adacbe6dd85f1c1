// Who may do what: which names a peer may register, which prefixes it may
// advertise, which names it may send to, and (for per-user rules) which
// destinations, protocols and ports its datagrams may go to.
//
// File format (INI-like, '#' starts a comment anywhere on a line):
//
//   [identity gw-a]                      # a certificate's subject CN
//   register  = office-a                 # names it may register (comma list, repeatable)
//   advertise = 10.1.0.0/24, fd00:1::/64 # an advertised prefix must lie inside one of these
//   reach     = office-b                 # names it may send to; "*" = any registered name
//
//   [user carol]
//   advertise = 10.1.0.200/32            # a fixed laptop address inside office A's LAN
//   nest      = 10.1.0.200/32            # may lie inside another identity's prefix (see below)
//
//   [user alice]                         # same as [identity alice]: a synonym for readability
//   allow = 10.2.0.20 tcp/443            # per-user rule (AccessRule text; comma list, repeatable)
//
//   [group eng]                          # every certificate with an OU "eng" (see peer_identity.hpp)
//   register = laptop-{user}, eng-*      # {user} = the peer's CN; one trailing '*' = any rest
//   reach = hq
//   allow = 10.2.0.0/24
//
//   [identity *]                         # default: applies to every identity ([user *] too)
//   reach = hq
//
//   [group eng]
//   dns        = 10.1.0.53, fd00:1::53   # resolvers behind the tunnel (comma list, repeatable)
//   dns-search = office-a.lan, corp.example  # the domains they answer for
//
// Every key is allowed in every section kind. A peer's grants are the union
// of its own section (by CN), the sections of all its groups (by OU) and
// `[identity *]`. Union rather than fallback so an operator can give everyone
// or a whole group a common grant without repeating it per user; nothing is
// ever taken away by a section. Everything not granted is denied.
//
// Allow rules: if none of a peer's sections has an `allow`, its datagrams are
// governed by `reach` alone (office gateways). Once any of them has one, a
// datagram must match at least one of the peer's allow rules as well — so an
// `allow` in `[identity *]` restricts every peer, gateways included.
//
// Nesting: the intermediary refuses an advertised prefix that lies inside
// (or around) a prefix of another identity, so a peer with a wide
// `advertise` grant cannot take part of another site's LAN. `nest` lifts
// that for advertised prefixes inside one of its prefixes: they may lie
// inside another identity's prefix, and others may be registered around
// them. It grants nothing by itself: the prefix must still be advertisable.
// Pool addresses the intermediary assigns need no `nest`.
//
// DNS (split DNS for sites, issue 15): `dns` and `dns-search` go together
// in a section (one without the other is an error: resolvers for no name,
// or names for no resolver). Unlike the grants, they are not a union: a
// peer gets the DNS of the first section that has one, in the order its
// own section, its groups in its certificate's order, `[identity *]`, so a
// user or group can override the default. At most kMaxDnsServers
// resolvers (unicast, not loopback or link-local) and kMaxDnsDomains
// domains (netlib/dns_config.hpp; case is folded, no trailing dot) per
// section; a repeat adds nothing. The intermediary sends it after ACCEPT
// (DNS_CONFIG) and again to live sessions when a reload changes it.
//
// Register patterns: a literal site name; `prefix*` (one '*', last, after at
// least one literal character or {user}) matches any name starting with
// prefix, the prefix alone included; `{user}` (at most once) is replaced by
// the peer's CN before comparing. A bare `*` is refused: letting anyone claim
// any name would let a laptop take over an office's name. The expanded name
// must still be a valid site name to be registered at all, so a CN like
// "alice@example.com" never matches `{user}`-patterns; issue CNs that are
// site names (lower case) when using {user}.
//
// Compiled: each section's lists are turned into indexes while loading
// (register patterns: NamePatterns; reach names: a hash set; advertise, nest
// and allow destinations: PrefixTables; sections by CN or OU: hash maps), so
// a question costs a few hash probes per section that applies to the peer
// (its own, its groups', the default), not a walk over every name or site in
// the policy. tests/intermediary/policy_reference.hpp keeps the plain scan
// that defines the semantics; a differential test holds the two together.
//
// Strict: unknown section kinds, unknown keys, keys outside a section, bad
// names, patterns, prefixes or allow rules, empty list items and duplicate
// sections ([user a] after [identity a] included) are errors naming "file:line".
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "intermediary/access_rule.hpp"
#include "intermediary/name_patterns.hpp"
#include "netlib/config_error.hpp"
#include "netlib/dns_config.hpp"
#include "netlib/expected.hpp"
#include "netlib/ip_address.hpp"
#include "netlib/ip_packet.hpp"
#include "netlib/prefix_table.hpp"
#include "intermediary/peer_identity.hpp"

namespace dialout {

class Policy {
 public:
  // `source` names the text in errors (usually the file path).
  static Expected<Policy, ConfigError> parse(std::string_view text, std::string_view source);
  static Expected<Policy, ConfigError> load(const std::string& path);

  // None of these allocate: may_reach and allows_packet run per datagram.
  bool may_register(const PeerIdentity& peer, std::string_view name) const {
    return register_ok(peer.name, peer.groups, name);
  }
  bool may_advertise(const PeerIdentity& peer, const Prefix& prefix) const {
    return advertise_ok(peer.name, peer.groups, prefix);
  }
  bool may_reach(const PeerIdentity& peer, std::string_view dst_name) const {
    return reach_ok(peer.name, peer.groups, dst_name);
  }
  // The advertised `prefix` may lie inside another identity's prefix.
  bool may_nest(const PeerIdentity& peer, const Prefix& prefix) const {
    return nest_ok(peer.name, peer.groups, prefix);
  }
  // True when no allow rule applies to the peer, else iff one of them matches.
  bool allows_packet(const PeerIdentity& peer, const PacketInfo& packet) const;
  // The DNS config for the peer (see DNS above); empty when none applies.
  const DnsConfig& dns_for(const PeerIdentity& peer) const;
  // True when some allow rule applies to the peer (so the caller must parse
  // its datagrams and ask allows_packet); false: allows_packet is always true.
  bool has_allow_rules(const PeerIdentity& peer) const;

  // A bare identity string means a peer with that CN and no groups.
  bool may_register(std::string_view identity, std::string_view name) const {
    return register_ok(identity, {}, name);
  }
  bool may_advertise(std::string_view identity, const Prefix& prefix) const {
    return advertise_ok(identity, {}, prefix);
  }
  bool may_reach(std::string_view identity, std::string_view dst_name) const {
    return reach_ok(identity, {}, dst_name);
  }

  // The sections that apply to a peer, in the order the checks visit them.
  // may_reach depends on nothing else, so peers with equal lists get equal
  // answers: a route push asks once per list, not once per session (a fleet
  // of laptops in one group is one list). Valid while this Policy lives.
  struct SectionList {
    std::vector<const void*> sections;
    bool operator==(const SectionList&) const = default;
  };
  struct SectionListHash {
    size_t operator()(const SectionList& l) const;
  };
  SectionList sections_of(const PeerIdentity& peer) const;
  bool may_reach(const SectionList& sections, std::string_view dst_name) const;

  // Number of sections, groups and the default included (for startup logging).
  size_t section_count() const { return users_.size() + groups_.size() + (has_default_ ? 1 : 0); }

 private:
  struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using NameSet = std::unordered_set<std::string, NameHash, std::equal_to<>>;
  // One section, compiled.
  struct Rules {
    NamePatterns names;
    PrefixTable<bool> prefixes;
    PrefixTable<bool> nest;
    NameSet reach;
    bool reach_any = false;
    // Allow rules grouped by destination prefix: a packet visits only the
    // buckets whose prefix contains its destination.
    PrefixTable<uint32_t> allow_by_dst;  // value: index into allow_buckets
    std::vector<std::vector<AccessRule>> allow_buckets;
    DnsConfig dns;  // servers and domains both set, or both empty
    bool has_allow() const { return !allow_buckets.empty(); }
    void add_allow(const AccessRule& rule);
    bool allow_matches(const PacketInfo& packet) const;
  };
  using Sections = std::unordered_map<std::string, Rules, NameHash, std::equal_to<>>;

  bool register_ok(std::string_view cn, std::span<const std::string> groups, std::string_view name) const;
  bool advertise_ok(std::string_view cn, std::span<const std::string> groups, const Prefix& prefix) const;
  bool reach_ok(std::string_view cn, std::span<const std::string> groups, std::string_view dst_name) const;
  bool nest_ok(std::string_view cn, std::span<const std::string> groups, const Prefix& prefix) const;

  // Calls f on each section that applies to (name, groups) until f returns
  // true; returns whether one did.
  template <class F>
  bool any_section(std::string_view name, std::span<const std::string> groups, F&& f) const;

  Sections users_;   // [identity X] and [user X]
  Sections groups_;  // [group X]
  Rules default_;
  bool has_default_ = false;
  DnsConfig no_dns_;  // what dns_for returns when no section has any

  friend class PolicyParser;
};

}  // namespace dialout
