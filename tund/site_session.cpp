#include "tund/site_session.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <utility>

namespace dialout {
namespace {

// Hint used when a RESTARTING frame cannot be read: long enough for a
// restart to get under way, short enough not to matter.
constexpr std::chrono::milliseconds kUnreadableRestartHint{1000};

const char* frame_name(MsgType t) {
  switch (t) {
    case MsgType::Hello: return "HELLO";
    case MsgType::Register: return "REGISTER";
    case MsgType::Accept: return "ACCEPT";
    case MsgType::Refuse: return "REFUSE";
    case MsgType::Routes: return "ROUTES";
    case MsgType::Ping: return "PING";
    case MsgType::Pong: return "PONG";
    case MsgType::PeerGone: return "PEER_GONE";
    case MsgType::Restarting: return "RESTARTING";
    case MsgType::Data: return "DATA";
    case MsgType::RouteUpdate: return "ROUTE_UPDATE";
    case MsgType::RouteResync: return "ROUTE_RESYNC";
    case MsgType::DnsConfig: return "DNS_CONFIG";
  }
  return "unknown";
}

}  // namespace

const char* to_string(SiteSession::State s) {
  using S = SiteSession::State;
  switch (s) {
    case S::Waiting: return "waiting";
    case S::Connecting: return "connecting";
    case S::AwaitHello: return "await-hello";
    case S::AwaitAccept: return "await-accept";
    case S::Ready: return "ready";
    case S::Stopped: return "stopped";
  }
  return "unknown";
}

SiteSession::SiteSession(SiteSessionSettings settings)
    : settings_(std::move(settings)), backoff_(settings_.reconnect_min, settings_.reconnect_max, settings_.seed),
      // Its own stream, so restart spreading does not shift the backoff's draws.
      spread_state_(settings_.seed ^ 0x6a09e667f3bcc909ull) {}

std::optional<SiteSession::Action> SiteSession::next_action() {
  if (taken_ == actions_.size()) {
    actions_.clear();  // keeps its capacity
    taken_ = 0;
    return std::nullopt;
  }
  return std::move(actions_[taken_++]);
}

void SiteSession::enter(State s, Clock::time_point now) {
  state_ = s;
  since_ = now;
}

void SiteSession::send(const auto& message) {
  Send s;
  // Encoding fails only on a message we built wrongly (a caller bug the
  // settings parser already rules out); nothing useful to send then.
  if (encode(message, s.frame)) actions_.emplace_back(std::move(s));
}

void SiteSession::note(LogLevel level, std::string text) { actions_.emplace_back(Note{level, std::move(text)}); }

void SiteSession::start(Clock::time_point now) {
  if (state_ != State::Waiting) return;
  enter(State::Connecting, now);
  actions_.emplace_back(Dial{});
}

void SiteSession::stop() {
  state_ = State::Stopped;
  actions_.clear();
  taken_ = 0;
}

void SiteSession::reconnect_now(Clock::time_point now, std::string_view why) {
  if (state_ == State::Stopped) return;
  bool was_ready = state_ == State::Ready;
  note(LogLevel::Info, fmt::format("{}; reconnecting now", why));
  if (state_ != State::Waiting) actions_.emplace_back(Close{std::string(why), was_ready});
  backoff_.reset();
  ++reconnects_;
  roamed_ = true;  // the next REGISTER tells the intermediary to retire our old connections
  enter(State::Connecting, now);
  actions_.emplace_back(Dial{});
}

void SiteSession::retry_due(Clock::time_point now) {
  if (state_ != State::Waiting) return;
  enter(State::Connecting, now);
  actions_.emplace_back(Dial{});
}

void SiteSession::transport_up(Clock::time_point now, bool resumed) {
  if (state_ != State::Connecting) return;
  resumed_ = resumed;
  route_sync_ = RouteSync{};  // a new connection starts with a fresh snapshot
  state_ = State::AwaitHello;  // since_ stays: the handshake timeout covers the whole set-up
  last_rx_ = now;
  send(Hello{kProtocolVersion, settings_.capabilities});
}

void SiteSession::transport_failed(Clock::time_point now, std::string_view why) {
  if (state_ == State::Connecting || connected()) fail(now, std::string(why));
}

void SiteSession::received(Clock::time_point now) {
  if (connected()) last_rx_ = std::max(last_rx_, now);
}

void SiteSession::fail(Clock::time_point now, std::string why, std::optional<std::chrono::milliseconds> delay,
                       bool quiet) {
  bool was_ready = state_ == State::Ready;
  enter(State::Waiting, now);
  auto wait = delay ? *delay : backoff_.next();
  ++reconnects_;
  // A site that cannot reach the intermediary would log every attempt; one
  // line per ten is enough once it has been up before.
  if (!quiet && (was_ready || !ever_ready_ || reconnects_ % 10 == 1))
    note(LogLevel::Warn, fmt::format("{}; reconnecting in {} ms", why, wait.count()));
  actions_.emplace_back(Close{std::move(why), was_ready});
  actions_.emplace_back(ReconnectAfter{wait});
}

void SiteSession::on_frame(Clock::time_point now, const FrameView& f) {
  if (!connected()) return;  // nothing can arrive without a transport
  last_rx_ = std::max(last_rx_, now);
  if (f.type == MsgType::Refuse) return on_refuse(now, f);
  if (f.type == MsgType::Restarting) return on_restarting(now, f);
  switch (state_) {
    case State::AwaitHello: {
      if (f.type != MsgType::Hello) break;
      auto h = decode_hello(f.payload);
      if (!h) return fail(now, fmt::format("malformed HELLO from the intermediary: {}", to_string(h.error())));
      if (h->version != kProtocolVersion)
        return fail(now, fmt::format("the intermediary speaks protocol version {}, we speak {}", h->version,
                                     kProtocolVersion));
      state_ = State::AwaitAccept;
      relay_capabilities_ = h->capabilities;
      Register r = settings_.registration;
      if (roamed_) r.flags |= kRegisterRoamed;
      send(r);
      return;
    }
    case State::AwaitAccept: {
      if (f.type != MsgType::Accept) break;
      auto a = decode_accept(f.payload);
      if (!a) return fail(now, fmt::format("malformed ACCEPT from the intermediary: {}", to_string(a.error())));
      roamed_ = false;
      refused_.reset();
      ever_ready_ = true;
      backoff_.reset();
      enter(State::Ready, now);
      last_ping_ = now;
      ping_outstanding_ = false;
      rtt_.reset();  // a new connection: a new path
      note(LogLevel::Info, fmt::format("registered '{}' as site {}{}", settings_.registration.name, a->id,
                                       resumed_ ? " (TLS session resumed)" : ""));
      actions_.emplace_back(Accepted{std::move(*a)});
      // An intermediary that cannot send DNS_CONFIG gives no DNS: what an
      // earlier one gave goes.
      if (!(relay_capabilities_ & settings_.capabilities & kCapDnsConfig)) actions_.emplace_back(DnsChanged{});
      return;
    }
    case State::Ready: return on_ready_frame(now, f);
    default: break;
  }
  fail(now, fmt::format("unexpected {} frame (type {}) from the intermediary while {}", frame_name(f.type),
                        unsigned(f.type), to_string(state_)));
}

void SiteSession::on_ready_frame(Clock::time_point now, const FrameView& f) {
  auto malformed = [&](WireError e) {
    fail(now, fmt::format("malformed {} from the intermediary: {}", frame_name(f.type), to_string(e)));
  };
  switch (f.type) {
    case MsgType::Data: return;  // the driver's fast path; only liveness here
    case MsgType::Routes: {
      auto r = decode_routes(f.payload);
      if (!r) return malformed(r.error());
      actions_.emplace_back(RoutesChanged{std::move(*r)});
      return;
    }
    case MsgType::RouteUpdate: return on_route_update(now, f);
    case MsgType::DnsConfig: {
      if (!(relay_capabilities_ & settings_.capabilities & kCapDnsConfig)) break;  // not negotiated
      auto d = decode_dns_config(f.payload);
      if (!d) return malformed(d.error());
      actions_.emplace_back(DnsChanged{std::move(*d)});
      return;
    }
    case MsgType::Ping: {
      auto p = decode_ping(f.payload);
      if (!p) return malformed(p.error());
      send(Pong{p->token});
      return;
    }
    case MsgType::Pong: {
      auto p = decode_pong(f.payload);
      if (!p) return malformed(p.error());
      // Liveness is any byte; the answer to our latest PING also times the path.
      if (ping_outstanding_ && p->token == ping_token_) {
        ping_outstanding_ = false;
        rtt_ = std::chrono::duration_cast<std::chrono::microseconds>(now - last_ping_);
      }
      return;
    }
    case MsgType::PeerGone: {
      auto g = decode_peer_gone(f.payload);
      if (!g) return malformed(g.error());
      actions_.emplace_back(Gone{*g});
      return;
    }
    default: break;
  }
  fail(now, fmt::format("unexpected {} frame (type {}) from the intermediary while ready", frame_name(f.type),
                        unsigned(f.type)));
}

void SiteSession::on_route_update(Clock::time_point now, const FrameView& f) {
  auto u = decode_route_update(f.payload);
  if (!u) return fail(now, fmt::format("malformed ROUTE_UPDATE from the intermediary: {}", to_string(u.error())));
  switch (route_sync_.apply(std::move(*u))) {
    case RouteSync::Outcome::Pending:
    case RouteSync::Outcome::Ignored: return;
    case RouteSync::Outcome::Resync:
      note(LogLevel::Warn, fmt::format("route update out of sequence (have seq {}); asking for a snapshot",
                                       route_sync_.seq()));
      send(RouteResync{route_sync_.seq()});
      return;
    case RouteSync::Outcome::Error:
      return fail(now, fmt::format("the intermediary sent more than {} routes", RouteSync::kMaxEntries));
    case RouteSync::Outcome::Installed: {
      Routes routes;
      routes.entries.reserve(route_sync_.table().size());
      for (const auto& [id, e] : route_sync_.table()) routes.entries.push_back(e);
      actions_.emplace_back(RoutesChanged{std::move(routes)});
      return;
    }
  }
}

void SiteSession::on_refuse(Clock::time_point now, const FrameView& f) {
  auto r = decode_refuse(f.payload);
  Refuse refuse = r ? std::move(*r) : Refuse{RefuseReason::Malformed, "unreadable refusal"};
  // An unreadable refusal is still a refusal, but not proof that our
  // configuration is wrong: treat it as temporary.
  auto kind = r ? refusal_kind(refuse.reason) : RefusalKind::Temporary;
  bool give_up = kind == RefusalKind::Fatal ||
                 (kind == RefusalKind::NeedsChange && settings_.refused_retry.count() == 0);
  std::string why = fmt::format("refused ({})", to_string(refuse.reason));
  if (kind == RefusalKind::Temporary) {
    note(LogLevel::Error,
         fmt::format("the intermediary refused us: {}: {}", to_string(refuse.reason), refuse.text));
    actions_.emplace_back(Refused{std::move(refuse), false});
    return fail(now, std::move(why));
  }
  if (give_up) {
    note(LogLevel::Error, fmt::format("the intermediary refused us: {}: {}; {}", to_string(refuse.reason),
                                      refuse.text, remedy(refuse.reason)));
    actions_.emplace_back(Refused{std::move(refuse), true});
    bool was_ready = state_ == State::Ready;
    enter(State::Stopped, now);
    actions_.emplace_back(Close{std::move(why), was_ready});
    return;
  }
  // Said once per reason: the same refusal every minute for a week would
  // bury the line that says what to change.
  auto delay = settings_.refused_retry + spread(settings_.refused_retry / 4);
  if (refused_ != refuse.reason)
    note(settings_.log_refusals ? LogLevel::Error : LogLevel::Debug,
         fmt::format("the intermediary refused us: {}: {}; {}. Retrying every {:g} s, quietly",
                     to_string(refuse.reason), refuse.text, remedy(refuse.reason),
                     double(settings_.refused_retry.count()) / 1000));
  refused_ = refuse.reason;
  actions_.emplace_back(Refused{std::move(refuse), false});
  fail(now, std::move(why), delay, true);
}

void SiteSession::on_restarting(Clock::time_point now, const FrameView& f) {
  auto r = decode_restarting(f.payload);
  auto hint = r ? std::min(std::chrono::milliseconds(r->reconnect_after_ms), settings_.restart_hint_max)
                : kUnreadableRestartHint;
  auto window = r ? std::min(std::chrono::milliseconds(r->window_ms), settings_.restart_window_max)
                  : std::chrono::milliseconds(0);
  auto delay = hint + spread(window);
  note(LogLevel::Info, fmt::format("intermediary restarting; reconnecting in {} ms", delay.count()));
  fail(now, "intermediary restarting", delay);
}

std::chrono::milliseconds SiteSession::spread(std::chrono::milliseconds window) {
  if (window.count() <= 0) return std::chrono::milliseconds(0);
  uint64_t z = (spread_state_ += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  // The modulo bias over a window of at most minutes is below 2^-40.
  return std::chrono::milliseconds(static_cast<int64_t>(z % (static_cast<uint64_t>(window.count()) + 1)));
}

void SiteSession::tick(Clock::time_point now) {
  switch (state_) {
    case State::Connecting:
    case State::AwaitHello:
    case State::AwaitAccept:
      if (now - since_ >= settings_.handshake_timeout)
        fail(now, fmt::format("no answer from the intermediary within {} ms ({})",
                              settings_.handshake_timeout.count(), to_string(state_)));
      break;
    case State::Ready:
      if (now - last_rx_ >= settings_.dead_after) {
        fail(now, fmt::format("nothing heard for {} ms", settings_.dead_after.count()));
      } else if (now - std::max(last_rx_, last_ping_) >= settings_.keepalive) {
        last_ping_ = now;
        ping_outstanding_ = true;
        send(Ping{++ping_token_});
      }
      break;
    default: break;
  }
}

}  // namespace dialout
