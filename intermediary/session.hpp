// One authenticated TLS connection from a site, as the intermediary sees it.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <cstdint>
#include <string>

#include "intermediary/registry.hpp"
#include "intermediary/relay_session.hpp"
#include "netlib/channel.hpp"
#include "netlib/counter_set.hpp"
#include "netlib/log.hpp"
#include "intermediary/peer_identity.hpp"
#include "netlib/tls_transport.hpp"

namespace dialout {

// What `dialoutctl status` shows of a session (relay_status.cpp): written
// by its owner only, read by the control plane with no lock.
struct SessionStats {
  const std::chrono::system_clock::time_point connected_at = std::chrono::system_clock::now();
  std::atomic<bool> resumed{false};           // the TLS handshake resumed from a ticket
  SingleWriterCounter bytes_in, frames_in;    // plaintext read, frames handled
  SingleWriterCounter bytes_out, frames_out;  // plaintext written, DATA frames queued
  SingleWriterCounter queue_drops;            // DATA for it its full queue dropped
  std::atomic<uint32_t> tcp_rtt_us{0};        // the kernel's smoothed RTT, sampled by the owner; 0 unknown
};

struct Session {
  using Clock = std::chrono::steady_clock;
  Session(SessionId id, Channel channel, std::string peer, const RelaySessionTiming& timing, Clock::time_point now)
      : id(id), channel(std::move(channel)), peer(std::move(peer)), core(timing, now) {}

  SessionId id;
  Channel channel;
  TlsTransport* tls = nullptr;  // channel's transport, for the peer certificate
  std::string peer;      // remote address, for logs
  std::string peer_host; // remote address without the port
  PeerIdentity who;      // from the verified certificate: CN = user, OUs = groups
  RelaySession core;     // the protocol: state, capabilities, site, timers
  // Only the owning worker's thread touches a Session (relay_worker.hpp);
  // what the control plane needs to know of it is in the relay's directory.
  unsigned owner = 0;     // index of the RelayWorker that drives this session
  uint32_t interest = 0;  // epoll events currently registered
  bool dirty = false;     // has queued frames waiting for a flush
  bool counted = false;   // included in the per-identity session count
  bool retired = false;   // closed: out of every table; its fd goes at the end of the loop pass
  bool flush_on_close = false;  // a REFUSE waits in the queue: send it before closing
  bool write_blocked = false;   // the last write stopped on a full socket
  // Its control frames overflowed the urgent lane: it sends but does not
  // read. Closed at the next chance (Relay::close_if_stalled); nothing more
  // is queued for it meanwhile.
  bool stalled = false;
  LogThrottle drop_log;  // its share of the relay's data-path warnings
  // Shared with the relay's directory entry, for `dialoutctl status`.
  std::shared_ptr<SessionStats> stats = std::make_shared<SessionStats>();
};

}  // namespace dialout
