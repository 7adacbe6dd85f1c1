#include "tund/queue_worker.hpp"

#include <algorithm>

#include <fmt/core.h>

namespace dialout {
namespace {

// How stale the reconnect count in the status file may be (it is written
// every second); ready counts move at once, on every ACCEPT and down.
constexpr auto kStatsPeriod = std::chrono::milliseconds(100);
// How long a retired connection may still deliver what the intermediary
// sent before it read our close_notify.
constexpr auto kRetireGrace = std::chrono::milliseconds(2000);
// A replacement that is not ready within this many dead-peer intervals
// (each covers connect, TLS and registration) means the intermediary does
// not take the new certificate: the old connections stay.
constexpr int kRenewalTimeoutIntervals = 3;

}  // namespace

Expected<TlsContext, std::string> worker_tls_context(const TlsContext& like) {
  auto tls = TlsContext::client(like.files());
  if (!tls) return unexpected("TLS for a queue worker: " + tls.error());
  tls->set_io_mode(like.io_mode(), like.read_buffer());
  return tls;
}

QueueWorker::QueueWorker(Tun& queue, TlsContext tls, const Shared& shared, const std::vector<unsigned>& uplinks,
                         uint64_t seed)
    : queue_(queue),
      tls_(std::make_unique<TlsContext>(std::move(tls))),
      shared_(shared),
      seed_(seed),
      wake_(EventFd::create_or_throw()),
      data_(queue, {}, shared.config, shared.log) {
  for (unsigned i : uplinks) uplinks_.push_back(make_uplink(i, *tls_));
  set_data_uplinks();
}

std::unique_ptr<Uplink> QueueWorker::make_uplink(unsigned index, TlsContext& tls) {
  // Each renewal's connections jitter their backoff differently.
  uint64_t seed = seed_ + index + 0x9e3779b97f4a7c15ull * renewals_;
  return std::make_unique<Uplink>(index, loop_, tls, shared_.settings, *this, shared_.log, seed);
}

void QueueWorker::set_data_uplinks() {
  std::vector<Uplink*> mine;
  for (auto& u : uplinks_) mine.push_back(u.get());
  data_.set_uplinks(std::move(mine));
}

QueueWorker::~QueueWorker() { join(); }

void QueueWorker::start() {
  refresh_view();  // the engine published its first view before starting us
  thread_ = std::thread([this] { run(); });
}

void QueueWorker::request_stop() {
  stop_requested_.store(true, std::memory_order_release);
  wake_.signal();
}

void QueueWorker::join() {
  if (!thread_.joinable()) return;
  request_stop();
  thread_.join();
}

void QueueWorker::reconnect_all() {
  reconnect_requests_.fetch_add(1, std::memory_order_release);
  wake_.signal();
}

void QueueWorker::renew(TlsContext fresh) {
  {
    std::lock_guard g(renew_mu_);
    renew_request_ = std::make_unique<TlsContext>(std::move(fresh));
  }
  wake_.signal();
}

void QueueWorker::run() {
  loop_.add(wake_.fd(), EPOLLIN, [this](uint32_t) { on_wake(); });
  loop_.add(queue_.fd(), EPOLLIN, [this](uint32_t) {
    refresh_view();
    data_.on_tun_readable();
  });
  for (auto& up : uplinks_) up->start();
  arm_stats_timer();
  on_wake();  // a stop requested before the loop existed
  while (!loop_.stopped()) loop_.run_once(std::chrono::milliseconds(1000));
  for (auto& up : uplinks_) up->stop();
  if (renewal_ && renewal_->candidate) renewal_->candidate->stop();
  for (auto& up : retiring_) up->stop();
  loop_.remove(queue_.fd());
  loop_.remove(wake_.fd());
  publish_uplink_stats();
}

void QueueWorker::on_wake() {
  wake_.drain();
  if (stop_requested_.load(std::memory_order_acquire)) {
    loop_.stop();
    return;
  }
  std::unique_ptr<TlsContext> fresh;
  {
    std::lock_guard g(renew_mu_);
    fresh = std::move(renew_request_);
  }
  if (fresh) start_renewal(std::move(fresh));
  uint64_t wanted = reconnect_requests_.load(std::memory_order_acquire);
  if (wanted == reconnects_done_) return;
  reconnects_done_ = wanted;
  for (auto& up : uplinks_) up->reconnect_now("the path to the intermediary changed");
  publish_uplink_stats();
}

void QueueWorker::refresh_view() {
  if (shared_.view.generation() == view_generation_) return;
  auto [view, generation] = shared_.view.get();
  if (!view) return;
  view_ = std::move(view);  // keeps the routes alive while data_ points into them
  view_generation_ = generation;
  data_.set_routes(view_->routes);
  data_.set_served(view_->served);
}

void QueueWorker::arm_stats_timer() {
  loop_.add_timer(kStatsPeriod, [this] {
    sweep_retired();
    publish_uplink_stats();
    arm_stats_timer();
  });
}

void QueueWorker::publish_uplink_stats() {
  uint64_t reconnects = reconnects_before_;
  for (const auto& u : uplinks_) reconnects += u->reconnects();
  reconnects_.store(reconnects, std::memory_order_relaxed);
  ready_.store(uint64_t(std::count_if(uplinks_.begin(), uplinks_.end(), [](const auto& u) { return u->ready(); })),
               std::memory_order_relaxed);
  std::vector<Uplink::Status> rows;
  rows.reserve(uplinks_.size());
  for (const auto& u : uplinks_) rows.push_back(u->status());
  // A renewal under way shows both ends of the move.
  if (renewal_ && renewal_->candidate) rows.push_back(renewal_->candidate->status());
  for (const auto& u : retiring_)
    if (!u->stopped()) rows.push_back(u->status());
  std::lock_guard g(status_mu_);
  status_ = std::move(rows);
}

std::vector<Uplink::Status> QueueWorker::uplink_status() const {
  std::lock_guard g(status_mu_);
  return status_;
}

QueueWorker::Stats QueueWorker::stats() const {
  Stats out;
  out.counters = data_.counters().snapshot();
  out.ready = size_t(ready_.load(std::memory_order_relaxed));
  out.counters[size_t(SiteCounter::Reconnects)] = reconnects_.load(std::memory_order_relaxed);
  out.counters[size_t(SiteCounter::Connected)] = out.ready;
  return out;
}

void QueueWorker::on_accepted(Uplink& up, const Accept& accept) {
  if (is_candidate(up)) promote_candidate();
  publish_uplink_stats();  // the engine's ready count moves at once, not at the next period
  shared_.control.post(ControlEvent{up.index(), accept});
}

void QueueWorker::on_routes(Uplink& up, const Routes& routes) { shared_.control.post(ControlEvent{up.index(), routes}); }

void QueueWorker::on_data(Uplink&, const DataView& data) {
  refresh_view();  // served prefixes change with the addresses the intermediary assigns
  data_.on_data(data);
}

void QueueWorker::on_refused(Uplink& up, const Refuse& refuse, bool gave_up) {
  if (is_candidate(up)) {
    // The old connections still work: a refused renewal must not stop them.
    if (is_permanent(refuse.reason))
      abandon_renewal(fmt::format("the intermediary refused the new certificate ({})", refuse.text));
    return;
  }
  // The uplink retries (soon or, for a refusal only a change elsewhere can
  // heal, slowly) unless it gave up: then stop ours at once; the engine
  // stops the other workers and exits.
  if (!gave_up) return;
  for (auto& u : uplinks_) u->stop();
  shared_.control.post(ControlEvent{up.index(), refuse});
}

void QueueWorker::on_peer_gone(Uplink& up, const PeerGone& gone) {
  shared_.control.post(ControlEvent{up.index(), gone});
}

void QueueWorker::on_dns(Uplink& up, const DnsConfig& dns) { shared_.control.post(ControlEvent{up.index(), dns}); }

void QueueWorker::on_down(Uplink& up) {
  if (is_candidate(up)) return;  // never counted as ready
  publish_uplink_stats();
  shared_.control.post(ControlEvent{up.index(), UplinkDown{}});
}

// ---- certificate renewal (worker thread) ----

void QueueWorker::start_renewal(std::unique_ptr<TlsContext> tls) {
  if (renewal_) {
    // A newer certificate arrived mid-move: the half-made connection goes,
    // the ones already moved are moved again.
    if (renewal_->deadline != 0) loop_.cancel_timer(renewal_->deadline);
    if (renewal_->candidate) {
      renewal_->candidate->stop();
      retiring_.push_back(std::move(renewal_->candidate));
    }
    old_tls_.push_back(std::move(renewal_->tls));
    renewal_.reset();
  }
  renewal_.emplace();
  renewal_->tls = std::move(tls);
  ++renewals_;
  step_renewal();
}

void QueueWorker::step_renewal() {
  auto& r = *renewal_;
  while (r.next < uplinks_.size()) {
    auto& old = uplinks_[r.next];
    if (old->ready()) {
      r.candidate = make_uplink(old->index(), *r.tls);
      auto timeout = kRenewalTimeoutIntervals * shared_.settings.dead_after;
      r.deadline = loop_.add_timer(timeout, [this, timeout] {
        renewal_->deadline = 0;
        abandon_renewal(fmt::format("connection {} with the new certificate was not accepted within {} ms",
                                    renewal_->candidate->index(), timeout.count()));
      });
      r.candidate->start();
      return;
    }
    // Nothing flows on it: replace it at once.
    reconnects_before_ += old->reconnects();
    old->stop();
    retiring_.push_back(std::move(old));
    old = make_uplink(retiring_.back()->index(), *r.tls);
    set_data_uplinks();
    old->start();
    ++r.next;
  }
  old_tls_.push_back(std::move(tls_));
  tls_ = std::move(r.tls);
  renewal_.reset();
  shared_.log.info("queue worker: every connection now uses the renewed certificate");
  shared_.control.post(ControlEvent{0, RenewalDone{true, {}}});
}

void QueueWorker::promote_candidate() {
  auto& r = *renewal_;
  if (r.deadline != 0) loop_.cancel_timer(std::exchange(r.deadline, 0));
  auto old = std::move(uplinks_[r.next]);
  uplinks_[r.next] = std::move(r.candidate);
  set_data_uplinks();  // new flows take the new connection from here on
  reconnects_before_ += old->reconnects();
  old->retire(kRetireGrace);
  retiring_.push_back(std::move(old));
  ++r.next;
  step_renewal();
}

void QueueWorker::abandon_renewal(const std::string& why) {
  auto& r = *renewal_;
  if (r.deadline != 0) loop_.cancel_timer(std::exchange(r.deadline, 0));
  if (r.candidate) {
    r.candidate->stop();  // freed by sweep_retired: this may run inside its callback
    retiring_.push_back(std::move(r.candidate));
  }
  old_tls_.push_back(std::move(r.tls));  // connections already moved keep it
  renewal_.reset();
  shared_.log.warn("certificate renewal stopped: {}; the remaining connections keep the old certificate", why);
  shared_.control.post(ControlEvent{0, RenewalDone{false, why}});
}

void QueueWorker::sweep_retired() {
  std::erase_if(retiring_, [](const auto& u) { return u->stopped(); });
  auto in_use = [&](const TlsContext* ctx) {
    auto uses = [&](const auto& u) { return &u->tls() == ctx; };
    return std::any_of(uplinks_.begin(), uplinks_.end(), uses) ||
           std::any_of(retiring_.begin(), retiring_.end(), uses) ||
           (renewal_ && (renewal_->tls.get() == ctx || (renewal_->candidate && uses(renewal_->candidate))));
  };
  std::erase_if(old_tls_, [&](const auto& ctx) { return !in_use(ctx.get()); });
}

}  // namespace dialout
