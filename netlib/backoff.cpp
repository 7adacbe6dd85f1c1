#include "netlib/backoff.hpp"

#include <algorithm>

namespace dialout {

Backoff::Backoff(std::chrono::milliseconds min, std::chrono::milliseconds max, uint64_t seed)
    : min_ms_(std::max<int64_t>(0, min.count())),
      max_ms_(std::max<int64_t>(min_ms_, max.count())),
      ceiling_ms_(min_ms_),
      state_(seed) {}

uint64_t Backoff::random() {
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

std::chrono::milliseconds Backoff::next() {
  int64_t lo = std::max(min_ms_, ceiling_ms_ / 2);
  int64_t hi = ceiling_ms_;
  auto span = static_cast<uint64_t>(hi - lo) + 1;
  // Multiply-shift maps the 64-bit draw onto [0, span) without modulo bias worth noting.
  auto offset = static_cast<int64_t>((static_cast<unsigned __int128>(random()) * span) >> 64);
  // Double with saturation, checked first so a huge max cannot overflow.
  ceiling_ms_ = ceiling_ms_ > max_ms_ / 2 ? max_ms_ : std::min(max_ms_, std::max<int64_t>(1, ceiling_ms_ * 2));
  return std::chrono::milliseconds(lo + offset);
}

void Backoff::reset() { ceiling_ms_ = min_ms_; }

}  // namespace dialout
