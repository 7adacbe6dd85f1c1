#include "intermediary/splicer.hpp"

#include <sys/epoll.h>

#include <utility>

namespace dialout {

Splicer::Splicer(Endpoint backend, size_t buffer_bytes, unsigned max_pairs, Logger& log)
    : backend_(std::move(backend)),
      buffer_bytes_(buffer_bytes),
      max_pairs_(max_pairs),
      inbox_(EventFd::create_or_throw(), max_pairs),
      drop_log_(log, 10, std::chrono::seconds(10)) {
  thread_.loop().add(inbox_.fd(), EPOLLIN, [this](uint32_t) { drain(); });
}

Splicer::~Splicer() { thread_.stop(); }

void Splicer::start() { thread_.start(); }

bool Splicer::take(UniqueFd client, std::string peer) {
  // live_ counts handoffs in the mailbox too, so the mailbox (same bound)
  // never refuses a post that got past this check.
  unsigned n = live_.load(std::memory_order_relaxed);
  do {
    if (n >= max_pairs_) return false;
  } while (!live_.compare_exchange_weak(n, n + 1, std::memory_order_relaxed));
  if (!inbox_.post(Handoff{std::move(client), std::move(peer)})) {
    live_.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  return true;
}

void Splicer::drain() {
  inbox_.drain([this](Handoff&& h) { begin(std::move(h)); });
}

void Splicer::begin(Handoff h) {
  auto backend = tcp_connect_start(backend_);
  if (!backend) {
    counters_.add(ShareCounter::SpliceFailed);
    live_.fetch_sub(1, std::memory_order_relaxed);
    drop_log_.warn("backend", thread_.loop().now(), "{}: web server {}: {}", h.peer, backend_.to_string(),
                   backend.error());
    return;
  }
  int cfd = h.fd.get();
  auto entry = std::make_unique<Entry>(
      Entry{SplicePair(std::move(h.fd), std::move(*backend), buffer_bytes_, true), std::move(h.peer)});
  SplicePair& pair = entry->pair;
  EventLoop& loop = thread_.loop();
  loop.add(pair.client_fd(), pair.client_interest(), [this, cfd](uint32_t ev) { on_ready(cfd, ev, 0); });
  loop.add(pair.backend_fd(), pair.backend_interest(), [this, cfd](uint32_t ev) { on_ready(cfd, 0, ev); });
  pairs_.emplace(cfd, std::move(entry));
}

void Splicer::on_ready(int client_fd, uint32_t client_events, uint32_t backend_events) {
  auto it = pairs_.find(client_fd);
  if (it == pairs_.end()) return;
  SplicePair& pair = it->second->pair;
  auto moved = pair.pump(client_events, backend_events);
  if (moved.to_backend != 0) counters_.add(ShareCounter::BytesToBackend, moved.to_backend);
  if (moved.from_backend != 0) counters_.add(ShareCounter::BytesFromBackend, moved.from_backend);
  if (pair.finished()) {
    finish(it);
    return;
  }
  thread_.loop().modify(pair.client_fd(), pair.client_interest());
  thread_.loop().modify(pair.backend_fd(), pair.backend_interest());
}

void Splicer::finish(std::unordered_map<int, std::unique_ptr<Entry>>::iterator it) {
  SplicePair& pair = it->second->pair;
  if (pair.state() == SplicePair::State::Failed) {
    counters_.add(ShareCounter::SpliceFailed);
    drop_log_.warn("splice", thread_.loop().now(), "{}: web server connection ended: {}", it->second->peer,
                   pair.error());
  }
  thread_.loop().remove(pair.client_fd());
  thread_.loop().remove(pair.backend_fd());
  pairs_.erase(it);  // closes both sockets
  live_.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace dialout
