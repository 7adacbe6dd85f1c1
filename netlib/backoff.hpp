// Reconnect delays: exponential growth with jitter so a fleet of sites that
// lost the intermediary at the same moment does not reconnect in lockstep.
#pragma once

#include <chrono>
#include <cstdint>

namespace dialout {

// "Equal jitter": draw n lies in [max(min, c/2), c] where the ceiling c is
// min * 2^n capped at max. Half of each delay is guaranteed, so waits really
// grow (unlike full jitter, which can keep drawing near zero), and the other
// half is random.
class Backoff {
 public:
  // The caller seeds it (e.g. from the clock or the site name): no global RNG.
  // max below min is raised to min; a zero min still grows, from 1 ms.
  Backoff(std::chrono::milliseconds min, std::chrono::milliseconds max, uint64_t seed);

  std::chrono::milliseconds next();
  // After a connection has proved healthy: start again from min.
  void reset();

 private:
  uint64_t random();  // splitmix64: tiny, any seed (including 0) is fine

  int64_t min_ms_;
  int64_t max_ms_;
  int64_t ceiling_ms_;
  uint64_t state_;
};

}  // namespace dialout
