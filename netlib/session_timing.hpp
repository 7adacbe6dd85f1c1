// How often a session's timers are looked at, the same for sites and the
// intermediary: a quarter of the keepalive interval, so a ping goes out at
// most a quarter interval late and a dead peer is noticed at most a quarter
// interval after dead-after; clamped so tests with short keepalives do not
// spin and long ones still notice timeouts within 250 ms.
#pragma once

#include <algorithm>
#include <chrono>

namespace dialout {

constexpr std::chrono::milliseconds session_tick_period(std::chrono::milliseconds keepalive) {
  return std::clamp(keepalive / 4, std::chrono::milliseconds(20), std::chrono::milliseconds(250));
}

}  // namespace dialout
