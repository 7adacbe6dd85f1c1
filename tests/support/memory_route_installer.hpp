// An in-memory RouteInstaller for tests: records the routes.
#pragma once

#include <set>

#include "tund/route_installer.hpp"

namespace dialout {

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
