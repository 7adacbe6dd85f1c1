// The site engine's workers: one QueueWorker thread per TUN queue, each
// with the uplinks whose pool index is its own modulo the queue count. The engine stays the single owner of the control state: workers
// post their uplinks' control events to the mailbox drained here, on the
// engine's loop, and read routes and served prefixes from the view
// published here whenever they change.
#include <algorithm>
#include <stdexcept>

#include "tund/site_engine.hpp"

namespace dialout {
namespace {

// Control events are rare (a registration, a route snapshot per uplink per
// change); this is room for a burst from every uplink at once.
constexpr size_t kControlMailbox = 1024;

std::unique_ptr<Mailbox<ControlEvent>> make_mailbox() {
  return std::make_unique<Mailbox<ControlEvent>>(EventFd::create_or_throw(), kControlMailbox);
}

TlsContext load_tls(const TlsContext& like) {
  auto tls = worker_tls_context(like);
  if (!tls) throw std::runtime_error(tls.error());
  return std::move(*tls);
}

}  // namespace

void SiteEngine::start_workers(unsigned uplinks, uint64_t seed) {
  control_ = make_mailbox();
  loop_.add(control_->fd(), EPOLLIN, [this](uint32_t) { on_control_events(); });
  publish_view();  // workers start with the static routes and configured served prefixes
  const size_t k = queues_.size();
  QueueWorker::Shared shared{config_, uplink_settings_, view_, *control_, log_};
  for (size_t q = 0; q < k; ++q) {
    std::vector<unsigned> mine;
    for (unsigned i = unsigned(q); i < uplinks; i += unsigned(k)) mine.push_back(i);
    TlsContext tls = q < worker_tls_.size() ? std::move(worker_tls_[q]) : load_tls(tls_);
    workers_.push_back(std::make_unique<QueueWorker>(*queues_[q], std::move(tls), shared, mine, seed));
  }
  worker_tls_.clear();
  for (auto& w : workers_) w->start();
  if (config_.connections != 0 && config_.connections < k)
    log_.info("connections raised from {} to {}: every TUN queue needs one of its own", config_.connections, k);
  if (k > 1) log_.info("{} TUN queues, one worker thread each", k);
}

void SiteEngine::stop_workers() {
  for (auto& w : workers_) w->request_stop();
  for (auto& w : workers_) w->join();
  if (control_ && loop_.contains(control_->fd())) loop_.remove(control_->fd());
  // The joined workers stay until the engine goes: their counters remain readable.
}

void SiteEngine::on_control_events() {
  control_->drain([this](ControlEvent&& e) {
    if (const auto* a = std::get_if<Accept>(&e.what)) {
      handle_accepted(*a);
    } else if (const auto* r = std::get_if<Routes>(&e.what)) {
      handle_routes(e.uplink, *r);
    } else if (const auto* f = std::get_if<Refuse>(&e.what)) {
      handle_refused(*f);
    } else if (const auto* g = std::get_if<PeerGone>(&e.what)) {
      handle_peer_gone(*g);
    }  // UplinkDown: nothing to do (the worker already counts it as not ready)
  });
  if (uint64_t dropped = control_->dropped(); dropped != control_dropped_) {
    log_.warn("{} control event(s) from the queue workers dropped (mailbox full)", dropped - control_dropped_);
    control_dropped_ = dropped;
  }
}

void SiteEngine::served_changed(std::vector<Prefix> served) {
  served_ = std::move(served);
  publish_view();
}

void SiteEngine::publish_view() {
  view_.publish(std::make_shared<const WorkerView>(WorkerView{routes_, served_}));
}

std::vector<Uplink::Status> SiteEngine::uplink_status() const {
  std::vector<Uplink::Status> all;
  for (const auto& w : workers_) {
    auto rows = w->uplink_status();
    all.insert(all.end(), rows.begin(), rows.end());
  }
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.index < b.index; });
  return all;
}

}  // namespace dialout
