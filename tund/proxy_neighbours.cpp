#include "tund/proxy_neighbours.hpp"

#include <net/if.h>

#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "tund/sysctl.hpp"

namespace dialout {
namespace {

const char* family_dir(Family f) { return f == Family::V4 ? "ipv4" : "ipv6"; }

std::string conf_key(Family f, const std::string& ifname, const char* setting) {
  return fmt::format("net/{}/conf/{}/{}", family_dir(f), ifname, setting);
}

void append(std::string& errors, const std::string& e) {
  if (!errors.empty()) errors += "; ";
  errors += e;
}

}  // namespace

Expected<ProxyNeighbours, std::string> ProxyNeighbours::open(int lan_ifindex) {
  char name[IF_NAMESIZE] = {};
  if (if_indextoname(static_cast<unsigned>(lan_ifindex), name) == nullptr) {
    return unexpected(fmt::format("proxy neighbours: ifindex {}: {}", lan_ifindex, std::strerror(errno)));
  }
  auto nl = Netlink::open();
  if (!nl) return unexpected(nl.error());
  return ProxyNeighbours(std::move(*nl), lan_ifindex, name);
}

ProxyNeighbours::ProxyNeighbours(ProxyNeighbours&& other) noexcept
    : netlink_(std::exchange(other.netlink_, std::nullopt)),
      ifindex_(other.ifindex_),
      name_(std::move(other.name_)),
      installed_(std::exchange(other.installed_, {})),
      saved_proxy_ndp_(std::exchange(other.saved_proxy_ndp_, std::nullopt)) {}

ProxyNeighbours& ProxyNeighbours::operator=(ProxyNeighbours&& other) noexcept {
  if (this != &other) {
    (void)clear();
    netlink_ = std::exchange(other.netlink_, std::nullopt);
    ifindex_ = other.ifindex_;
    name_ = std::move(other.name_);
    installed_ = std::exchange(other.installed_, {});
    saved_proxy_ndp_ = std::exchange(other.saved_proxy_ndp_, std::nullopt);
  }
  return *this;
}

ProxyNeighbours::~ProxyNeighbours() { (void)clear(); }

std::optional<std::string> ProxyNeighbours::blocker(Family family) {
  const std::string key = conf_key(family, name_, "forwarding");
  auto forwarding = read_sysctl(key);
  if (!forwarding) return forwarding.error();
  if (*forwarding != "1") {
    return fmt::format("proxy {} on {} needs forwarding, but {} is {} (enable {})",
                       family == Family::V4 ? "ARP" : "NDP", name_, key, *forwarding,
                       family == Family::V4 ? "net.ipv4.ip_forward" : "net.ipv6.conf.all.forwarding");
  }
  if (family == Family::V6 && !saved_proxy_ndp_) {
    const std::string ndp = conf_key(family, name_, "proxy_ndp");
    auto old = read_sysctl(ndp);
    if (!old) return old.error();
    if (*old != "1") {
      auto w = write_sysctl(ndp, "1");
      if (!w) return fmt::format("proxy NDP on {}: {}", name_, w.error());
      saved_proxy_ndp_ = *old;
    }
  }
  return std::nullopt;
}

Expected<void, std::string> ProxyNeighbours::sync(const std::set<IpAddr>& wanted) {
  if (!netlink_) return unexpected(std::string("proxy neighbours: moved from"));
  std::string errors;
  std::vector<IpAddr> extra;
  for (const auto& a : installed_) {
    if (wanted.count(a) == 0) extra.push_back(a);
  }
  for (const auto& a : extra) {
    auto r = netlink_->del_proxy_neighbour(ifindex_, a);
    if (r) {
      installed_.erase(a);
    } else {
      append(errors, r.error());
    }
  }
  // Each family's preconditions are checked once per sync, and only when
  // an address of that family is to be added.
  std::optional<std::optional<std::string>> blocked[2];
  for (const auto& a : wanted) {
    if (installed_.count(a) != 0) continue;
    auto& b = blocked[a.family == Family::V4 ? 0 : 1];
    if (!b) b = blocker(a.family);
    if (*b) {
      append(errors, fmt::format("{} not proxied: {}", a.to_string(), **b));
      continue;
    }
    auto r = netlink_->add_proxy_neighbour(ifindex_, a);
    if (r) {
      installed_.insert(a);
    } else {
      append(errors, r.error());
    }
  }
  if (!errors.empty()) return unexpected(errors);
  return {};
}

Expected<void, std::string> ProxyNeighbours::clear() {
  if (!netlink_) return {};
  auto r = sync({});
  std::string errors = r ? std::string() : r.error();
  if (saved_proxy_ndp_) {
    auto w = write_sysctl(conf_key(Family::V6, name_, "proxy_ndp"), *saved_proxy_ndp_);
    if (w) {
      saved_proxy_ndp_.reset();
    } else {
      append(errors, w.error());
    }
  }
  if (!errors.empty()) return unexpected(errors);
  return {};
}

Expected<int, std::string> lan_interface_for(Netlink& netlink, const IpAddr& addr) {
  auto route = netlink.lookup_route(addr);
  if (!route) return unexpected(route.error());
  if (!route->has_value() || (*route)->oif == 0) {
    return unexpected(fmt::format("no interface reaches {}", addr.to_string()));
  }
  return (*route)->oif;
}

}  // namespace dialout
