#include "tund/queue_worker.hpp"

#include <algorithm>

namespace dialout {
namespace {

// How stale the reconnect count in the status file may be (it is written
// every second); ready counts move at once, on every ACCEPT and down.
constexpr auto kStatsPeriod = std::chrono::milliseconds(100);

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
      tls_(std::move(tls)),
      shared_(shared),
      wake_(EventFd::create_or_throw()),
      data_(queue, {}, shared.config, shared.log) {
  for (unsigned i : uplinks)
    uplinks_.push_back(std::make_unique<Uplink>(i, loop_, tls_, shared_.settings, *this, shared_.log, seed + i));
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
    publish_uplink_stats();
    arm_stats_timer();
  });
}

void QueueWorker::publish_uplink_stats() {
  uint64_t reconnects = 0;
  for (const auto& u : uplinks_) reconnects += u->reconnects();
  reconnects_.store(reconnects, std::memory_order_relaxed);
  ready_.store(uint64_t(std::count_if(uplinks_.begin(), uplinks_.end(), [](const auto& u) { return u->ready(); })),
               std::memory_order_relaxed);
  std::vector<Uplink::Status> rows;
  rows.reserve(uplinks_.size());
  for (const auto& u : uplinks_) rows.push_back(u->status());
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
  publish_uplink_stats();  // the engine's ready count moves at once, not at the next period
  shared_.control.post(ControlEvent{up.index(), accept});
}

void QueueWorker::on_routes(Uplink& up, const Routes& routes) { shared_.control.post(ControlEvent{up.index(), routes}); }

void QueueWorker::on_data(Uplink&, const DataView& data) {
  refresh_view();  // served prefixes change with the addresses the intermediary assigns
  data_.on_data(data);
}

void QueueWorker::on_refused(Uplink& up, const Refuse& refuse) {
  // Retrying cannot fix a permanent refusal: stop ours at once; the engine
  // stops the other workers and exits.
  if (is_permanent(refuse.reason))
    for (auto& u : uplinks_) u->stop();
  shared_.control.post(ControlEvent{up.index(), refuse});
}

void QueueWorker::on_peer_gone(Uplink& up, const PeerGone& gone) {
  shared_.control.post(ControlEvent{up.index(), gone});
}

void QueueWorker::on_down(Uplink& up) {
  publish_uplink_stats();
  shared_.control.post(ControlEvent{up.index(), UplinkDown{}});
}

}  // namespace dialout
