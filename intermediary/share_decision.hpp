// Where a connection on a shared port goes, decided from the bytes peeked
// so far (nothing consumed) and what happened to the connection meanwhile.
// Pure: PortShare (port_share.hpp) does the peeking, the timer and the moves.
//
//   ClientHello offering kAlpnProtocol       -> the relay (a site)
//   ClientHello without it, or not TLS       -> the web server, byte for byte
//   malformed or oversized ClientHello       -> dropped
//   incomplete when the client half-closes   -> dropped
//   incomplete at the handshake timeout      -> dropped (a silent client too)
// A protocol whose client waits for the server to speak first (SSH) is
// therefore never passed on: it times out.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "intermediary/port_share_counters.hpp"

namespace dialout {

enum class ShareRoute { Wait, Relay, Backend, Drop };
const char* to_string(ShareRoute);

struct ShareDecision {
  ShareRoute route = ShareRoute::Wait;
  // Meaningful unless Wait: the counter this outcome adds to.
  ShareCounter counter = ShareCounter::Count;
  // Drop: what and where, for a log line.
  std::string why;
};

// `peeked`: the connection's first bytes as far as they have arrived (the
// peek looks at no more than kMaxClientHelloPeek). `peer_closed`: the client
// half-closed or hung up. `timed_out`: the handshake timeout passed.
ShareDecision decide_share(std::span<const uint8_t> peeked, bool peer_closed, bool timed_out);

}  // namespace dialout
