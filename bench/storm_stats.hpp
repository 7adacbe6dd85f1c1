// Bookkeeping for `session_load --reconnect`: when a reconnect storm began,
// when each session was back, whether its handshake resumed; and the delays
// a session waits before it tries again (jittered, as a real fleet's are).
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

namespace dialout::bench {

class StormStats {
 public:
  using Clock = std::chrono::steady_clock;

  // Every session counts as back (at 0 s) until lost() says otherwise.
  void start(Clock::time_point now, size_t sessions) {
    t0_ = now;
    back_s_.assign(sessions, 0.0);
    resumed_.assign(sessions, false);
  }
  bool started() const { return t0_ != Clock::time_point{}; }
  Clock::time_point started_at() const { return t0_; }

  void lost(size_t i) {
    back_s_[i] = kMissing;
    resumed_[i] = false;
  }
  void back(size_t i, Clock::time_point now, bool resumed) {
    back_s_[i] = std::chrono::duration<double>(now - t0_).count();
    resumed_[i] = resumed;
  }

  size_t sessions() const { return back_s_.size(); }
  size_t back_count() const {
    return size_t(std::count_if(back_s_.begin(), back_s_.end(), [](double t) { return !std::isnan(t); }));
  }
  // Of the sessions back now, how many came back over a resumed handshake.
  size_t resumed_count() const { return size_t(std::count(resumed_.begin(), resumed_.end(), true)); }
  // Seconds after the start by which `fraction` of all sessions were back
  // (NaN if that many never were).
  double at(double fraction) const {
    std::vector<double> t;
    for (double s : back_s_) t.push_back(std::isnan(s) ? std::numeric_limits<double>::infinity() : s);
    if (t.empty()) return 0;
    size_t k = size_t(std::ceil(fraction * double(t.size())));
    k = std::clamp<size_t>(k, 1, t.size()) - 1;
    std::nth_element(t.begin(), t.begin() + long(k), t.end());
    return std::isinf(t[k]) ? kMissing : t[k];
  }
  // The first session back after being lost (NaN if none).
  double first() const {
    double best = kMissing;
    for (double s : back_s_) {
      if (!std::isnan(s) && s > 0 && (std::isnan(best) || s < best)) best = s;
    }
    return best;
  }

  unsigned reconnects = 0;  // sessions lost and scheduled to come back
  unsigned retries = 0;     // attempts that failed and were tried again

 private:
  static constexpr double kMissing = std::numeric_limits<double>::quiet_NaN();
  Clock::time_point t0_{};
  std::vector<double> back_s_;
  std::vector<bool> resumed_;
};

class Jitter {
 public:
  using ms = std::chrono::milliseconds;
  static constexpr ms kCap{10000};  // hint and window each, as tund caps what a relay may ask

  // Uniform in [0, upto).
  ms uniform(ms upto) {
    if (upto.count() <= 0) return ms(0);
    return ms(std::uniform_int_distribution<int64_t>(0, upto.count() - 1)(rng_));
  }
  // After RESTARTING: the hint plus a uniform share of the window.
  ms after_restart(uint32_t hint_ms, uint32_t window_ms) {
    return std::min(ms(hint_ms), kCap) + uniform(std::min(ms(window_ms), kCap));
  }
  // Before retry n (1, 2, ...): 250 ms doubling up to 2 s, plus up to half that again.
  ms backoff(unsigned n) {
    ms base = std::min(ms(250) * (1 << std::min(n - 1, 3u)), ms(2000));
    return base + uniform(base / 2);
  }

 private:
  std::mt19937_64 rng_{std::random_device{}()};
};

}  // namespace dialout::bench
