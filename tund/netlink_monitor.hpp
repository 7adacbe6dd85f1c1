// A pollable subscription to the kernel's address, route and link changes
// (rtnetlink multicast groups), summarised per drain so the daemon can ask
// "did my path to the intermediary change?" (roaming) without parsing
// netlink itself. Changes on ignored interfaces (our own TUN device, where
// we install routes ourselves) do not count.
#pragma once

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "netlib/expected.hpp"

struct mnl_socket;

namespace dialout {

struct MonitorEvents {
  bool addresses_changed = false;
  bool routes_changed = false;
  bool links_changed = false;
  // The kernel dropped notifications (ENOBUFS): anything may have changed,
  // so every flag above is set too and `ifindexes` is incomplete.
  bool overrun = false;
  // Interfaces the counted changes were on, sorted and unique. A route
  // without an outgoing interface (multipath, unreachable) is counted with
  // ifindex 0.
  std::vector<int> ifindexes;

  bool any() const { return addresses_changed || routes_changed || links_changed || overrun; }
};

class NetlinkMonitor {
 public:
  // Subscribes to RTMGRP_LINK, RTMGRP_IPV4/6_IFADDR and RTMGRP_IPV4/6_ROUTE
  // in the calling thread's network namespace. The fd is non-blocking.
  static Expected<NetlinkMonitor, std::string> open(std::set<int> ignored_ifindexes = {});

  NetlinkMonitor(NetlinkMonitor&&) noexcept = default;
  NetlinkMonitor& operator=(NetlinkMonitor&&) noexcept = default;

  // Readable (EPOLLIN) when notifications are pending.
  int fd() const;
  void ignore(int ifindex) { ignored_.insert(ifindex); }
  void unignore(int ifindex) { ignored_.erase(ifindex); }

  // Reads every pending notification (until EAGAIN, bounded) and summarises
  // them; an empty result when nothing relevant arrived. Only a broken
  // socket is an error; an overrun is a result (see MonitorEvents::overrun).
  Expected<MonitorEvents, std::string> drain();

 private:
  struct SocketCloser {
    void operator()(mnl_socket* s) const;
  };
  NetlinkMonitor() = default;

  std::unique_ptr<mnl_socket, SocketCloser> socket_;
  std::set<int> ignored_;
  std::vector<char> buffer_;
};

}  // namespace dialout
