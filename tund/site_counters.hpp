// tund's status rows, each defined once: the enum names them, kSiteCounters
// gives each its status-file key (the keys integration tests and docs read)
// and meaning, in status-file order.
//
// The data-path counters are added by each queue worker into its own
// CounterSet (router and proxy client on that worker's thread); the control
// plane adds its own (roams, refused routes) into the engine's set and fills
// in the gauges (connected, registered, addresses, ...) when it writes the
// status file. A total is the sum over the sets.
#pragma once

#include <array>

#include "netlib/counter_set.hpp"

namespace dialout {

enum class SiteCounter {
  Connected,
  Registered,
  TxPackets,
  RxPackets,
  TxBytes,
  RxBytes,
  DropNoRoute,
  DropInvalid,
  DropQueueFull,
  DropDisconnected,
  Reconnects,
  Roams,
  Addresses,
  ProxyNeighbours,
  Routes,
  RoutesRefused,
  TranslatedOut,
  TranslatedIn,
  Count
};

inline constexpr std::array<CounterInfo, size_t(SiteCounter::Count)> kSiteCounters{{
    {"connected", "uplinks registered with the intermediary now", true},
    {"registered", "1 while at least one uplink is registered", true},
    {"tx_packets", "datagrams read from the TUN device and sent to the intermediary"},
    {"rx_packets", "datagrams from the intermediary written to the TUN device"},
    {"tx_bytes", "IP bytes of tx_packets"},
    {"rx_bytes", "IP bytes of rx_packets"},
    {"drop_no_route", "datagrams from the TUN device no route covers"},
    {"drop_invalid", "datagrams refused by the router or the proxy client checks"},
    {"drop_queue_full", "datagrams dropped from a full uplink send queue"},
    {"drop_disconnected", "datagrams with a route but no registered uplink"},
    {"reconnects", "uplink reconnections"},
    {"roams", "times the path to the intermediary changed and every uplink was redialled"},
    {"addresses", "addresses the intermediary assigned, on the TUN device", true},
    {"proxy_neighbours", "proxy ARP/NDP entries for laptops inside the LAN", true},
    {"routes", "kernel routes into the TUN device", true},
    {"routes_refused", "learned prefixes refused (over the intermediary or a connected network)"},
    {"translated_out", "datagrams from the TUN device whose LAN source was rewritten (advertise ... as)"},
    {"translated_in", "datagrams from the intermediary whose destination was rewritten into the LAN"},
}};

using SiteCounterSet = CounterSet<SiteCounter>;
using SiteCounterValues = SiteCounterSet::Values;

inline uint64_t value_of(const SiteCounterValues& v, SiteCounter c) { return v[size_t(c)]; }

}  // namespace dialout
