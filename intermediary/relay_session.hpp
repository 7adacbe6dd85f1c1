// The relay's side of one site connection, without I/O: decoded frames and
// `now` in, frames to send (appended to `out`) and one event out. No
// sockets, no TLS, no clock reads, no logging: the relay's loop reads the
// clock, moves the bytes and applies the events.
//
// Handshake (TLS, outside) → AwaitHello → AwaitRegister → Ready; any breach
// of that order refuses and ends in Closed. The registration decision is not
// made here: REGISTER yields a RegisterRequest, the caller asks its
// Registrar and answers with accept() or refuse().
//
// Timers (tick): a session not Ready handshake_timeout after it opened is
// closed; a Ready one from which nothing arrived for dead_after is dead;
// otherwise a PING goes out every keepalive.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "intermediary/registry.hpp"
#include "netlib/wire.hpp"

namespace dialout {

struct RelaySessionTiming {
  std::chrono::milliseconds handshake_timeout{5000};
  std::chrono::milliseconds keepalive{5000};
  std::chrono::milliseconds dead_after{15000};
};

class RelaySession {
 public:
  using Clock = std::chrono::steady_clock;
  enum class State { Handshake, AwaitHello, AwaitRegister, Ready, Closed };

  struct Event {
    enum class Kind {
      None,             // nothing for the caller but `out`
      HelloOk,          // HELLO accepted, our HELLO is in `out`
      RegisterRequest,  // decide on `request`, then accept() or refuse()
      Forward,          // a DATA frame to route: `data` points into the frame
      DropMalformed,    // a DATA frame that does not decode (`wire_error`); the session goes on
      Refused,          // a REFUSE is in `out`; close once it is sent
      HandshakeTimeout, // not registered within handshake_timeout: close
      Dead,             // nothing received for dead_after: close
      RouteResync,      // the site asks for a fresh route snapshot (kCapRouteDeltas)
    };
    Kind kind = Kind::None;
    Register request;
    DataView data{};
    WireError wire_error = WireError::BadLength;
    RefuseReason reason = RefuseReason::Internal;
    std::string text;  // Refused: what the peer is told; timeouts: why the session closes
  };

  RelaySession(const RelaySessionTiming& timing, Clock::time_point now)
      : timing_(timing), opened_(now), last_rx_(now), last_ping_(now) {}

  // The TLS handshake is done and the peer authenticated: HELLO is next.
  void authenticated(Clock::time_point now);
  // Bytes arrived (whole frames or not): the peer is alive.
  void received(Clock::time_point now) { last_rx_ = now; }

  Event on_frame(const FrameView& frame, Clock::time_point now, std::vector<uint8_t>& out);
  // Answers a RegisterRequest: ACCEPT in `out`, the session is Ready. A
  // site that set kCapDnsConfig gets DNS_CONFIG right after it, `dns` or
  // an empty one (so it drops what an earlier session gave it).
  void accept(SiteId site, std::span<const Prefix> addresses, std::vector<uint8_t>& out, const DnsConfig& dns = {});
  // Refuses (a RegisterRequest, or anything the caller decides): REFUSE in `out`.
  Event refuse(RefuseReason reason, std::string text, std::vector<uint8_t>& out);
  // Timers; a PING may be appended to `out`.
  Event tick(Clock::time_point now, std::vector<uint8_t>& out);

  State state() const { return state_; }
  bool ready() const { return state_ == State::Ready; }
  uint32_t capabilities() const { return capabilities_; }
  SiteId site() const { return site_; }

 private:
  Event on_hello(const FrameView& frame, std::vector<uint8_t>& out);
  Event on_register(const FrameView& frame, std::vector<uint8_t>& out);

  RelaySessionTiming timing_;
  State state_ = State::Handshake;
  uint32_t capabilities_ = 0;
  SiteId site_ = 0;
  Clock::time_point opened_, last_rx_, last_ping_;
};

}  // namespace dialout
