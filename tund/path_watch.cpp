#include "tund/path_watch.hpp"

#include <utility>

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

}  // namespace dialout
