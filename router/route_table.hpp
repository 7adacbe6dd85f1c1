// The modified router's view of where datagrams go: routes pushed by the
// intermediary plus statically configured ones, longest prefix first.
// Pure: snapshots and the current time in, decisions out.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "netlib/ip_address.hpp"
#include "netlib/prefix_table.hpp"
#include "netlib/wire.hpp"

namespace dialout {

// How many learned (pushed) prefixes a site keeps, for how long after their
// last push, and which would-be-refused ones the operator allows anyway
// (tund's max-learned-routes, learned-route-hold-ms, allow-learned-route).
struct LearnedRouteSettings {
  size_t max_learned = 1024;
  std::chrono::milliseconds hold{600'000};
  std::vector<Prefix> allowed;  // a pushed prefix inside one of these skips the default/own/connected checks
  // This site's LAN ranges hidden behind a translation (tund's advertise
  // 'IN as OUT': the INs). The intermediary never saw them, so another
  // site may well register one; a pushed prefix overlapping one would take
  // the LAN's own traffic into the tunnel, so it is refused like one over a
  // connected network.
  std::vector<Prefix> translated_lans;
};

// What the host knows that a pushed prefix must not cover: the addresses the
// intermediary's name resolved to (a route over one of them would send the
// uplinks into their own tunnel) and the networks of the host's own
// addresses outside the TUN device.
struct HostFacts {
  std::vector<IpAddr> intermediary;
  std::vector<Prefix> connected;
  bool operator==(const HostFacts&) const = default;
};

class RouteTable {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  // Static routes name a site; they resolve to its id once a snapshot knows it.
  using Static = std::pair<Prefix, std::string>;
  // A pushed prefix that is neither routed nor installed, and why.
  struct Refusal {
    Prefix prefix;
    std::string site;
    std::string reason;
  };

  // `own`: this site's advertised LAN prefixes. A pushed prefix of another
  // site inside one of them (a laptop numbered inside this LAN) is "local":
  // see local_prefixes().
  explicit RouteTable(std::vector<Static> statics = {}, std::vector<Prefix> own = {},
                      LearnedRouteSettings settings = {});

  // Replaces every pushed route with this snapshot. Returns the prefixes
  // refused that were not already refused (each is reported once while it
  // keeps being pushed, and again only after it was gone for the hold time).
  std::vector<Refusal> apply(const Routes& snapshot, TimePoint now);
  // New host facts (start, a network change); re-judges the current snapshot.
  std::vector<Refusal> set_host(HostFacts facts, TimePoint now);
  // Forgets pushed routes (not the statics); they are held as if withdrawn.
  void clear_pushed(TimePoint now);
  // Forgets one site's pushed routes (PEER_GONE), as if the snapshot no
  // longer had it: they are held, except local ones. False when the
  // current snapshot has no such site (nothing changed).
  bool forget_site(SiteId id, TimePoint now);
  // Drops held prefixes not pushed for the hold time. True when
  // tunnel_prefixes() changed.
  bool expire(TimePoint now);

  // nullopt: no route. 0: a static route whose site is not known yet (the
  // intermediary then routes by destination address).
  std::optional<SiteId> lookup(const IpAddr& dst) const;
  std::optional<std::string> name_of(SiteId id) const;

  // Every prefix that should be routed into the TUN device. Other sites'
  // networks are sticky: a prefix stays routed into the tunnel for the hold
  // time after its last push, so when a peer goes away its traffic is
  // dropped here instead of leaking out of the default route. Local
  // prefixes are the exception: they are in this set only while pushed,
  // because without the tunnel route the address simply belongs to the LAN
  // again. At most max_learned learned prefixes (held ones are evicted,
  // oldest first, to make room for pushed ones), plus the statics.
  const std::set<Prefix>& tunnel_prefixes() const { return tunnel_prefixes_; }
  // Pushed prefixes of other sites that lie inside this site's own
  // prefixes, right now (they come and go with the laptops).
  const std::set<Prefix>& local_prefixes() const { return local_prefixes_; }
  // Learned prefixes held after their last push (not routed, still installed).
  size_t held_count() const { return learned_.size() - current_.size(); }

 private:
  std::vector<Refusal> rebuild(TimePoint now);
  bool inside_own(const Prefix& p) const;
  // Why p must not be routed into the tunnel; nullopt when it may.
  std::optional<std::string> refusal_reason(const Prefix& p) const;
  void refuse(const Prefix& p, const std::string& site, std::string reason, TimePoint now,
              std::vector<Refusal>& fresh);
  void accept(const Prefix& p, bool local, TimePoint now);
  size_t learned_count() const { return learned_.size() + local_prefixes_.size(); }
  bool evict_oldest_held();
  bool drop_expired(TimePoint now);
  void collect_tunnel_prefixes();

  std::vector<Static> statics_;
  std::vector<Prefix> own_;
  LearnedRouteSettings settings_;
  HostFacts host_;
  Routes pushed_;
  PrefixTable<SiteId> table_;
  std::map<Prefix, TimePoint> learned_;  // not local: pushed now or held; value = last push
  std::set<Prefix> current_;             // the part of learned_ in the current snapshot
  std::map<Prefix, TimePoint> refused_;  // reported refusals; value = last push
  std::set<Prefix> refused_now_;         // the part of refused_ in the current snapshot
  std::set<Prefix> local_prefixes_;
  std::set<Prefix> tunnel_prefixes_;
};

}  // namespace dialout
