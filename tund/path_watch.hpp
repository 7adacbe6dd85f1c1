// Roaming, the decision half: given the local source address the kernel
// would use towards the intermediary, observed after each batch of network
// changes, say when the uplinks must reconnect. Pure (no I/O): the engine
// observes through HostNetwork::route_source and acts.
//
// Reconnect when the source address changed (A -> B: the old TCP
// connections are bound to an address this host no longer has or no
// longer routes from), and when a route to the intermediary appears after
// having been absent (the connections may have died silently meanwhile;
// redialling now beats waiting for dead-after). Losing the route only
// records the loss: there is nothing to dial over.
#pragma once

#include <optional>
#include <span>
#include <string>

#include "netlib/ip_address.hpp"

namespace dialout {

class PathWatch {
 public:
  enum class Action { None, Lost, Reconnect };
  struct Verdict {
    Action action = Action::None;
    std::string text;  // for the log, e.g. "local address changed 10.0.0.2 -> 10.9.0.2"
  };

  // The first observation is the baseline and never asks for a reconnect.
  Verdict observe(const std::optional<IpAddr>& source);
  const std::optional<IpAddr>& current() const { return current_; }

 private:
  bool started_ = false;
  std::optional<IpAddr> current_;
  // The last source seen while a route existed (kept across a loss).
  std::optional<IpAddr> last_known_;
};

// Which of the intermediary's addresses (`resolved`, the resolver's order)
// the roaming check watches the route to: the one the first ready
// connection uses (`ready_remotes`, "addr:port" / "[v6]:port" as the
// uplinks report them), since happy eyeballs may have settled on the
// second family (an IPv4 address change is then what matters); else the
// resolver's first. None when nothing was resolved.
std::optional<IpAddr> watched_address(std::span<const std::string> ready_remotes, std::span<const IpAddr> resolved);

}  // namespace dialout
