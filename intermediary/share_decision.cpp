#include "intermediary/share_decision.hpp"

#include <fmt/core.h>

#include "intermediary/client_hello.hpp"

namespace dialout {

const char* to_string(ShareRoute r) {
  switch (r) {
    case ShareRoute::Wait: return "wait";
    case ShareRoute::Relay: return "relay";
    case ShareRoute::Backend: return "backend";
    case ShareRoute::Drop: return "drop";
  }
  return "?";
}

ShareDecision decide_share(std::span<const uint8_t> peeked, bool peer_closed, bool timed_out) {
  // A verdict other than NeedMore never changes with more bytes
  // (client_hello.hpp), so it wins over a close or a timeout seen with it.
  HelloPeek p = peek_client_hello(peeked);
  switch (p.verdict) {
    case HelloVerdict::TlsWithAlpn: return {ShareRoute::Relay, ShareCounter::ToRelay, {}};
    case HelloVerdict::TlsWithoutAlpn:
    case HelloVerdict::NotTls: return {ShareRoute::Backend, ShareCounter::ToBackend, {}};
    case HelloVerdict::Malformed:
      return {ShareRoute::Drop, ShareCounter::DropMalformed, "malformed ClientHello: " + p.error};
    case HelloVerdict::Oversized:
      return {ShareRoute::Drop, ShareCounter::DropOversized, "oversized ClientHello: " + p.error};
    case HelloVerdict::NeedMore: break;
  }
  if (peer_closed)
    return {ShareRoute::Drop, ShareCounter::DropClosed,
            fmt::format("closed after {} bytes, before a complete ClientHello", peeked.size())};
  if (timed_out)
    return {ShareRoute::Drop, ShareCounter::DropTimeout,
            fmt::format("no complete ClientHello within the handshake timeout ({} bytes received)", peeked.size())};
  return {};
}

}  // namespace dialout
