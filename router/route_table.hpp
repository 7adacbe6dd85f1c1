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
  explicit RouteTable(std::vector<Static> statics = {});

  // Replaces every pushed route with this snapshot.
  void apply(const Routes& snapshot);
  // Forgets pushed routes (not the statics).
  void clear_pushed();

  // nullopt: no route. 0: a static route whose site is not known yet (the
  // intermediary then routes by destination address).
  std::optional<SiteId> lookup(const IpAddr& dst) const;
  std::optional<std::string> name_of(SiteId id) const;

  // Every prefix that should be routed into the TUN device. Grows
  // monotonically: a prefix once learned stays routed into the tunnel while
  // the daemon runs, so when a peer goes away its traffic is dropped here
  // instead of leaking out of the default route.
  const std::set<Prefix>& tunnel_prefixes() const { return tunnel_prefixes_; }

 private:
  void rebuild();

  std::vector<Static> statics_;
  Routes pushed_;
  PrefixTable<SiteId> table_;
  std::set<Prefix> tunnel_prefixes_;
};

}  // namespace dialout
