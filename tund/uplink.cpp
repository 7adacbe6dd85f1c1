#include "tund/uplink.hpp"

#include <algorithm>

#include "netlib/session_timing.hpp"
#include "netlib/tls_transport.hpp"

namespace dialout {

Uplink::Uplink(unsigned index, EventLoop& loop, TlsContext& tls, const Settings& settings, Handler& handler,
               Logger& log, uint64_t seed)
    : index_(index),
      loop_(loop),
      tls_(tls),
      settings_(settings),
      handler_(handler),
      log_(log),
      backoff_(settings.reconnect_min, settings.reconnect_max, seed) {}

Uplink::~Uplink() { stop(); }

void Uplink::start() {
  auto period = session_tick_period(settings_.keepalive);
  tick_timer_ = loop_.add_timer(period, [this] { tick(); });
  connect_now();
}

void Uplink::stop() {
  if (state_ == State::Stopped) return;
  close_connection();
  state_ = State::Stopped;
  if (retry_timer_ != 0) loop_.cancel_timer(std::exchange(retry_timer_, 0));
  if (tick_timer_ != 0) loop_.cancel_timer(std::exchange(tick_timer_, 0));
}

void Uplink::reconnect_now(const std::string& why) {
  if (state_ == State::Stopped) return;
  bool was_ready = state_ == State::Ready;
  close_connection();
  state_ = State::Waiting;
  state_since_ = loop_.now();
  if (retry_timer_ != 0) loop_.cancel_timer(std::exchange(retry_timer_, 0));
  backoff_.reset();
  ++reconnects_;
  roamed_ = true;  // the next REGISTER tells the intermediary to retire our old connections
  log_.info("uplink {}: {}; reconnecting now", index_, why);
  if (was_ready) handler_.on_down(*this);
  connect_now();
}

void Uplink::set_interest(uint32_t events) {
  int fd = channel_ ? channel_->fd() : -1;
  if (fd < 0) return;
  if (registered_fd_ != fd) {
    if (registered_fd_ >= 0) loop_.remove(registered_fd_);
    loop_.add(fd, events, [this](uint32_t ev) { on_event(ev); });
    registered_fd_ = fd;
    interest_ = events;
  } else if (events != interest_) {
    loop_.modify(fd, events);
    interest_ = events;
  }
}

void Uplink::connect_now() {
  retry_timer_ = 0;
  if (state_ == State::Stopped) return;
  state_ = State::Handshaking;
  state_since_ = loop_.now();
  auto transport = TlsTransport::dial(tls_, settings_.intermediary, settings_.server_name);
  if (!transport) {
    fail(transport.error());
    return;
  }
  channel_.emplace(std::move(*transport), Channel::limits_for(settings_.queue_bytes));
  set_interest(EPOLLOUT);
}

void Uplink::on_event(uint32_t events) {
  switch (state_) {
    case State::Handshaking: drive_handshake(); return;
    case State::Waiting:
    case State::Stopped: return;
    default: break;
  }
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
    auto out = channel_->read_frames([this](const FrameView& f) { return on_frame(f); }, 512 * 1024);
    using RS = Channel::ReadStatus;
    switch (out.status) {
      case RS::Stopped: return;
      case RS::Closed: fail("closed by the intermediary"); return;
      case RS::Error: fail("TLS: " + channel_->transport().last_error()); return;
      case RS::Malformed: fail(std::string("malformed frame from the intermediary: ") + to_string(out.wire_error)); return;
      default: break;
    }
    if (out.bytes > 0) last_rx_ = loop_.now();
  }
  flush();
}

void Uplink::drive_handshake() {
  auto st = channel_->transport().handshake();
  if (st == IoStatus::WantRead || st == IoStatus::WantWrite) {
    set_interest(st == IoStatus::WantRead ? EPOLLIN : EPOLLOUT);
    return;
  }
  if (st != IoStatus::Done) {
    fail("connection to " + settings_.intermediary.to_string() + " failed: " + channel_->transport().last_error());
    return;
  }
  session_reused_ = channel_->transport().resumed();
  state_ = State::AwaitHello;
  last_rx_ = loop_.now();
  send_control(Hello{kProtocolVersion, settings_.capabilities});
  flush();
}

void Uplink::send_control(const auto& message) {
  scratch_.clear();
  if (encode(message, scratch_)) channel_->queue().push(SendQueue::Lane::Urgent, scratch_);
}

bool Uplink::on_frame(const FrameView& f) {
  if (f.type == MsgType::Refuse) {
    auto r = decode_refuse(f.payload);
    Refuse refuse = r ? *r : Refuse{RefuseReason::Malformed, "unreadable refusal"};
    log_.error("uplink {}: the intermediary refused us: {}: {}", index_, to_string(refuse.reason), refuse.text);
    handler_.on_refused(*this, refuse);  // may stop this uplink for good
    if (state_ != State::Stopped) fail("refused");
    return false;
  }
  if (f.type == MsgType::Restarting) {
    auto r = decode_restarting(f.payload);
    auto hint = std::chrono::milliseconds(r ? std::min<uint32_t>(r->reconnect_after_ms, 60000) : 1000);
    log_.info("uplink {}: intermediary restarting; reconnecting in {} ms", index_, hint.count());
    fail("intermediary restarting", hint);
    return false;
  }
  switch (state_) {
    case State::AwaitHello: {
      if (f.type != MsgType::Hello) break;
      auto h = decode_hello(f.payload);
      if (!h || h->version != kProtocolVersion) break;
      state_ = State::AwaitAccept;
      if (roamed_) {
        Register r = settings_.registration;
        r.flags |= kRegisterRoamed;
        send_control(r);
      } else {
        send_control(settings_.registration);
      }
      return true;
    }
    case State::AwaitAccept: {
      if (f.type != MsgType::Accept) break;
      auto a = decode_accept(f.payload);
      if (!a) break;
      roamed_ = false;
      state_ = State::Ready;
      was_ready_ = true;
      backoff_.reset();
      log_.info("uplink {}: registered '{}' as site {}{}", index_, settings_.registration.name, a->id,
                session_reused_ ? " (TLS session resumed)" : "");
      handler_.on_accepted(*this, *a);
      return state_ == State::Ready;
    }
    case State::Ready:
      switch (f.type) {
        case MsgType::Data: {
          auto d = decode_data(f.payload);
          if (!d) {
            log_.warn("uplink {}: dropped malformed DATA: {}", index_, to_string(d.error()));
            return true;
          }
          handler_.on_data(*this, *d);
          return state_ == State::Ready;
        }
        case MsgType::Routes: {
          auto r = decode_routes(f.payload);
          if (!r) break;
          handler_.on_routes(*this, *r);
          return state_ == State::Ready;
        }
        case MsgType::Ping: {
          auto p = decode_ping(f.payload);
          if (!p) break;
          send_control(Pong{p->token});
          return true;
        }
        case MsgType::Pong: return true;  // liveness is any byte
        case MsgType::PeerGone: {
          auto g = decode_peer_gone(f.payload);
          if (!g) break;
          handler_.on_peer_gone(*this, *g);
          return state_ == State::Ready;
        }
        default: break;
      }
      break;
    default: break;
  }
  fail(fmt::format("unexpected frame type {} from the intermediary", unsigned(f.type)));
  return false;
}

void Uplink::flush() {
  if (!channel_ || state_ < State::AwaitHello) return;
  if (channel_->flush() == Channel::FlushStatus::Error) {
    fail("TLS write: " + channel_->transport().last_error());
    return;
  }
  set_interest(channel_->epoll_events());
}

void Uplink::close_connection() {
  if (registered_fd_ >= 0) loop_.remove(std::exchange(registered_fd_, -1));
  interest_ = 0;
  channel_.reset();
}

void Uplink::fail(const std::string& why, std::optional<std::chrono::milliseconds> delay) {
  if (state_ == State::Stopped) return;
  bool was_ready = state_ == State::Ready;
  close_connection();
  state_ = State::Waiting;
  state_since_ = loop_.now();
  auto wait = delay ? *delay : backoff_.next();
  ++reconnects_;
  if (was_ready || !was_ready_ || reconnects_ % 10 == 1)
    log_.warn("uplink {}: {}; reconnecting in {} ms", index_, why, wait.count());
  if (retry_timer_ != 0) loop_.cancel_timer(retry_timer_);
  retry_timer_ = loop_.add_timer(wait, [this] { connect_now(); });
  if (was_ready) handler_.on_down(*this);
}

void Uplink::tick() {
  tick_timer_ = 0;
  auto now = loop_.now();
  switch (state_) {
    case State::Handshaking:
    case State::AwaitHello:
    case State::AwaitAccept:
      if (now - state_since_ > settings_.dead_after) fail("no answer from the intermediary");
      break;
    case State::Ready:
      if (now - last_rx_ > settings_.dead_after) {
        fail(fmt::format("nothing heard for {} ms", settings_.dead_after.count()));
      } else if (now - last_ping_ >= settings_.keepalive) {
        last_ping_ = now;
        send_control(Ping{++ping_token_});
        flush();
      } else if (channel_->queue().empty()) {
        channel_->trim();
      }
      break;
    default: break;
  }
  if (state_ == State::Stopped) return;
  auto period = session_tick_period(settings_.keepalive);
  tick_timer_ = loop_.add_timer(period, [this] { tick(); });
}

}  // namespace dialout
