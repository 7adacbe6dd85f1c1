#include "intermediary/relay_session.hpp"

#include <fmt/format.h>

namespace dialout {

using Event = RelaySession::Event;

void RelaySession::authenticated(Clock::time_point now) {
  if (state_ != State::Handshake) return;
  state_ = State::AwaitHello;
  last_rx_ = now;
}

Event RelaySession::on_frame(const FrameView& f, Clock::time_point now, std::vector<uint8_t>& out) {
  (void)now;  // liveness is per byte (received()), not per frame
  switch (state_) {
    case State::AwaitHello:
      if (f.type == MsgType::Hello) return on_hello(f, out);
      break;
    case State::AwaitRegister:
      if (f.type == MsgType::Register) return on_register(f, out);
      break;
    case State::Ready:
      switch (f.type) {
        case MsgType::Data: {
          Event e;
          auto d = decode_data(f.payload);
          if (!d) {
            e.kind = Event::Kind::DropMalformed;
            e.wire_error = d.error();
            return e;
          }
          e.kind = Event::Kind::Forward;
          e.data = *d;
          return e;
        }
        case MsgType::Ping: {
          auto p = decode_ping(f.payload);
          if (!p) break;
          (void)encode(Pong{p->token}, out);
          return {};
        }
        case MsgType::Pong:
          if (!decode_pong(f.payload)) break;
          return {};
        case MsgType::RouteResync: {
          if (!(capabilities_ & kCapRouteDeltas) || !decode_route_resync(f.payload)) break;
          Event e;
          e.kind = Event::Kind::RouteResync;
          return e;
        }
        default: break;
      }
      break;
    case State::Handshake:
    case State::Closed: break;
  }
  return refuse(RefuseReason::OutOfOrder, fmt::format("unexpected or malformed frame type {}", unsigned(f.type)), out);
}

Event RelaySession::on_hello(const FrameView& f, std::vector<uint8_t>& out) {
  auto h = decode_hello(f.payload);
  if (!h) return refuse(RefuseReason::Malformed, std::string("bad HELLO: ") + to_string(h.error()), out);
  if (h->version != kProtocolVersion)
    return refuse(RefuseReason::BadVersion,
                  fmt::format("protocol version {} not supported (this intermediary speaks {})", h->version,
                              kProtocolVersion),
                  out);
  capabilities_ = h->capabilities & kCapAll;
  (void)encode(Hello{kProtocolVersion, kCapAll}, out);
  state_ = State::AwaitRegister;
  Event e;
  e.kind = Event::Kind::HelloOk;
  return e;
}

Event RelaySession::on_register(const FrameView& f, std::vector<uint8_t>& out) {
  auto r = decode_register(f.payload);
  if (!r) return refuse(RefuseReason::Malformed, std::string("bad REGISTER: ") + to_string(r.error()), out);
  Event e;
  e.kind = Event::Kind::RegisterRequest;
  e.request = std::move(*r);
  return e;
}

void RelaySession::accept(SiteId site, std::span<const Prefix> addresses, std::vector<uint8_t>& out,
                          const DnsConfig& dns) {
  if (state_ != State::AwaitRegister) return;
  site_ = site;
  state_ = State::Ready;
  (void)encode(Accept{site, std::vector<Prefix>(addresses.begin(), addresses.end())}, out);
  // The policy parser admits only valid configs, so this cannot fail.
  if (capabilities_ & kCapDnsConfig) (void)encode(dns, out);
}

Event RelaySession::refuse(RefuseReason reason, std::string text, std::vector<uint8_t>& out) {
  Event e;
  e.kind = Event::Kind::Refused;
  e.reason = reason;
  e.text = std::move(text);
  if (state_ != State::Closed) (void)encode(Refuse{reason, e.text}, out);
  state_ = State::Closed;
  return e;
}

Event RelaySession::tick(Clock::time_point now, std::vector<uint8_t>& out) {
  Event e;
  if (state_ == State::Closed) return e;
  if (state_ != State::Ready) {
    // Stuck in TLS, or authenticated but never registered.
    if (now - opened_ > timing_.handshake_timeout) {
      e.kind = Event::Kind::HandshakeTimeout;
      e.text = "no completed registration within the handshake timeout";
      state_ = State::Closed;
    }
    return e;
  }
  if (now - last_rx_ > timing_.dead_after) {
    e.kind = Event::Kind::Dead;
    e.text = "nothing received for too long (dead peer)";
    state_ = State::Closed;
    return e;
  }
  if (now - last_ping_ >= timing_.keepalive) {
    last_ping_ = now;
    (void)encode(Ping{uint64_t(now.time_since_epoch().count())}, out);
  }
  return e;
}

}  // namespace dialout
