// Happy eyeballs (RFC 8305) for the uplink's dial: which address to try
// next and when, as a pure state machine over a caller's clock. The
// driver (tund/uplink.cpp) opens the transports and reports back.
//
// Order (RFC 8305 section 4): the resolver's list (getaddrinfo sorts it by
// RFC 6724, so a host without a usable IPv6 source gets IPv4 first)
// with the families interleaved, starting with the first one's: a broken
// family costs one attempt delay, not one timeout per address.
//
// Timing (section 5): the first attempt starts at once, each next one
// `attempt_delay` (250 ms) after the previous start, or at once when an
// attempt fails (a refusal or an unreachable route is an answer). Attempts run side by side; the first
// to complete wins (the driver closes the rest). When all have started and
// all failed, the race is lost.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <span>
#include <vector>

#include "netlib/ip_address.hpp"

namespace dialout {

// The resolver's order, families interleaved from the first address's family.
std::vector<IpAddr> interleave_families(std::span<const IpAddr> resolved);

class ConnectRace {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  static constexpr std::chrono::milliseconds kAttemptDelay{250};

  // `addresses` in attempt order (interleave_families); at least one.
  ConnectRace(std::vector<IpAddr> addresses, TimePoint now,
              std::chrono::milliseconds attempt_delay = kAttemptDelay);

  struct Start {
    size_t attempt;  // index into the order; report failure with it
    IpAddr address;
  };
  // The attempt to start now, if one is due (call until it returns none).
  std::optional<Start> next(TimePoint now);
  // When the next attempt becomes due; none when all have started.
  std::optional<TimePoint> next_due() const;
  // An attempt failed (refused, unreachable, TLS): the next starts at once.
  void failed(size_t attempt, TimePoint now);
  // Every address was tried and every attempt failed.
  bool lost() const { return started_ == addresses_.size() && running_ == 0; }
  size_t running() const { return running_; }
  size_t started() const { return started_; }

 private:
  std::vector<IpAddr> addresses_;
  std::vector<bool> done_;  // attempt finished (failed)
  std::chrono::milliseconds delay_;
  size_t started_ = 0;
  size_t running_ = 0;
  TimePoint due_;
};

}  // namespace dialout
