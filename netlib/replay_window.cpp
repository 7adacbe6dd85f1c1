#include "netlib/replay_window.hpp"

#include <algorithm>

namespace dialout {

const char* to_string(ReplayVerdict v) {
  switch (v) {
    case ReplayVerdict::Fresh: return "fresh";
    case ReplayVerdict::Duplicate: return "duplicate";
    case ReplayVerdict::TooOld: return "too old";
    case ReplayVerdict::Exhausted: return "counter exhausted";
  }
  return "?";
}

ReplayVerdict ReplayWindow::check(uint64_t counter) const {
  if (counter >= limit_ || counter == kRecordCounterNever) return ReplayVerdict::Exhausted;
  if (counter > newest_) return ReplayVerdict::Fresh;
  if (newest_ - counter >= kWindow) return ReplayVerdict::TooOld;
  return (blocks_[block_of(counter) & kBlockMask] & bit_of(counter)) ? ReplayVerdict::Duplicate
                                                                        : ReplayVerdict::Fresh;
}

ReplayVerdict ReplayWindow::accept(uint64_t counter) {
  ReplayVerdict v = check(counter);
  switch (v) {
    case ReplayVerdict::Fresh: break;
    case ReplayVerdict::Duplicate: ++stats_.duplicate; return v;
    case ReplayVerdict::TooOld: ++stats_.too_old; return v;
    case ReplayVerdict::Exhausted: ++stats_.exhausted; return v;
  }
  if (counter > newest_) {
    // Clear the blocks the window slides onto; a jump of a whole ring or
    // more clears all of them (and never loops 2^58 times).
    uint64_t from = block_of(newest_), to = block_of(counter);
    uint64_t steps = std::min<uint64_t>(to - from, kBlocks);
    for (uint64_t i = 1; i <= steps; ++i) blocks_[(from + i) & kBlockMask] = 0;
    newest_ = counter;
  }
  blocks_[block_of(counter) & kBlockMask] |= bit_of(counter);
  ++stats_.accepted;
  return v;
}

}  // namespace dialout
