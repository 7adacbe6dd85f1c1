// The intermediary's engine: accepts sites, authenticates and registers
// them, pushes routes, and forwards DATA frames between them.
//
// Sessions are sharded over `workers` threads (RelayWorker): worker 0 is
// the caller's EventLoop, which also runs the listener and the timers; with
// one worker nothing else exists. A session is touched only by its owner's
// thread; each worker has its own server SSL_CTX (shared ticket keys), so
// no TLS call needs a lock. DATA is forwarded with no lock against the
// worker's copy of the ForwardingView; DATA for another worker's session,
// and every control frame or close the control plane has for a session, go
// through its owner's bounded inbox (RelayInbox). The control plane
// (registrar, policy, the session directory) is under one mutex, taken for
// handshakes, registrations and departures only; logging and file writes
// never happen under it (design: docs/internals.md, "Relay threads"). It
// never opens a connection towards a site. What a frame means is decided
// by RelaySession, who may register by Registrar, where a datagram goes by
// decide_forward(); this class moves bytes, keeps sessions and applies
// their events.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "intermediary/deferred_log.hpp"
#include "intermediary/forwarding_view.hpp"
#include "intermediary/pending_limits.hpp"
#include "intermediary/registrar.hpp"
#include "intermediary/relay_counters.hpp"
#include "intermediary/relay_config.hpp"
#include "intermediary/relay_status.hpp"
#include "intermediary/relay_worker.hpp"
#include "intermediary/route_view.hpp"
#include "intermediary/session.hpp"
#include "netlib/event_loop.hpp"
#include "netlib/log.hpp"
#include "netlib/shared_snapshot.hpp"
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

  // Port sharing (intermediary/port_share.hpp). Set before start(): every
  // accepted connection goes to `take` (on the main loop) instead of a
  // worker, and `status_rows` adds rows to the status file (any thread).
  struct AcceptFront {
    std::function<void(UniqueFd)> take;
    std::function<void(std::vector<std::pair<std::string_view, uint64_t>>&)> status_rows;
  };
  void set_accept_front(AcceptFront front) { front_ = std::move(front); }
  // Main loop: starts a site's session on a connected socket, as on_accept
  // does without a front (handed to the least-loaded worker, which starts TLS).
  void adopt_connection(UniqueFd fd);
  unsigned workers() const { return unsigned(workers_.size()); }

  // SIGTERM: tell every site to come back after restart_hint, flush, stop accepting.
  void announce_restart();
  // SIGHUP, main loop: the new policy decides new registrations and every
  // datagram; live registrations it no longer allows are refused and
  // closed by their owners, and routes are re-sent.
  void replace_policy(Policy policy);
  // SIGHUP, main loop: re-read the CRL while no handshake is verifying
  // against it; every worker then closes its sessions whose certificate is
  // now revoked.
  // With `certificate` (SIGHUP) our own certificate and key are re-read
  // too, for new handshakes; when they do not load nothing changes.
  Expected<void, std::string> reload_crl(bool certificate = false);
  // Our own certificate's expiry as loaded (worker 0's context).
  int64_t certificate_not_after() const { return tls_.certificate_not_after(); }

  // Any thread, without a lock.
  uint64_t counter(RelayCounter c) const;
  RelayCounters counters() const { return RelayCounters(counter_totals()); }
  RelayCounterSet::Values counter_totals() const;
  size_t session_count() const;
  size_t site_count() const;
  // No route push or forwarding-view publish is pending: every session
  // registered so far is in the view and has its routes (pushes are
  // coalesced, at most one per 50 ms).
  bool routes_settled() const;
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
  using TimePoint = Session::Clock::time_point;

  // What the control plane knows of a session; the Session itself is its
  // owner's alone.
  struct SessionEntry {
    unsigned owner = 0;
    bool authenticated = false;
    SiteId site = 0;            // once registered
    uint32_t capabilities = 0;  // once registered
    PeerIdentity who;           // once authenticated: route snapshots are per identity
    std::string peer;           // remote address, for status and logs
    std::shared_ptr<const SessionStats> stats;  // the owner writes, status reads
    // kCapRouteDeltas sessions: what it was last sent; a snapshot goes out
    // first, and again after a ROUTE_RESYNC (routes_sent = false).
    RouteView routes;
    bool routes_sent = false;
    // The policy sections that apply to `who`, under `sections_from` (asked
    // again after a reload): route pushes group sessions by them.
    Policy::SectionList sections;
    std::shared_ptr<const Policy> sections_from;
    // kCapDnsConfig sessions: the DNS config last sent (a reload sends the
    // new one to those whose config it changes).
    DnsConfig dns;
  };

  // relay_io.cpp and relay_housekeeping.cpp: threads, sockets, TLS, timers.
  // Every function taking a RelayWorker runs on its thread.
  Expected<void, std::string> start_workers();
  void on_accept();
  void adopt(RelayWorker& w, Accepted a);
  // On w's thread: its context takes the new CRL and ticket keys.
  void apply_crl_reload(RelayWorker& w, const TicketKeyRing& keys, bool certificate);
  // relay_ticket_keys.cpp, main loop: the ring from --ticket-key-file (made
  // and saved when missing, rotated when due) or a fresh one in memory;
  // rotation on schedule; every worker's context gets the same ring.
  Expected<void, std::string> load_ticket_keys();
  void arm_ticket_rotation();
  void rotate_ticket_keys();
  // Hands ticket_keys_ to workers 1.. (with a CRL reload, or alone); the
  // caller installs it in worker 0's context. Under mu_.
  void share_ticket_keys(Lock& lk, bool crl_reload, bool certificate);
  // Writes ticket_keys_ to --ticket-key-file, if any; logs a failure.
  void save_ticket_keys();
  Expected<void, std::string> save_ticket_keys_checked();
  // relay_reload.cpp, on w's thread: refuses and closes w's authenticated
  // sessions whose certificate w's context's CRL now lists.
  void close_revoked(RelayWorker& w);
  void on_wake(RelayWorker& w);
  void on_event(RelayWorker& w, SessionId id, uint32_t events);
  void read_frames(RelayWorker& w, Session& s);
  void drive_handshake(RelayWorker& w, Session& s);
  // A handshake step through the worker's gate: now, or muted until
  // release_handshakes() lets it run in a later turn.
  void handshake_step(RelayWorker& w, Session& s);
  void arm_handshake_release(RelayWorker& w);
  void release_handshakes(RelayWorker& w);
  void authenticated(RelayWorker& w, Session& s, PeerIdentity who);
  void flush(RelayWorker& w, Session& s);
  // Flushes this worker's dirty sessions and closes its retired ones.
  void finish(RelayWorker& w);
  void update_interest(RelayWorker& w, Session& s);
  void worker_tick(RelayWorker& w);
  void arm_tick(RelayWorker& w);
  void global_housekeeping();
  void reload_crl_if_changed();
  void arm_routes();  // main loop
  bool on_thread(const RelayWorker& w) const { return std::this_thread::get_id() == w.thread_id; }
  void wake(RelayWorker& w);
  void mark_dirty(RelayWorker& w, Session& s);
  Session* owned(RelayWorker& w, SessionId id);

  // relay.cpp: applying the sessions' events. `now` is read once by the
  // loop callback that got here.
  bool on_frame(RelayWorker& w, Session& s, const FrameView& frame, TimePoint now);  // false: the session was closed
  // Applies what the session core returned; its frames are in w.scratch.
  bool apply(RelayWorker& w, Session& s, RelaySession::Event&& e, const FrameView* frame, TimePoint now);
  bool on_register(RelayWorker& w, Session& s, const Register& r, TimePoint now);
  void on_data(RelayWorker& w, Session& s, const FrameView& frame, const DataView& d, TimePoint now);
  // Queues a DATA frame (header included) from site `src` into w's session.
  // One attempt at forwarding a DATA frame against w's view. Returns false
  // (having counted nothing) when the view may be stale and this is not the
  // last try: sender or destination unknown, or every session gone.
  bool forward(RelayWorker& w, Session& s, const FrameView& f, const DataView& d, TimePoint now, bool last_try);
  // A live session of `site` this worker owns (the one a frame was posted
  // for closed meanwhile); null when it has none.
  Session* another_local_session(RelayWorker& w, SiteId site);
  void queue_data(RelayWorker& w, Session& out, SiteId src, std::span<const uint8_t> frame, size_t ip_bytes);
  // What other threads left for w's sessions.
  void drain_inbox(RelayWorker& w);
  // Under mu_: a control frame or close for session `to`, wherever it
  // lives; `local` collects those for the calling worker's own sessions,
  // to apply once the lock is released.
  struct LocalEntry {
    SessionId to = 0;
    InboxKind kind = InboxKind::Control;
    std::vector<uint8_t> bytes;
  };
  using LocalWork = std::vector<LocalEntry>;
  // Main loop, under mu_: closes the pending connections the limits evicted
  // (in an adopt list: dropped here; adopted: through the owner's inbox).
  void evict_pending(const std::vector<SessionId>& ids, LocalWork& local);
  void post_control(RelayWorker& self, SessionId to, InboxKind kind, std::span<const uint8_t> bytes, LocalWork& local);
  void apply_local(RelayWorker& w, LocalWork& local);
  // On w's thread: a control entry (not DATA) for one of its sessions.
  void apply_control(RelayWorker& w, SessionId to, InboxKind kind, std::span<const uint8_t> bytes);
  // Refuses for the relay (a registration decision, a session limit).
  void refuse(RelayWorker& w, Session& s, RefuseReason reason, std::string text);
  // Logs and closes a session whose REFUSE is in w.scratch.
  void close_refused(RelayWorker& w, Session& s, const RelaySession::Event& e);
  // Closes `s` if its control frames overflowed (Session::stalled); true if it did.
  bool close_if_stalled(RelayWorker& w, Session& s);
  // The session leaves every table at once; its fd and TLS go at the end
  // of the loop pass (RelayWorker::closing).
  void close_session(RelayWorker& w, Session& s, const std::string& why);
  void send(RelayWorker& w, Session& s, SendQueue::Lane lane, std::span<const uint8_t> frame);
  // Under mu_: routes (and the view) must be rebuilt once things settle.
  void push_routes();
  void send_route_snapshots(Lock& lk);
  // Under mu_: a new ForwardingView from the control plane's tables.
  void publish_view();
  // w's copy of the view is the newest published (one atomic load when it
  // is); `force`: have the control plane publish first if it changed.
  void refresh_view(RelayWorker& w, bool force = false);
  RelaySessionTiming timing() const {
    return {config_.handshake_timeout, config_.keepalive, config_.dead_after};
  }
  // Small datagrams may fill this much of a session's urgent lane; the rest
  // is kept for control frames (see queue_data).
  static size_t urgent_data_bytes(Session& s) { return s.channel.queue().limits().urgent_bytes / 2; }

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

  // The control plane: everything below up to workers_, under mu_.
  mutable std::mutex mu_;
  std::shared_ptr<const Policy> policy_;
  // The registry's sites and the policy as of the last route push: the next
  // push tells delta sessions only about the sites that differ.
  std::unordered_map<SiteId, RouteEntry> pushed_sites_;
  std::shared_ptr<const Policy> pushed_policy_;
  // Sites registered or gone since the last push (the registry changes only
  // in on_register and close_session): a push looks at these, not at every site.
  std::vector<SiteId> touched_sites_;
  // announce_restart() ran: sessions are leaving, no more route pushes.
  bool stopping_ = false;
  Registrar registrar_;  // registry and address pools
  SessionId next_session_ = 1;
  std::unordered_map<SessionId, SessionEntry> directory_;  // every live session
  std::unordered_map<std::string, unsigned> sessions_per_identity_;
  // Connections not yet registered (TLS or REGISTER pending): admitted at
  // accept, done at registration or close; evictions go through the
  // owner's inbox (InboxKind::Evict) or leave a worker's adopt list.
  PendingLimits pending_;
  bool routes_due_ = false;  // a route snapshot must go out (armed on the main loop)
  bool view_due_ = false;    // the tables changed since the last publish_view()
  // Read by the workers with no lock.
  SharedSnapshot<ForwardingView> view_;
  // Filled by start(), fixed afterwards. Declared last: the threads are
  // joined before any of the state above goes away.
  std::vector<std::unique_ptr<RelayWorker>> workers_;

  // The main loop's thread only.
  AcceptFront front_;
  UniqueFd listener_;
  std::vector<std::unique_ptr<TlsContext>> worker_tls_;  // made by listen(), moved to workers 1.. by start()
  uint16_t port_ = 0;
  int64_t crl_mtime_ns_ = 0;
  EventLoop::TimerId routes_timer_ = 0;
  EventLoop::TimerId ticket_timer_ = 0;
  TimePoint last_route_push_{};  // see arm_routes
  TimePoint last_status_{};
  TicketKeyRing ticket_keys_;  // what every worker's context holds
};

}  // namespace dialout
