// One authenticated TLS connection from a site, as the intermediary sees it.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "intermediary/registry.hpp"
#include "netlib/channel.hpp"
#include "netlib/peer_identity.hpp"

namespace dialout {

struct Session {
  using Clock = std::chrono::steady_clock;
  // Handshake → AwaitHello → AwaitRegister → Ready; any protocol breach closes.
  enum class State { Handshake, AwaitHello, AwaitRegister, Ready };

  Session(SessionId id, Channel channel, std::string peer, Clock::time_point now)
      : id(id), channel(std::move(channel)), peer(std::move(peer)), opened(now), last_rx(now), last_ping(now) {}

  SessionId id;
  Channel channel;
  std::string peer;      // remote address, for logs
  std::string peer_host; // remote address without the port
  State state = State::Handshake;
  PeerIdentity who;      // from the verified certificate: CN = user, OUs = groups
  uint32_t capabilities = 0;
  SiteId site = 0;
  Clock::time_point opened, last_rx, last_ping;
  uint32_t interest = 0;  // epoll events currently registered
  bool dirty = false;     // has queued frames waiting for a flush
  bool counted = false;   // included in the per-identity session count
};

}  // namespace dialout
