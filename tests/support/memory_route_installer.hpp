// An in-memory RouteInstaller for tests: records the routes.
#pragma once

#include <map>
#include <optional>
#include <set>

#include "tund/route_installer.hpp"

namespace dialout {

// Records routes; for tests and for running without a kernel (no root).
class MemoryRouteInstaller final : public RouteInstaller {
 public:
  Expected<void, std::string> add(const Prefix& p, const std::optional<IpAddr>& prefsrc) override {
    routes.insert(p);
    sources[p] = prefsrc;
    return {};
  }
  Expected<void, std::string> remove(const Prefix& p) override {
    routes.erase(p);
    sources.erase(p);
    return {};
  }
  std::set<Prefix> routes;
  std::map<Prefix, std::optional<IpAddr>> sources;  // each route's preferred source, as last added
};

}  // namespace dialout
