// The intermediary's counters, each defined once: the enum and its row
// (status-file key and meaning). The status file renders them in this order
// after `sessions` and `sites`.
#pragma once

#include <array>
#include <cstdint>

#include "netlib/counter_set.hpp"

namespace dialout {

enum class RelayCounter {
  FramesForwarded,
  BytesForwarded,
  DropSpoofedSource,
  DropPolicy,
  DropNoRoute,
  DropQueueFull,
  DropMalformed,
  RefusedRegister,
  HandshakeFailed,
  ClosedSlowReader,
  TlsResumed,
  DropInboxFull,
  DropSessionGone,
  PendingEvicted,
  RefusedHandshakeRate,
  ClosedByReload,
  HandshakeQueued,
  RouteSnapshotsSent,
  RouteDeltasSent,
  RouteDeltaEntries,
  Count
};

inline constexpr std::array<CounterInfo, size_t(RelayCounter::Count)> kRelayCounters{{
    {"frames_forwarded", "DATA frames forwarded to another site"},
    {"bytes_forwarded", "IP bytes of the forwarded DATA frames"},
    {"drop_spoofed_source", "datagrams from a source outside the sender's prefixes"},
    {"drop_policy", "datagrams the sender's identity may not send there (reach, allow rules)"},
    {"drop_no_route", "datagrams no live site serves"},
    {"drop_queue_full", "datagrams the receiver's queue had no room for (small ones: half its urgent lane)"},
    {"drop_malformed", "malformed frames and datagrams, unexpected frames, bad offload headers"},
    {"refused_register", "REFUSEs at or before REGISTER"},
    {"handshake_failed", "TLS handshakes failed, refused or not completed by a registration in time"},
    {"closed_slow_reader", "sessions closed because control frames for them overflowed (they do not read)"},
    {"tls_resumed", "TLS handshakes that resumed a session from a ticket (on any worker)"},
    {"drop_inbox_full", "datagrams for another worker's session its full inbox had no room for"},
    {"drop_session_gone", "datagrams whose destination site closed every connection since the forwarding view was built"},
    {"pending_evicted", "connections not yet registered closed to make room (max-pending, max-pending-per-source)"},
    {"refused_handshake_rate", "connections closed at accept: their source exceeded handshake-rate-per-source"},
    {"closed_by_reload", "sessions closed by a reload: rights gone from the policy, or certificate revoked"},
    {"handshake_queued", "handshake steps that waited for a later loop turn (over handshakes-per-turn: a storm)"},
    {"route_snapshots_sent", "whole route tables sent (a session's first, a resync, ROUTES to sites without deltas)"},
    {"route_deltas_sent", "route deltas sent: one per session whose view changed"},
    {"route_delta_entries", "sites added, changed or removed in those deltas"},
}};

using RelayCounterSet = CounterSet<RelayCounter>;

// The totals by name, for tests written before the table (tests/tund use
// them). New code reads Relay::counter(RelayCounter); a new counter needs
// no field here.
struct RelayCounters {
  explicit RelayCounters(const RelayCounterSet::Values& v)
      : frames_forwarded(v[size_t(RelayCounter::FramesForwarded)]),
        bytes_forwarded(v[size_t(RelayCounter::BytesForwarded)]),
        drop_spoofed_source(v[size_t(RelayCounter::DropSpoofedSource)]),
        drop_policy(v[size_t(RelayCounter::DropPolicy)]),
        drop_no_route(v[size_t(RelayCounter::DropNoRoute)]),
        drop_queue_full(v[size_t(RelayCounter::DropQueueFull)]),
        drop_malformed(v[size_t(RelayCounter::DropMalformed)]),
        refused_register(v[size_t(RelayCounter::RefusedRegister)]),
        handshake_failed(v[size_t(RelayCounter::HandshakeFailed)]),
        closed_slow_reader(v[size_t(RelayCounter::ClosedSlowReader)]) {}
  uint64_t frames_forwarded, bytes_forwarded, drop_spoofed_source, drop_policy, drop_no_route, drop_queue_full,
      drop_malformed, refused_register, handshake_failed, closed_slow_reader;
};

}  // namespace dialout
