// The relay's life cycle and housekeeping: binding, starting and joining
// the workers, per-worker ticks (pings, timeouts, freeing closed sessions),
// the main loop's status/CRL/route timers, the restart announcement. Same
// thread rules as relay_io.cpp.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "intermediary/relay.hpp"
#include "netlib/session_timing.hpp"

namespace dialout {
namespace {

constexpr auto kRttSamplePeriod = std::chrono::seconds(5);
constexpr auto kRoutePushInterval = std::chrono::milliseconds(50);

int64_t mtime_ns(const std::string& path) {
  struct stat st {};
  if (path.empty() || ::stat(path.c_str(), &st) != 0) return 0;
  return int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

unsigned online_cpus() {
  long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1u : unsigned(std::min(n, 1024L));
}

}  // namespace

Relay::~Relay() {
  // Joined first: after this, this thread is the only one left.
  for (auto& w : workers_)
    if (w->thread) w->thread->stop();
  if (routes_timer_ != 0) loop_.cancel_timer(routes_timer_);
  if (ticket_timer_ != 0) loop_.cancel_timer(ticket_timer_);
  if (listener_.valid()) loop_.remove(listener_.get());
  if (workers_.empty()) return;
  RelayWorker& main = *workers_[0];
  if (main.tick_timer != 0) loop_.cancel_timer(main.tick_timer);
  if (main.gate_timer != 0) loop_.cancel_timer(main.gate_timer);
  if (main.wake) loop_.remove(main.wake->fd());
  for (auto& [id, s] : main.owned) loop_.remove(s->channel.fd());
  for (auto& s : main.closing) loop_.remove(s->channel.fd());
  deferred_.flush();
}

Expected<void, std::string> Relay::listen() {
  FlushLog log_flush{deferred_};
  if (listener_.valid()) return {};
  auto listening = tcp_listen_or_ipv4(config_.listen, 1024);
  if (!listening) return unexpected(listening.error());
  if (!listening->fallback.empty()) dlog().warn("{}", listening->fallback);
  auto local = local_endpoint(listening->fd.get());
  if (!local) return unexpected(local.error());
  listener_ = std::move(listening->fd);
  port_ = local->port;
  // The workers' TLS contexts are read now, while the key file is still
  // readable (the daemon drops privileges after listen()).
  unsigned n = resolve_workers(config_.workers, online_cpus());
  for (unsigned i = 1; i < n; ++i) {
    auto ctx = TlsContext::server(tls_.files());
    if (!ctx) return unexpected("worker TLS context: " + ctx.error());
    worker_tls_.push_back(std::make_unique<TlsContext>(std::move(*ctx)));
  }
  dlog().info("listening on {} (TLS 1.3, client certificates required)", local->to_string());
  return {};
}

Expected<void, std::string> Relay::start() {
  FlushLog log_flush{deferred_};
  {
    Lock lk(mu_);
    std::vector<AddressPool> pools;
    for (const auto& range : config_.address_pools) {
      auto pool = AddressPool::make(range, AddressPool::kDefaultGrace, config_.max_addresses_per_identity);
      if (!pool) return unexpected("address pool " + range.to_string() + ": " + pool.error());
      pools.push_back(std::move(*pool));
    }
    registrar_ = Registrar(std::move(pools));
    publish_view();  // the workers forward against it from their first frame
  }
  crl_mtime_ns_ = mtime_ns(config_.tls.crl);
  if (auto ok = listen(); !ok) return ok;
  if (auto ok = start_workers(); !ok) return ok;
  arm_ticket_rotation();
  loop_.add(listener_.get(), EPOLLIN, [this](uint32_t) { on_accept(); });
  return {};
}

Expected<void, std::string> Relay::start_workers() {
  unsigned n = unsigned(worker_tls_.size()) + 1;  // as many as listen() made contexts for
  if (auto ok = load_ticket_keys(); !ok) return ok;
  if (auto ok = tls_.set_ticket_keys(ticket_keys_); !ok) return ok;
  // Held until every thread id is known: a worker's first callback takes it.
  Lock lk(mu_);
  for (unsigned i = 0; i < n; ++i) {
    auto w = std::make_unique<RelayWorker>(i, dlog());
    w->gate = HandshakeGate(config_.handshakes_per_turn);
    if (i == 0) {
      w->loop = &loop_;
      w->thread_id = std::this_thread::get_id();
      w->tls = &tls_;
    } else {
      w->own_tls = std::move(worker_tls_[i - 1]);
      w->own_tls->set_io_mode(tls_.io_mode(), tls_.read_buffer());
      if (auto ok = w->own_tls->set_ticket_keys(ticket_keys_); !ok) return ok;
      w->tls = w->own_tls.get();
      w->thread = std::make_unique<LoopThread>();
      w->loop = &w->thread->loop();
    }
    if (n > 1) {
      w->wake = std::make_unique<EventFd>(EventFd::create_or_throw());
      RelayWorker& ref = *w;
      w->loop->add(w->wake->fd(), EPOLLIN, [this, &ref](uint32_t) { on_wake(ref); });
    }
    arm_tick(*w);
    workers_.push_back(std::move(w));
  }
  for (auto& w : workers_) {
    if (!w->thread) continue;
    w->thread->start();
    w->thread_id = w->thread->id();
  }
  if (n > 1) dlog().info("sessions are spread over {} worker threads", n);
  return {};
}

void Relay::arm_tick(RelayWorker& w) {
  // The loop's timers are one-shot: each tick schedules the next.
  auto period = session_tick_period(config_.keepalive);
  w.tick_timer = w.loop->add_timer(period, [this, &w] {
    worker_tick(w);
    arm_tick(w);
  });
}

void Relay::worker_tick(RelayWorker& w) {
  FlushLog log_flush{deferred_};
  w.graveyard.clear();  // closed sessions die here, never inside their own callback
  auto now = w.loop->now();
  std::vector<std::pair<SessionId, RelaySession::Event>> doomed;
  // Status shows each session's RTT; the kernel measures it for free, a
  // sample every few seconds is plenty (one getsockopt per session).
  bool sample_rtt = now - w.rtt_sampled_at >= kRttSamplePeriod;
  if (sample_rtt) w.rtt_sampled_at = now;
  for (auto& [id, s] : w.owned) {
    if (sample_rtt && s->core.ready())
      if (auto rtt = tcp_smoothed_rtt(s->channel.fd()))
        s->stats->tcp_rtt_us.store(uint32_t(std::min<int64_t>(rtt->count(), UINT32_MAX)), std::memory_order_relaxed);
    w.scratch.clear();
    auto e = s->core.tick(now, w.scratch);
    if (e.kind != RelaySession::Event::Kind::None) {
      doomed.emplace_back(id, std::move(e));
      continue;
    }
    if (!w.scratch.empty()) send(w, *s, SendQueue::Lane::Urgent, w.scratch);
    if (s->core.ready() && !s->dirty && s->channel.queue().empty()) s->channel.trim();
  }
  for (auto& [id, e] : doomed)
    if (Session* s = owned(w, id)) {
      w.scratch.clear();
      apply(w, *s, std::move(e), nullptr, now);
    }
  finish(w);
  if (w.index == 0) global_housekeeping();
}

void Relay::global_housekeeping() {
  auto now = loop_.now();
  if (now - last_status_ < std::chrono::seconds(1)) return;
  last_status_ = now;
  {
    Lock lk(mu_);
    registrar_.expire(now);
  }
  reload_crl_if_changed();
  write_status();
}

void Relay::reload_crl_if_changed() {
  // Revocations take effect without a restart or a signal: the CRL file is
  // watched (a SIGHUP reloads it too).
  int64_t m = mtime_ns(config_.tls.crl);
  if (m == 0 || m == crl_mtime_ns_) return;
  crl_mtime_ns_ = m;
  if (auto ok = reload_crl(); !ok) {
    dlog().error("CRL {} changed but could not be loaded, keeping the old one: {}", config_.tls.crl, ok.error());
    return;
  }
  dlog().info("CRL {} changed: reloaded; new handshakes are checked against it", config_.tls.crl);
}

void Relay::arm_routes() {
  if (routes_timer_ != 0) return;
  // At most one push per kRoutePushInterval: each costs a walk over the
  // sessions and a copy of the registry, so a burst of registrations (a
  // reconnect storm: thousands a second) shares pushes instead of paying
  // one each. A lone change still goes out at once.
  auto now = loop_.now();
  auto due = last_route_push_ + kRoutePushInterval;
  auto delay = due > now ? std::chrono::ceil<std::chrono::milliseconds>(due - now) : std::chrono::milliseconds(0);
  routes_timer_ = loop_.add_timer(delay, [this] {
    FlushLog log_flush{deferred_};
    routes_timer_ = 0;
    last_route_push_ = loop_.now();
    Lock lk(mu_);
    routes_due_ = false;
    send_route_snapshots(lk);  // unlocks
    finish(*workers_[0]);
  });
}

void Relay::announce_restart() {
  FlushLog log_flush{deferred_};
  if (workers_.empty()) return;
  RelayWorker& main = *workers_[0];
  // Sites that announced kCapRestartWindow spread their reconnects over
  // the window; older ones get the 4-byte form they understand.
  std::vector<uint8_t> plain, spread;
  (void)encode(Restarting{uint32_t(config_.restart_hint.count())}, plain);
  (void)encode(Restarting{uint32_t(config_.restart_hint.count()), uint32_t(config_.restart_window.count())},
               spread);
  LocalWork local;
  size_t n = 0;
  {
    Lock lk(mu_);
    stopping_ = true;
    for (const auto& [id, entry] : directory_) {
      if (!entry.authenticated) continue;
      // Other workers send theirs when woken (before they stop).
      post_control(main, id, InboxKind::Control, (entry.capabilities & kCapRestartWindow) ? spread : plain, local);
    }
    n = directory_.size();
  }
  apply_local(main, local);
  finish(main);
  if (listener_.valid()) {
    loop_.remove(listener_.get());
    listener_.reset();
  }
  dlog().info("told {} sessions to reconnect in {} ms (spread over {} ms where they can)", n,
              config_.restart_hint.count(), config_.restart_window.count());
}

}  // namespace dialout
