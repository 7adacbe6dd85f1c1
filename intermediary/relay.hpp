// The intermediary's engine: accepts sites, authenticates and registers
// them, pushes routes, and forwards DATA frames between them.
//
// Sessions are sharded over `workers` threads (RelayWorker): worker 0 is
// the caller's EventLoop, which also runs the listener and the timers; with
// one worker nothing else exists. Each worker has its own server SSL_CTX
// (shared ticket keys), so no TLS call needs a lock. The shared tables
// (registrar, policy, session map, every SendQueue) are under one mutex;
// frame handling runs under it, TLS, logging and file writes never do.
// DATA for another worker's session goes into that worker's bounded inbox
// (RelayInbox), which only the owner drains into its sessions
// (design: docs/internals.md, "Relay threads"). It never opens a connection
// towards a site. What a frame means is decided by RelaySession, who may
// register by Registrar, where a datagram goes by decide_forward(); this
// class moves bytes, keeps sessions and applies their events.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "intermediary/deferred_log.hpp"
#include "intermediary/registrar.hpp"
#include "intermediary/relay_counters.hpp"
#include "intermediary/relay_config.hpp"
#include "intermediary/relay_status.hpp"
#include "intermediary/relay_worker.hpp"
#include "intermediary/session.hpp"
#include "netlib/event_loop.hpp"
#include "netlib/log.hpp"
#include "intermediary/policy.hpp"
#include "netlib/tls.hpp"
#include "netlib/unique_fd.hpp"

namespace dialout {

class Relay {
 public:
  Relay(EventLoop& loop, TlsContext& tls, Policy policy, const RelayConfig& config, Logger& log);
  ~Relay();
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  // Opens the listener (binds the port; the daemon drops privileges after
  // this, before any worker thread exists). start() calls it if needed.
  Expected<void, std::string> listen();
  // Starts the worker threads, the listener and the housekeeping timers.
  Expected<void, std::string> start();
  uint16_t port() const { return port_; }
  unsigned workers() const { return unsigned(workers_.size()); }

  // SIGTERM: tell every site to come back after restart_hint, flush, stop accepting.
  void announce_restart();
  // SIGHUP: new policy for new registrations (live sessions keep theirs).
  void replace_policy(Policy policy);
  // SIGHUP: re-read the CRL while no handshake is verifying against it.
  Expected<void, std::string> reload_crl();

  // Any thread, without a lock.
  uint64_t counter(RelayCounter c) const;
  RelayCounters counters() const { return RelayCounters(counters_.snapshot()); }
  size_t session_count() const;
  size_t site_count() const;
  // Pool addresses held, live or kept for reconnects (every pool together).
  size_t pool_leases() const;
  // Live sessions each worker owns; the workers owning a site's sessions.
  std::vector<size_t> sessions_per_worker() const;
  std::vector<unsigned> site_workers(std::string_view name) const;
  void write_status() const;
  // relay_status.cpp, main loop (dialoutctl): the live sessions and the
  // registered sites, copied under the lock.
  std::vector<SessionRow> session_rows() const;
  std::vector<SiteRow> site_rows() const;
  // Closes every session of the site `name_or_id` names, or the session with
  // that id, with REFUSE(Closed, reason) so the site logs why; returns how
  // many. The site reconnects with backoff. Main loop only.
  size_t kill(std::string_view name_or_id, std::string reason);

 private:
  using Lock = std::unique_lock<std::mutex>;

  // relay_io.cpp and relay_housekeeping.cpp: threads, sockets, TLS, timers.
  // `lk` holds mu_ on entry and exit
  // where a function takes it; it may be released around TLS calls.
  Expected<void, std::string> start_workers();
  void on_accept();
  void adopt(RelayWorker& w, Accepted a);
  // On w's thread: its context takes the new CRL and ticket keys.
  void apply_crl_reload(RelayWorker& w, const TlsContext::TicketKeys& keys);
  void on_wake(RelayWorker& w);
  void on_event(RelayWorker& w, SessionId id, uint32_t events);
  void read_frames(RelayWorker& w, Session& s, Lock& lk);
  void drive_handshake(RelayWorker& w, Session& s, Lock& lk);
  void flush(RelayWorker& w, Session& s, Lock& lk);
  // Flushes this worker's dirty sessions and closes its retired ones.
  void finish(RelayWorker& w, Lock& lk);
  void update_interest(RelayWorker& w, Session& s);
  void worker_tick(RelayWorker& w);
  void arm_tick(RelayWorker& w);
  void global_housekeeping();
  void reload_crl_if_changed();
  void arm_routes();  // main loop
  bool on_thread(const RelayWorker& w) const { return std::this_thread::get_id() == w.thread_id; }
  void wake(RelayWorker& w);
  void mark_dirty(Session& s);
  RelayWorker& owner(const Session& s) { return *workers_[s.owner]; }

  // relay.cpp: applying the sessions' events, all under mu_. `now` is
  // read once by the loop callback that got here.
  bool on_frame(Session& s, const FrameView& frame, Session::Clock::time_point now);  // false: the session was closed
  // Applies what the session core returned; its frames are in scratch_.
  bool apply(Session& s, RelaySession::Event&& e, const FrameView* frame, Session::Clock::time_point now);
  bool on_register(Session& s, const Register& r, Session::Clock::time_point now);
  void on_data(Session& s, const FrameView& frame, const DataView& d, Session::Clock::time_point now);
  // On out's owner: queues a DATA frame (header included) from site `src`.
  void queue_data(Session& out, SiteId src, std::span<const uint8_t> frame, size_t ip_bytes);
  // On w's thread: what other workers forwarded to its sessions.
  void drain_inbox(RelayWorker& w);
  // Refuses for the relay (a registration decision, a session limit).
  void refuse(Session& s, RefuseReason reason, std::string text);
  // Logs and closes a session whose REFUSE is in scratch_.
  void close_refused(Session& s, const RelaySession::Event& e);
  // Closes `s` if its control frames overflowed (Session::stalled); true if it did.
  bool close_if_stalled(Session& s);
  // Any thread: the session leaves every shared table at once; its owner
  // closes the fd and TLS later (RelayWorker::closing).
  void close_session(Session& s, const std::string& why);
  void send(Session& s, SendQueue::Lane lane, std::span<const uint8_t> frame);
  void push_routes();
  void send_route_snapshots();
  RelaySessionTiming timing() const {
    return {config_.handshake_timeout, config_.keepalive, config_.dead_after};
  }
  // Small datagrams may fill this much of a session's urgent lane; the rest
  // is kept for control frames (see on_data).
  static size_t urgent_data_bytes(Session& s) { return s.channel.queue().limits().urgent_bytes / 2; }
  Session* find(SessionId id);

  EventLoop& loop_;
  TlsContext& tls_;  // worker 0's; the others have their own (RelayWorker::tls)
  const RelayConfig& config_;
  Logger& log_;
  // Every line the relay logs goes through here (dlog()) and is written by
  // the callback that made it once it holds no lock (FlushLog).
  DeferredLog deferred_;
  Logger& dlog() { return deferred_.logger(); }
  struct FlushLog {
    DeferredLog& log;
    ~FlushLog() { log.flush(); }
  };

  // Guards everything below, and every Session's fields but its TLS side.
  mutable std::mutex mu_;
  Policy policy_;
  RateLimitedLog drop_log_;
  Registrar registrar_;  // registry and address pools
  RelayCounterSet counters_;  // written under mu_, read by anyone
  SessionId next_session_ = 1;
  std::unordered_map<SessionId, std::unique_ptr<Session>> sessions_;
  std::unordered_map<std::string, unsigned> sessions_per_identity_;
  std::vector<uint8_t> scratch_;
  bool routes_due_ = false;  // a route snapshot must go out (armed on the main loop)
  bool restarting_ = false;
  // Filled by start(), fixed afterwards. Declared last: the threads are
  // joined before any of the state above goes away.
  std::vector<std::unique_ptr<RelayWorker>> workers_;

  // The main loop's thread only.
  UniqueFd listener_;
  std::vector<std::unique_ptr<TlsContext>> worker_tls_;  // made by listen(), moved to workers 1.. by start()
  uint16_t port_ = 0;
  int64_t crl_mtime_ns_ = 0;
  EventLoop::TimerId routes_timer_ = 0;
  Session::Clock::time_point last_status_{};
};

}  // namespace dialout
