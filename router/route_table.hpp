// The modified router's view of where datagrams go: routes pushed by the
// intermediary plus statically configured ones, longest prefix first.
// Pure: snapshots in, decisions out.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "netlib/ip_address.hpp"
#include "netlib/prefix_table.hpp"
#include "netlib/wire.hpp"

namespace dialout {

class RouteTable {
 public:
  // Static routes name a site; they resolve to its id once a snapshot knows it.
  using Static = std::pair<Prefix, std::string>;
  // `own`: this site's advertised LAN prefixes. A pushed prefix of another
  // site inside one of them (a laptop numbered inside this LAN) is "local":
  // see local_prefixes().
  explicit RouteTable(std::vector<Static> statics = {}, std::vector<Prefix> own = {});

  // Replaces every pushed route with this snapshot.
  void apply(const Routes& snapshot);
  // Forgets pushed routes (not the statics).
  void clear_pushed();

  // nullopt: no route. 0: a static route whose site is not known yet (the
  // intermediary then routes by destination address).
  std::optional<SiteId> lookup(const IpAddr& dst) const;
  std::optional<std::string> name_of(SiteId id) const;

  // Every prefix that should be routed into the TUN device. Other sites'
  // networks are sticky: a prefix once learned stays routed into the tunnel
  // while the daemon runs, so when a peer goes away its traffic is dropped
  // here instead of leaking out of the default route. Local prefixes are
  // the exception: they are in this set only while pushed, because without
  // the tunnel route the address simply belongs to the LAN again.
  const std::set<Prefix>& tunnel_prefixes() const { return tunnel_prefixes_; }
  // Pushed prefixes of other sites that lie inside this site's own
  // prefixes, right now (they come and go with the laptops).
  const std::set<Prefix>& local_prefixes() const { return local_prefixes_; }

 private:
  void rebuild();
  bool inside_own(const Prefix& p) const;

  std::vector<Static> statics_;
  std::vector<Prefix> own_;
  Routes pushed_;
  PrefixTable<SiteId> table_;
  std::set<Prefix> sticky_prefixes_;
  std::set<Prefix> local_prefixes_;
  std::set<Prefix> tunnel_prefixes_;
};

}  // namespace dialout
