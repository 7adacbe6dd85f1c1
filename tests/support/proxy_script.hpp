// Plays a scripted proxy to a ProxyHandshake (tund/proxy_handshake.hpp):
// each reply is fed in the pieces a cutter chooses (whole, split at one
// position, byte by byte); before each piece everything the client has
// queued is "written" (in partial writes) and recorded, as a driver
// would; play stops at the first verdict other than NeedMore.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "tund/proxy_handshake.hpp"

namespace dialout {

struct ProxyRun {
  ProxyProgress progress = ProxyProgress::NeedMore;
  std::string sent;    // every byte the client wrote, in order
  std::string tunnel;  // tunnel_bytes() when Established
  std::string error;
};

// Pieces of one reply; they must concatenate to it.
using ReplyCutter = std::function<std::vector<std::string_view>(size_t reply_index, std::string_view reply)>;

std::vector<std::string_view> whole(size_t, std::string_view reply);
std::vector<std::string_view> bytewise(size_t, std::string_view reply);
// Splits reply number `which` at `at` (clamped); the others stay whole.
ReplyCutter split_one(size_t which, size_t at);

// `close_after`: the proxy closes once its replies are out.
ProxyRun play(ProxyHandshake& h, const std::vector<std::string>& replies, const ReplyCutter& cut = whole,
              bool close_after = false);

// "\x05\x00" style literals with embedded zeros, as std::string.
template <size_t N>
std::string bytes(const char (&s)[N]) {
  return std::string(s, N - 1);
}

}  // namespace dialout
