// The site engine's workers: one QueueWorker thread per TUN queue, each
// with the uplinks whose pool index is its own modulo the queue count. The engine stays the single owner of the control state: workers
// post their uplinks' control events to the mailbox drained here, on the
// engine's loop, and read routes and served prefixes from the view
// published here whenever they change.
#include <algorithm>
#include <stdexcept>

#include "tund/site_engine.hpp"

#include <fmt/core.h>

#include "netlib/certificate_expiry.hpp"

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
    } else if (const auto* d = std::get_if<RenewalDone>(&e.what)) {
      handle_renewal_done(*d);
    } else if (const auto* n = std::get_if<DnsConfig>(&e.what)) {
      handle_dns(*n);
    }  // UplinkDown: nothing to do (the worker already counts it as not ready)
  });
  if (uint64_t dropped = control_->dropped(); dropped != control_dropped_) {
    log_.warn("{} control event(s) from the queue workers dropped (mailbox full)", dropped - control_dropped_);
    control_dropped_ = dropped;
  }
}

Expected<std::string, std::string> SiteEngine::renew_certificate() {
  if (workers_.empty()) return unexpected(std::string("not running"));
  // Every worker's context is loaded before any is handed over: a file
  // that does not load changes nothing.
  std::vector<TlsContext> fresh;
  for (size_t q = 0; q < workers_.size(); ++q) {
    auto tls = worker_tls_context(tls_);
    if (!tls) {
      log_.error("reload: {}; the connections keep the current certificate", tls.error());
      return unexpected(tls.error() + "; the connections keep the current certificate");
    }
    fresh.push_back(std::move(*tls));
  }
  int64_t not_after = fresh.front().certificate_not_after();
  for (size_t q = 0; q < workers_.size(); ++q) workers_[q]->renew(std::move(fresh[q]));
  renewals_pending_ = workers_.size();
  renewal_failed_ = false;
  std::string what = fmt::format("certificate {} reloaded (expires {}); moving the connections to it one at a time",
                                 tls_.files().cert, format_utc(not_after));
  log_.info("reload: {}", what);
  return what;
}

void SiteEngine::handle_renewal_done(const RenewalDone& done) {
  if (renewals_pending_ == 0) return;  // a worker's report of a renewal a newer one replaced
  if (!done.ok) renewal_failed_ = true;
  if (--renewals_pending_ > 0) return;
  if (renewal_failed_) {
    log_.warn("reload: not every connection moved to the new certificate (see above); reload again to retry");
  } else {
    log_.info("reload: every connection uses the new certificate");
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
