// One outbound TLS connection from a site to the intermediary, with its
// whole life: connect, handshake, HELLO, REGISTER, keepalive, and reconnect
// with jittered exponential backoff. A site keeps several of these (the
// connection pool); flows are hashed onto the ready ones.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "netlib/backoff.hpp"
#include "netlib/channel.hpp"
#include "netlib/event_loop.hpp"
#include "netlib/log.hpp"
#include "netlib/socket.hpp"
#include "netlib/tls.hpp"
#include "netlib/unique_fd.hpp"
#include "netlib/wire.hpp"

namespace dialout {

class Uplink {
 public:
  using Clock = std::chrono::steady_clock;
  class Handler {
   public:
    virtual ~Handler() = default;
    virtual void on_accepted(Uplink& up, const Accept& accept) = 0;
    virtual void on_routes(Uplink& up, const Routes& routes) = 0;
    virtual void on_data(Uplink& up, const DataView& data) = 0;
    // Called for every refusal; the uplink retries unless the handler stops it.
    virtual void on_refused(Uplink& up, const Refuse& refuse) = 0;
    virtual void on_down(Uplink& up) = 0;
    // PEER_GONE: a site lost its last connection to the intermediary.
    virtual void on_peer_gone(Uplink& /*up*/, const PeerGone& /*gone*/) {}
  };
  struct Settings {
    Endpoint intermediary;
    std::string server_name;
    Register registration;
    uint32_t capabilities = kCapAll;
    std::chrono::milliseconds keepalive{5000}, dead_after{15000};
    std::chrono::milliseconds reconnect_min{200}, reconnect_max{10000};
    // 16 superpackets of 64 KB: fewer head-drops of whole TSO bursts. Small
    // datagrams take the urgent lane, so this does not add latency to them.
    size_t queue_bytes = 1024 * 1024;
  };

  Uplink(unsigned index, EventLoop& loop, TlsContext& tls, const Settings& settings, Handler& handler,
         Logger& log, uint64_t seed);
  ~Uplink();
  Uplink(const Uplink&) = delete;
  Uplink& operator=(const Uplink&) = delete;

  void start();  // connects now
  void stop();   // closes for good
  // Drops the connection (in any state) and dials again at once with the
  // backoff reset, counting a reconnect: the path changed (roaming), so the
  // old connection is presumed dead and waiting for a timeout would only
  // add delay. A no-op once stopped.
  void reconnect_now(const std::string& why);
  bool ready() const { return state_ == State::Ready; }
  unsigned index() const { return index_; }
  uint64_t reconnects() const { return reconnects_; }
  bool session_reused() const { return session_reused_; }
  // Only while ready().
  SendQueue& queue() { return channel_->queue(); }
  // Writes what is queued (call after a batch of enqueues).
  void flush();

 private:
  enum class State { Waiting, Handshaking, AwaitHello, AwaitAccept, Ready, Stopped };
  void connect_now();
  void on_event(uint32_t events);
  void drive_handshake();
  bool on_frame(const FrameView& frame);
  void send_control(const auto& message);
  // Closes the connection and schedules the next attempt (after `delay`, or backoff).
  void fail(const std::string& why, std::optional<std::chrono::milliseconds> delay = std::nullopt);
  void close_connection();
  void set_interest(uint32_t events);
  void tick();

  unsigned index_;
  EventLoop& loop_;
  TlsContext& tls_;
  const Settings& settings_;
  Handler& handler_;
  Logger& log_;
  Backoff backoff_;
  State state_ = State::Waiting;
  std::optional<Channel> channel_;
  int registered_fd_ = -1;
  uint32_t interest_ = 0;
  Clock::time_point state_since_{}, last_rx_{}, last_ping_{};
  EventLoop::TimerId retry_timer_ = 0, tick_timer_ = 0;
  uint64_t reconnects_ = 0;
  uint64_t ping_token_ = 0;
  bool session_reused_ = false;
  bool was_ready_ = false;
  bool roamed_ = false;  // set by reconnect_now(): the next REGISTER carries kRegisterRoamed
  std::vector<uint8_t> scratch_;
};

}  // namespace dialout
