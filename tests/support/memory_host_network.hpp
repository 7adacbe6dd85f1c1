// An in-memory HostNetwork for tests.
#pragma once

#include <map>
#include <optional>
#include <set>

#include "netlib/unique_fd.hpp"
#include "tund/host_network.hpp"

namespace dialout {

// In memory: records addresses and neighbours; the test sets the source
// address and, to simulate a change notification, calls notify() (a
// pollable eventfd).
class MemoryHostNetwork final : public HostNetwork {
 public:
  MemoryHostNetwork();

  Expected<void, std::string> add_tun_address(const Prefix& a) override;
  Expected<void, std::string> remove_tun_address(const Prefix& a) override;
  Expected<void, std::string> sync_proxy_neighbours(const std::map<IpAddr, Prefix>& wanted) override;
  size_t proxy_neighbour_count() const override { return neighbours.size(); }
  int change_fd() const override { return event_fd_.get(); }
  bool drain_changes() override;
  std::optional<IpAddr> route_source(const IpAddr&) override {
    ++source_lookups;
    return source;
  }

  Expected<std::vector<Prefix>, std::string> connected_prefixes() override { return connected; }

  void notify();

  std::vector<Prefix> connected;
  std::set<Prefix> addresses;
  std::map<IpAddr, Prefix> neighbours;
  std::optional<IpAddr> source;
  unsigned source_lookups = 0;

 private:
  UniqueFd event_fd_;
};

}  // namespace dialout
