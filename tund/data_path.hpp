// The site's data path over one TUN queue: the modified router (TUN →
// longest-prefix match → DATA frame on one of the given uplinks) and the
// proxy client (DATA frame → checks → the same TUN queue).
//
// Single-threaded: the engine runs one on its own loop when there is one
// queue, and each queue worker runs one on its thread. The owner supplies
// the uplinks to use and the route table to look in.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "netlib/log.hpp"
#include "router/route_table.hpp"
#include "router/uplink.hpp"
#include "tund/proxy_client.hpp"
#include "tund/site_config.hpp"
#include "tund/tun.hpp"

namespace dialout {

struct SiteCounters {
  uint64_t tx_packets = 0;
  uint64_t tx_bytes = 0;
  uint64_t drop_no_route = 0;
  uint64_t drop_invalid = 0;
  uint64_t drop_queue_full = 0;
  uint64_t drop_disconnected = 0;
};

class DataPath {
 public:
  // `served`: what the proxy client may write to the TUN queue.
  DataPath(Tun& tun, std::vector<Prefix> served, const SiteConfig& config, Logger& log);

  // Flows are hashed onto these (in this order); they must outlive their use.
  void set_uplinks(std::vector<Uplink*> uplinks);
  // Looked up for every datagram read; must stay valid until replaced.
  void set_routes(const RouteTable& routes) { routes_ = &routes; }
  void set_served(std::vector<Prefix> served) { proxy_.set_served(std::move(served)); }

  // Reads a batch from the TUN queue, frames it onto uplinks, flushes them.
  void on_tun_readable();
  // A DATA frame from any uplink: checked and written to the TUN queue.
  void on_data(const DataView& data);

  const SiteCounters& counters() const { return counters_; }
  const ProxyClient::Counters& proxy_counters() const { return proxy_.counters(); }

 private:
  void route_datagram(std::span<const uint8_t> whole);
  Uplink* pick_uplink(uint32_t flow_hash);
  void flush_dirty();

  Tun& tun_;
  const SiteConfig& config_;
  Logger& log_;
  RateLimitedLog drop_log_;
  ProxyClient proxy_;
  const RouteTable* routes_ = nullptr;
  std::vector<Uplink*> uplinks_;
  std::vector<Uplink*> dirty_;
  std::vector<Uplink*> flushing_;  // dirty_ while flush_dirty() runs
  SiteCounters counters_;
  std::vector<uint8_t> rx_;
};

}  // namespace dialout
