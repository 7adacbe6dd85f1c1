// The site's side of one session with the intermediary, without any I/O (in
// the spirit of boringtun's Tunn): the driver (tund/uplink.hpp) passes in
// `now`, transport outcomes, decoded frames and ticks; the session answers
// with actions, oldest first: frames to send, events for the site, the
// transport to drop, when to dial again, and log lines. No sockets, TLS,
// clock reads or logging in here, so every edge is table-tested with a fake
// clock (tests/tund/site_session_test.cpp).
//
//   Waiting      no transport; a ReconnectAfter delay runs (retry_due ends it)
//   Connecting   Dial was asked for: the driver resolves, connects, sets up
//                TLS (transport_up / transport_failed end it)
//   AwaitHello   our HELLO is out; waiting for the intermediary's
//   AwaitAccept  our REGISTER is out; waiting for ACCEPT or REFUSE
//   Ready        registered: DATA, ROUTES, PING/PONG, PEER_GONE, DNS_CONFIG flow
//   Stopped      for good (stop(), or a refusal no retry can fix)
//
// Refusals (netlib/wire.hpp RefusalKind): a Temporary one is retried with the
// backoff; a NeedsChange one is logged once (with what to change) and
// retried every `refused_retry`, jittered, quietly, until an ACCEPT or
// another reason; a Fatal one stops the session.
//
// Timers (tick): Connecting, AwaitHello and AwaitAccept together may last
// `handshake_timeout`; in Ready a PING goes out after `keepalive` of silence
// (nothing received and no PING sent), and the session is dead after
// `dead_after` of silence. Any failure closes and schedules the next attempt
// after the jittered backoff (reset once ready) or after the delay a
// RESTARTING frame announces, plus a uniformly random share of the window it
// announces (so a fleet told at once does not reconnect at once). DATA in Ready is the driver's fast path: it
// stays zero-copy and never passes through here.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "netlib/backoff.hpp"
#include "netlib/log.hpp"  // LogLevel only: notes are returned, never written here
#include "netlib/wire.hpp"
#include "tund/route_sync.hpp"

namespace dialout {

struct SiteSessionSettings {
  Register registration;
  uint32_t capabilities = kCapAll;
  std::chrono::milliseconds keepalive{5000}, dead_after{15000}, handshake_timeout{15000};
  std::chrono::milliseconds reconnect_min{200}, reconnect_max{10000};
  // A RESTARTING hint above this is capped (a hostile or buggy relay cannot park us).
  std::chrono::milliseconds restart_hint_max{60000};
  // A RESTARTING window above this is capped likewise.
  std::chrono::milliseconds restart_window_max{300000};
  // After a refusal only a change elsewhere can heal (RefusalKind::NeedsChange:
  // the policy, or another site leaving), try again about this often; 0: stop
  // for good instead (tund exits), as for a Fatal one.
  std::chrono::milliseconds refused_retry{60000};
  // False: that NeedsChange line goes out at Debug (another session of the
  // site says it).
  bool log_refusals = true;
  uint64_t seed = 0;  // backoff and restart-window jitter
};

class SiteSession {
 public:
  using Clock = std::chrono::steady_clock;
  enum class State : uint8_t { Waiting, Connecting, AwaitHello, AwaitAccept, Ready, Stopped };

  // Set up a new transport now (resolve, connect, TLS), then report it.
  struct Dial {};
  // One whole control frame for the urgent lane.
  struct Send {
    std::vector<uint8_t> frame;
  };
  struct Accepted {
    Accept accept;
  };
  // The whole table the site may reach now: from ROUTES, or from
  // ROUTE_UPDATE once an update is complete (tund/route_sync.hpp).
  struct RoutesChanged {
    Routes routes;
  };
  // permanent: the session gave up and is Stopped (the site should exit).
  struct Refused {
    Refuse refuse;
    bool permanent = false;
  };
  struct Gone {
    PeerGone gone;
  };
  // The resolvers and domains this connection says the site should use
  // (DNS_CONFIG); empty when the intermediary gives none or is too old to
  // say (its HELLO lacks kCapDnsConfig: reported right after Accepted).
  struct DnsChanged {
    DnsConfig dns;
  };
  // Drop the transport. was_ready: the site lost a ready session (on_down).
  struct Close {
    std::string why;
    bool was_ready = false;
  };
  // Call retry_due() after this delay.
  struct ReconnectAfter {
    std::chrono::milliseconds delay{0};
  };
  // A line for the driver's log.
  struct Note {
    LogLevel level = LogLevel::Info;
    std::string text;
  };
  using Action =
      std::variant<Dial, Send, Accepted, RoutesChanged, Refused, Gone, DnsChanged, Close, ReconnectAfter, Note>;

  explicit SiteSession(SiteSessionSettings settings);

  // Waiting → Connecting (Dial). Only from Waiting.
  void start(Clock::time_point now);
  // For good; actions not yet taken are dropped. The driver closes.
  void stop();
  // The path changed (roaming): the connection is presumed dead. Close it in
  // any state, dial again at once with the backoff reset, and flag the next
  // REGISTER kRegisterRoamed (until one is accepted).
  void reconnect_now(Clock::time_point now, std::string_view why);
  // The ReconnectAfter delay is over: Waiting → Connecting (Dial).
  void retry_due(Clock::time_point now);
  // The transport is set up: send HELLO.
  void transport_up(Clock::time_point now, bool resumed);
  // Set-up failed, or the stream broke (closed, TLS error, malformed bytes).
  void transport_failed(Clock::time_point now, std::string_view why);
  // Bytes arrived (liveness); the driver calls it once per read batch.
  void received(Clock::time_point now);
  // A whole frame from the intermediary (not DATA in Ready: see the top).
  void on_frame(Clock::time_point now, const FrameView& frame);
  // Timers; call at least every session_tick_period(keepalive).
  void tick(Clock::time_point now);

  // The next action, oldest first; nullopt when there is none.
  std::optional<Action> next_action();

  State state() const { return state_; }
  bool ready() const { return state_ == State::Ready; }
  // A transport exists and frames may arrive (AwaitHello..Ready).
  bool connected() const { return state_ == State::AwaitHello || state_ == State::AwaitAccept || state_ == State::Ready; }
  uint64_t reconnects() const { return reconnects_; }
  bool resumed() const { return resumed_; }
  // Round trip of the last keepalive PING answered (pings go out on idle
  // connections only, so under load this is the last quiet moment's).
  std::optional<std::chrono::microseconds> rtt() const { return rtt_; }
  bool roam_pending() const { return roamed_; }
  // The NeedsChange refusal the session is waiting out, until an ACCEPT.
  std::optional<RefuseReason> refused() const { return refused_; }

 private:
  // Closes and schedules the next attempt (after `delay`, else the backoff).
  // quiet: no log line (the caller said it already).
  void fail(Clock::time_point now, std::string why, std::optional<std::chrono::milliseconds> delay = std::nullopt,
            bool quiet = false);
  void enter(State s, Clock::time_point now);
  void send(const auto& message);
  void note(LogLevel level, std::string text);
  void on_refuse(Clock::time_point now, const FrameView& f);
  void on_restarting(Clock::time_point now, const FrameView& f);
  void on_ready_frame(Clock::time_point now, const FrameView& f);
  void on_route_update(Clock::time_point now, const FrameView& f);
  // Uniform in [0, window] from the seeded source (splitmix64).
  std::chrono::milliseconds spread(std::chrono::milliseconds window);

  SiteSessionSettings settings_;
  Backoff backoff_;
  State state_ = State::Waiting;
  Clock::time_point since_{}, last_rx_{}, last_ping_{};
  uint64_t reconnects_ = 0;
  uint64_t ping_token_ = 0;
  bool ping_outstanding_ = false;
  std::optional<std::chrono::microseconds> rtt_;
  bool resumed_ = false;
  bool ever_ready_ = false;
  bool roamed_ = false;
  uint32_t relay_capabilities_ = 0;  // from this connection's HELLO
  std::optional<RefuseReason> refused_;
  uint64_t spread_state_;
  RouteSync route_sync_;  // per connection: reset by transport_up
  std::vector<Action> actions_;
  size_t taken_ = 0;
};

const char* to_string(SiteSession::State);

}  // namespace dialout
