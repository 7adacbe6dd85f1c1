#include "tund/connect_race.hpp"

namespace dialout {

std::vector<IpAddr> interleave_families(std::span<const IpAddr> resolved) {
  std::vector<IpAddr> first, second, out;
  if (resolved.empty()) return out;
  const Family lead = resolved.front().family;
  for (const auto& a : resolved) (a.family == lead ? first : second).push_back(a);
  out.reserve(resolved.size());
  for (size_t i = 0; i < first.size() || i < second.size(); ++i) {
    if (i < first.size()) out.push_back(first[i]);
    if (i < second.size()) out.push_back(second[i]);
  }
  return out;
}

ConnectRace::ConnectRace(std::vector<IpAddr> addresses, TimePoint now, std::chrono::milliseconds attempt_delay)
    : addresses_(std::move(addresses)), done_(addresses_.size(), false), delay_(attempt_delay), due_(now) {}

std::optional<ConnectRace::Start> ConnectRace::next(TimePoint now) {
  if (started_ == addresses_.size() || now < due_) return std::nullopt;
  size_t i = started_++;
  ++running_;
  due_ = now + delay_;
  return Start{i, addresses_[i]};
}

std::optional<ConnectRace::TimePoint> ConnectRace::next_due() const {
  if (started_ == addresses_.size()) return std::nullopt;
  return due_;
}

void ConnectRace::failed(size_t attempt, TimePoint now) {
  if (attempt >= started_ || done_[attempt]) return;  // not started, or reported twice
  done_[attempt] = true;
  --running_;
  // A refusal or an unreachable route is an answer: waiting out the delay
  // would only add latency before the next address.
  if (now < due_) due_ = now;
}

}  // namespace dialout
