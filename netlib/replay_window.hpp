// Which record counters a receiving key has already accepted: a sliding
// window over the newest counters (RFC 6479: a ring of 64-bit blocks, so
// sliding forward clears whole blocks instead of shifting bits).
//
// Records arrive reordered on UDP; any counter not yet seen inside the
// window is accepted, a counter seen before is a replay, and one older than
// the window can no longer be told apart from a replay and is refused too.
// Only counters of authenticated records may be given to accept(): a
// forged counter must never move the window.
//
// The window spans kWindow = 4032 records (64 blocks, one of which is the
// partly filled newest). A counter at or beyond `limit` is refused as
// exhausted: the wrap guard (2^64 - 1 is never valid), or a lower hard
// limit the caller sets (a sender past its AEAD limit is broken or forged).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "netlib/wire.hpp"  // kRecordCounterNever

namespace dialout {

enum class ReplayVerdict : uint8_t {
  Fresh,      // not seen before, inside the window
  Duplicate,  // seen before: a replay or a network duplicate
  TooOld,     // older than the window
  Exhausted,  // at or beyond the counter limit
};
const char* to_string(ReplayVerdict);

struct ReplayStats {
  uint64_t accepted = 0;
  uint64_t duplicate = 0;
  uint64_t too_old = 0;
  uint64_t exhausted = 0;
};

class ReplayWindow {
 public:
  static constexpr size_t kBlockBits = 64;
  static constexpr size_t kBlocks = 64;  // a power of two: the ring index is a mask
  static constexpr uint64_t kWindow = (kBlocks - 1) * kBlockBits;

  explicit ReplayWindow(uint64_t limit = kRecordCounterNever) : limit_(limit) {}

  // What accept() would say; changes nothing.
  ReplayVerdict check(uint64_t counter) const;
  // For an authenticated record: marks a fresh counter seen (sliding the
  // window forward when it is the newest), counts the verdict.
  ReplayVerdict accept(uint64_t counter);

  // The newest accepted counter (0 before any).
  uint64_t newest() const { return newest_; }
  const ReplayStats& stats() const { return stats_; }

 private:
  static constexpr uint64_t kBlockMask = kBlocks - 1;
  static uint64_t block_of(uint64_t counter) { return counter / kBlockBits; }
  static uint64_t bit_of(uint64_t counter) { return uint64_t{1} << (counter % kBlockBits); }

  std::array<uint64_t, kBlocks> blocks_{};
  uint64_t newest_ = 0;
  uint64_t limit_;
  ReplayStats stats_;
};

}  // namespace dialout
