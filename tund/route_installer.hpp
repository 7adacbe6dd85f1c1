// Where the site engine puts kernel routes into its TUN device. The daemon
// uses netlink (NetlinkRouteInstaller); tests use an in-memory fake.
#pragma once

#include <set>
#include <string>

#include "netlib/expected.hpp"
#include "netlib/ip_address.hpp"

namespace dialout {

class RouteInstaller {
 public:
  virtual ~RouteInstaller() = default;
  virtual Expected<void, std::string> add(const Prefix& prefix) = 0;
  virtual Expected<void, std::string> remove(const Prefix& prefix) = 0;
};

// Records routes; for tests and for running without a kernel (no root).
class MemoryRouteInstaller final : public RouteInstaller {
 public:
  Expected<void, std::string> add(const Prefix& p) override {
    routes.insert(p);
    return {};
  }
  Expected<void, std::string> remove(const Prefix& p) override {
    routes.erase(p);
    return {};
  }
  std::set<Prefix> routes;
};

}  // namespace dialout
