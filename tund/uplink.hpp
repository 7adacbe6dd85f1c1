// One outbound connection from a site to the intermediary, driven on an
// event loop. The protocol (HELLO, REGISTER, keepalive, backoff, restart
// hints, roaming) is the I/O-free SiteSession (tund/site_session.hpp); this
// driver only resolves the intermediary's name off the loop
// (tund/resolver.hpp), dials through a Dialer (tund/dialer.hpp) racing the
// name's addresses happy-eyeballs style (tund/connect_race.hpp), moves bytes
// through a Channel, arms timers, applies the session's actions and calls
// the Handler. DATA takes a fast path straight to the handler (no copy, no
// allocation). A site keeps several of these (the connection pool); flows
// are hashed onto the ready ones.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "netlib/channel.hpp"
#include "netlib/event_loop.hpp"
#include "netlib/log.hpp"
#include "netlib/socket.hpp"
#include "netlib/tls.hpp"
#include "netlib/wire.hpp"
#include "tund/connect_attempts.hpp"
#include "tund/connect_race.hpp"
#include "tund/dialer.hpp"
#include "tund/proxy_dialer.hpp"
#include "tund/resolver.hpp"
#include "tund/site_session.hpp"

namespace dialout {

// Test seams of an Uplink; the defaults are the real thing.
struct UplinkSeams {
  Dialer* dialer = nullptr;  // null: TCP + TLS with the uplink's TlsContext
  Resolver::Lookup lookup;   // empty: the system resolver
};

class Uplink {
 public:
  using Clock = std::chrono::steady_clock;
  class Handler {
   public:
    virtual ~Handler() = default;
    virtual void on_accepted(Uplink& up, const Accept& accept) = 0;
    virtual void on_routes(Uplink& up, const Routes& routes) = 0;
    virtual void on_data(Uplink& up, const DataView& data) = 0;
    // Called for every refusal. The uplink retries temporary ones with
    // backoff (unless the handler stops it) and stops by itself after a
    // permanent one (is_permanent()).
    // gave_up: the session stopped for good (SiteSession::Refused::permanent).
    virtual void on_refused(Uplink& up, const Refuse& refuse, bool gave_up) = 0;
    virtual void on_down(Uplink& up) = 0;
    // PEER_GONE: a site lost its last connection to the intermediary.
    virtual void on_peer_gone(Uplink& /*up*/, const PeerGone& /*gone*/) {}
    // DNS_CONFIG (or none, from an intermediary that cannot send it): after
    // every on_accepted and whenever the intermediary's policy changes it.
    virtual void on_dns(Uplink& /*up*/, const DnsConfig& /*dns*/) {}
  };
  struct Settings {
    Endpoint intermediary;
    std::string server_name;
    // Set: every dial goes through this proxy; the proxy's host is what
    // gets resolved and the intermediary's host goes to the proxy as is.
    std::optional<ProxyRoute> proxy;
    Register registration;
    uint32_t capabilities = kCapAll;
    std::chrono::milliseconds keepalive{5000}, dead_after{15000};
    std::chrono::milliseconds reconnect_min{200}, reconnect_max{10000};
    std::chrono::milliseconds restart_hint_max{60000}, restart_window_max{300000};
    std::chrono::milliseconds refused_retry{60000};
    // 16 superpackets of 64 KB: fewer head-drops of whole TSO bursts. Small
    // datagrams take the urgent lane, so this does not add latency to them.
    size_t queue_bytes = 1024 * 1024;
  };
  using Seams = UplinkSeams;

  Uplink(unsigned index, EventLoop& loop, TlsContext& tls, const Settings& settings, Handler& handler,
         Logger& log, uint64_t seed, Seams seams = {});
  ~Uplink();
  Uplink(const Uplink&) = delete;
  Uplink& operator=(const Uplink&) = delete;

  void start();  // connects now
  void stop();   // closes for good
  // Drops the connection (in any state) and dials again at once with the
  // backoff reset, counting a reconnect: the path changed (roaming), so the
  // old connection is presumed dead and waiting for a timeout would only
  // add delay. The name is resolved afresh (the dial does not wait for
  // it). A no-op once stopped.
  void reconnect_now(const std::string& why);
  // Leaves gracefully while a replacement carries the traffic (certificate
  // renewal): the owner has already stopped sending on it; what is queued
  // is flushed, close_notify tells the intermediary to stop picking this
  // connection, and DATA still arriving is delivered until the
  // intermediary closes or `grace` passes. No callbacks but on_data; ends
  // stopped (stopped()). A connection that is not ready just stops.
  void retire(std::chrono::milliseconds grace);
  bool retiring() const { return retiring_; }
  // The context this connection dials with (a renewal makes new uplinks
  // with a new one; the old lives until its last uplink is gone).
  const TlsContext& tls() const { return tls_; }
  bool stopped() const { return session_.state() == SiteSession::State::Stopped; }
  bool ready() const { return session_.ready() && !retiring_; }
  unsigned index() const { return index_; }
  uint64_t reconnects() const { return session_.reconnects(); }
  bool session_reused() const { return session_.resumed(); }
  // Only while ready().
  SendQueue& queue() { return channel_->queue(); }
  // What `dialoutctl status` shows for this connection; on the uplink's
  // thread (its QueueWorker copies it for the engine).
  struct Status {
    unsigned index = 0;
    std::string state;   // SiteSession state
    std::string remote;  // the address dialled (the proxy's, with a proxy)
    std::string path;    // "tls", or "tls via proxy"
    std::chrono::system_clock::time_point since{};  // registered at; epoch while not ready
    bool resumed = false;
    uint64_t bytes_in = 0, bytes_out = 0;  // plaintext, this connection
    std::optional<std::chrono::microseconds> rtt;
    int64_t cert_not_after = 0;  // of the certificate this connection presents
  };
  Status status() const;
  // Writes what is queued (call after a batch of enqueues).
  void flush();

 private:
  void pump();  // applies the session's actions
  void dial();
  // Happy eyeballs over addresses_ (tund/connect_race.hpp): attempts run
  // side by side until one's handshake completes; it becomes channel_.
  void start_race();
  void advance_race();
  void on_attempt_event(size_t attempt);
  void win_race(size_t attempt);
  void close_attempts();
  void on_resolved(Resolver::Result result);
  void on_event(uint32_t events);
  bool on_frame(const FrameView& frame);
  void close_connection();
  void set_interest(uint32_t events);
  void tick();
  void retire_write();
  void on_retiring_event(uint32_t events);
  // What gets resolved and dialled: the proxy when there is one.
  const Endpoint& dial_target() const {
    return settings_.proxy ? settings_.proxy->server.address : settings_.intermediary;
  }

  unsigned index_;
  EventLoop& loop_;
  TlsContext& tls_;
  const Settings& settings_;
  Handler& handler_;
  Logger& log_;
  SiteSession session_;
  std::unique_ptr<Dialer> own_dialer_;
  Dialer& dialer_;
  std::unique_ptr<Resolver> resolver_;  // none when the intermediary is an IP literal
  std::vector<IpAddr> addresses_;       // the last answer; raced on each dial
  bool awaiting_addresses_ = false;     // a dial waits for the first answer
  std::optional<ConnectRace> race_;  // while connecting
  ConnectAttempts attempts_;         // the race's open attempts
  EventLoop::TimerId race_timer_ = 0;
  std::string race_error_;           // the last attempt's failure
  std::optional<Channel> channel_;
  uint64_t generation_ = 0;  // bumped whenever channel_ goes away
  std::string remote_;       // last address dialled, for status
  std::chrono::system_clock::time_point ready_since_{};
  uint64_t bytes_in_ = 0;    // plaintext read on the current connection
  int registered_fd_ = -1;
  uint32_t interest_ = 0;
  EventLoop::TimerId retry_timer_ = 0, tick_timer_ = 0, retire_timer_ = 0;
  bool retiring_ = false;
  bool close_sent_ = false;  // close_notify handed to TLS while retiring
};

}  // namespace dialout
