// The modified-router role: a datagram read from the TUN device (after the
// virtio-net header when the device has offloads) is checked, looked up in
// the route table (longest prefix first), and turned into an action: which
// site to frame it for, on which flow and lane, or why it is dropped.
//
// Pure: no I/O, no uplinks, no counters. tund's data path moves the bytes
// (picks the uplink for the flow, writes the DATA frame, finishes what must
// be finished here) and counts what the action says.
#pragma once

#include <cstdint>
#include <span>

#include "netlib/send_queue.hpp"
#include "netlib/vnet_header.hpp"
#include "netlib/wire.hpp"
#include "router/route_table.hpp"

namespace dialout {

struct RouteAction {
  enum class Kind {
    Send,         // frame `whole` as it is (with its offload header when kDataVnet is in flags)
    FinishHere,   // our own kernel's offload request a peer may not send: finish it, then frame `packet`
    DropInvalid,  // unreadable, refused by a check, or the router role is off
    DropNoRoute,  // no route covers the destination
  };
  Kind kind = Kind::DropInvalid;
  SiteId dst = 0;     // Send, FinishHere: the site to frame it for (0: the intermediary routes by address)
  uint32_t flow = 0;  // Send, FinishHere: the flow's hash, which keeps it on one uplink
  SendQueue::Lane lane = SendQueue::Lane::Bulk;  // Send
  uint8_t flags = 0;                             // Send: the DATA flags
  VnetHeader header{};                           // FinishHere: what the kernel asked for
  std::span<uint8_t> packet;                     // the IP datagram inside `whole`
  const char* why = nullptr;                     // DropInvalid: worth a (rate-limited) log line when set
};

class Router {
 public:
  // `enabled`: the router role is on (tund's router-role). `vnet`: every
  // datagram read starts with a virtio-net header (a TUN with offloads).
  Router(bool enabled, bool vnet) : enabled_(enabled), vnet_(vnet) {}

  // Looked up for every datagram; must stay valid until replaced. Without
  // one nothing is routed.
  void set_routes(const RouteTable* routes) { routes_ = routes; }

  // `whole`: one read from the TUN device.
  RouteAction route(std::span<uint8_t> whole) const;

 private:
  bool enabled_;
  bool vnet_;
  const RouteTable* routes_ = nullptr;
};

}  // namespace dialout
