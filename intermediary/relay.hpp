// The intermediary's engine: accepts sites, authenticates and registers
// them, pushes routes, and forwards DATA frames between them.
//
// Single-threaded on one EventLoop. It never opens a connection towards a
// site. Every decision about a datagram is made by decide_forward(); this
// class only moves bytes and keeps sessions.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "intermediary/address_pool.hpp"
#include "intermediary/registry.hpp"
#include "intermediary/relay_config.hpp"
#include "intermediary/session.hpp"
#include "netlib/event_loop.hpp"
#include "netlib/log.hpp"
#include "netlib/policy.hpp"
#include "netlib/tls.hpp"
#include "netlib/unique_fd.hpp"

namespace dialout {

struct RelayCounters {
  uint64_t frames_forwarded = 0;
  uint64_t bytes_forwarded = 0;
  uint64_t drop_spoofed_source = 0;
  uint64_t drop_policy = 0;
  uint64_t drop_no_route = 0;
  uint64_t drop_queue_full = 0;
  uint64_t drop_malformed = 0;
  uint64_t refused_register = 0;
  uint64_t handshake_failed = 0;
};

class Relay {
 public:
  Relay(EventLoop& loop, TlsContext& tls, Policy policy, const RelayConfig& config, Logger& log);
  ~Relay();
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  // Opens the listener and starts the housekeeping timer.
  Expected<void, std::string> start();
  uint16_t port() const { return port_; }

  // SIGTERM: tell every site to come back after restart_hint, flush, stop accepting.
  void announce_restart();
  // SIGHUP: new policy for new registrations (live sessions keep theirs).
  void replace_policy(Policy policy) { policy_ = std::move(policy); }

  const RelayCounters& counters() const { return counters_; }
  size_t session_count() const { return sessions_.size(); }
  size_t site_count() const { return registry_.site_count(); }
  void write_status() const;

 private:
  void on_accept();
  void on_event(SessionId id, uint32_t events);
  void drive_handshake(Session& s);
  bool on_frame(Session& s, const FrameView& frame);  // false: the session was closed
  bool on_hello(Session& s, const FrameView& frame);
  bool on_register(Session& s, const FrameView& frame);
  void on_data(Session& s, const FrameView& frame);
  // After a roam: close the site's sessions that still come from its old address.
  void retire_other_addresses(Session& fresh);
  void refuse(Session& s, RefuseReason reason, const std::string& text);
  void close_session(Session& s, const std::string& why);
  void send(Session& s, SendQueue::Lane lane, std::span<const uint8_t> frame);
  void push_routes();
  void send_route_snapshots();
  void flush(Session& s);
  void flush_dirty();
  void update_interest(Session& s);
  void tick();
  void reload_crl_if_changed();
  // Addresses for a laptop (REGISTER with kRegisterWantAddress); empty + refusal text on failure.
  Expected<std::vector<Prefix>, std::string> assign_addresses(const std::string& key);
  void arm_tick();
  Session* find(SessionId id);

  EventLoop& loop_;
  TlsContext& tls_;
  Policy policy_;
  const RelayConfig& config_;
  Logger& log_;
  RateLimitedLog drop_log_;
  Registry registry_;
  RelayCounters counters_;
  UniqueFd listener_;
  uint16_t port_ = 0;
  SessionId next_session_ = 1;
  std::unordered_map<SessionId, std::unique_ptr<Session>> sessions_;
  std::unordered_map<std::string, unsigned> sessions_per_identity_;
  std::vector<SessionId> dirty_;
  // Closed sessions die at the next tick, never inside their own callback.
  std::vector<std::unique_ptr<Session>> graveyard_;
  std::vector<uint8_t> scratch_;
  std::vector<AddressPool> pools_;
  std::unordered_map<SiteId, std::string> pool_keys_;  // sites holding pool addresses
  int64_t crl_mtime_ns_ = 0;
  EventLoop::TimerId tick_timer_ = 0;
  EventLoop::TimerId routes_timer_ = 0;
  Session::Clock::time_point last_status_{};
};

}  // namespace dialout
