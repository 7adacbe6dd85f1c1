// The site's data path over one TUN queue: moves the bytes for the two
// roles. TUN → the router (router/router.hpp decides: which site, which
// flow, which lane, or why not) → a DATA frame on the flow's uplink; and a
// DATA frame → the proxy client (checks) → the same TUN queue.
//
// Superpackets go whole, with their offload header, as long as the header is
// one the intermediary accepts from a peer. What our own kernel produced
// beyond those bounds (more than kMaxGsoSegments segments, a gso_size below
// the minimum after a peer announced a small MSS, a checksum to complete
// somewhere other than the TCP/UDP field) the router marks FinishHere: it is
// finished here and sent as ordinary datagrams, so legitimate traffic is
// never refused.
//
// Single-threaded: each queue worker runs one on its thread. The owner
// supplies the uplinks to use and the route table to look in.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "netlib/log.hpp"
#include "netlib/vnet_header.hpp"
#include "router/route_table.hpp"
#include "router/router.hpp"
#include "tund/uplink.hpp"
#include "tund/prefix_translation.hpp"
#include "tund/proxy_client.hpp"
#include "tund/site_config.hpp"
#include "tund/site_counters.hpp"
#include "tund/tun.hpp"

namespace dialout {

class DataPath {
 public:
  // `served`: what the proxy client may write to the TUN queue.
  DataPath(Tun& tun, std::vector<Prefix> served, const SiteConfig& config, Logger& log);

  // Flows are hashed onto these (in this order); they must outlive their use.
  void set_uplinks(std::vector<Uplink*> uplinks);
  // Looked up for every datagram read; must stay valid until replaced.
  void set_routes(const RouteTable& routes) { router_.set_routes(&routes); }
  void set_served(std::vector<Prefix> served) { proxy_.set_served(std::move(served)); }

  // Reads a batch from the TUN queue, frames it onto uplinks, flushes them.
  void on_tun_readable();
  // A DATA frame from any uplink: checked and written to the TUN queue.
  void on_data(const DataView& data);

  // Written by the owning thread only; any thread may read.
  const SiteCounterSet& counters() const { return counters_; }

 private:
  void route_datagram(std::span<uint8_t> whole);
  void translate_outbound(std::span<uint8_t> whole);
  // Sends our own kernel's packet whose offload header a peer may not send:
  // the checksum completed or the superpacket cut, without a header.
  void send_finished_here(Uplink& up, SiteId dst, const VnetHeader& header, std::span<uint8_t> packet);
  // body: the vnet header (when flags has kDataVnet) and the datagram.
  void send(Uplink& up, SiteId dst, SendQueue::Lane lane, uint8_t flags, std::span<const uint8_t> body);
  void commit(Uplink& up, SendQueue::Lane lane, size_t frame_size, size_t packet_bytes);
  Uplink* pick_uplink(uint32_t flow_hash);
  void flush_dirty();

  Tun& tun_;
  const SiteConfig& config_;
  Logger& log_;
  RateLimitedLog drop_log_;
  Router router_;
  SiteCounterSet counters_;  // before proxy_, which adds to it
  // --advertise 'IN as OUT' (before proxy_, which uses it): sources of what
  // is read from the TUN, destinations of what is written to it. Empty (one
  // branch per datagram, nothing else) when no entry is translated.
  PrefixTranslation translation_;
  ProxyClient proxy_;
  std::vector<Uplink*> uplinks_;
  std::vector<Uplink*> dirty_;
  std::vector<Uplink*> flushing_;  // dirty_ while flush_dirty() runs
  std::vector<uint8_t> rx_;
};

}  // namespace dialout
