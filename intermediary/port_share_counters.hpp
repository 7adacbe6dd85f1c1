// The port-sharing front's counters (intermediary/port_share.hpp), in the
// style of relay_counters.hpp: the enum and its row. The status file shows
// them after the relay's rows when share-port-backend is set.
//
// Two sets are written, each by one thread: the front's (main loop: the
// peek's verdicts) and the splicer's (its own thread: backend connections
// and bytes); the status file shows their sum.
#pragma once

#include <array>
#include <cstdint>

#include "netlib/counter_set.hpp"

namespace dialout {

enum class ShareCounter {
  ToRelay,
  ToBackend,
  DropMalformed,
  DropOversized,
  DropTimeout,
  DropClosed,
  RefusedFull,
  SpliceFailed,
  BytesToBackend,
  BytesFromBackend,
  Count
};

inline constexpr std::array<CounterInfo, size_t(ShareCounter::Count)> kShareCounters{{
    {"share_to_relay", "shared-port connections whose ClientHello offered our ALPN id, handed to the relay"},
    {"share_to_backend", "shared-port connections passed to the web server (other TLS, or not TLS)"},
    {"share_drop_malformed", "shared-port connections dropped: a malformed ClientHello"},
    {"share_drop_oversized", "shared-port connections dropped: a ClientHello larger than the peek bound"},
    {"share_drop_timeout", "shared-port connections dropped: no complete ClientHello within the handshake timeout"},
    {"share_drop_closed", "shared-port connections the client closed before a verdict"},
    {"share_refused_full", "shared-port connections refused: share-port-max-connections reached"},
    {"share_splice_failed", "connections passed to the web server that ended in an error (connect failed, reset)"},
    {"share_bytes_to_backend", "bytes copied from clients to the web server"},
    {"share_bytes_from_backend", "bytes copied from the web server to clients"},
}};

using ShareCounterSet = CounterSet<ShareCounter>;

}  // namespace dialout
