#include "tund/path_watch.hpp"

#include <algorithm>
#include <utility>

#include "netlib/socket.hpp"

namespace dialout {

PathWatch::Verdict PathWatch::observe(const std::optional<IpAddr>& source) {
  if (!started_) {
    started_ = true;
    current_ = source;
    if (source) last_known_ = source;
    return {};
  }
  if (source == current_) return {};
  auto was = current_;
  current_ = source;
  if (!source) return {Action::Lost, "no route to the intermediary any more (was from " + was->to_string() + ")"};
  auto before = std::exchange(last_known_, source);
  if (!was) {
    if (before && *before != *source)
      return {Action::Reconnect, "local address changed " + before->to_string() + " -> " + source->to_string()};
    return {Action::Reconnect, "route to the intermediary is back (from " + source->to_string() + ")"};
  }
  return {Action::Reconnect, "local address changed " + was->to_string() + " -> " + source->to_string()};
}

std::optional<IpAddr> watched_address(std::span<const std::string> ready_remotes, std::span<const IpAddr> resolved) {
  if (resolved.empty()) return std::nullopt;
  for (const auto& remote : ready_remotes) {
    auto ep = Endpoint::parse(remote, 0);
    if (!ep) continue;
    auto ip = IpAddr::parse(ep->host);
    if (ip && std::find(resolved.begin(), resolved.end(), *ip) != resolved.end()) return *ip;
  }
  return resolved.front();
}

}  // namespace dialout
