#include "intermediary/port_share.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "intermediary/client_hello.hpp"
#include "netlib/socket.hpp"

namespace dialout {

PortShare::PortShare(EventLoop& loop, const RelayConfig& config, ToRelay to_relay, Logger& log)
    : loop_(loop),
      to_relay_(std::move(to_relay)),
      timeout_(config.handshake_timeout),
      max_waiting_(config.share_port_max_connections),
      drop_log_(log, 10, std::chrono::seconds(10)),
      scratch_(kMaxClientHelloPeek),
      splicer_(config.share_port_backend.value(), config.share_port_buffer_bytes, config.share_port_max_connections,
               log) {}

PortShare::~PortShare() {
  for (auto& [fd, w] : waiting_) {
    loop_.remove(fd);
    loop_.cancel_timer(w.timer);
  }
}

void PortShare::start() { splicer_.start(); }

void PortShare::take(UniqueFd fd) {
  auto peer_ep = peer_endpoint(fd.get());
  std::string peer = peer_ep ? peer_ep->to_string() : "unknown peer";
  if (waiting_.size() >= max_waiting_) {
    counters_.add(ShareCounter::RefusedFull);
    drop_log_.warn("share-full", loop_.now(), "{}: refused: {} connections already wait for a ClientHello", peer,
                   max_waiting_);
    return;  // closed here
  }
  int raw = fd.get();
  EventLoop::TimerId timer = loop_.add_timer(timeout_, [this, raw] {
    auto it = waiting_.find(raw);
    if (it == waiting_.end()) return;
    it->second.timer = 0;  // fired: nothing to cancel
    on_event(raw, 0, true);
  });
  waiting_.emplace(raw, Waiting{std::move(fd), std::move(peer), timer});
  loop_.add(raw, EPOLLIN | EPOLLRDHUP | EPOLLET, [this, raw](uint32_t ev) { on_event(raw, ev, false); });
  // Bytes that came with the connection may be there already.
  on_event(raw, 0, false);
}

void PortShare::on_event(int fd, uint32_t events, bool timed_out) {
  auto it = waiting_.find(fd);
  if (it == waiting_.end()) return;
  bool closed = (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
  size_t have = 0;
  ssize_t n = ::recv(fd, scratch_.data(), scratch_.size(), MSG_PEEK | MSG_DONTWAIT);
  if (n > 0) {
    have = size_t(n);
  } else if (n == 0) {
    closed = true;
  } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
    closed = true;  // a reset: nothing to pass on
  }
  ShareDecision d = decide_share(std::span<const uint8_t>(scratch_.data(), have), closed, timed_out);
  if (d.route != ShareRoute::Wait) settle(fd, std::move(d));
}

void PortShare::settle(int fd, ShareDecision d) {
  auto it = waiting_.find(fd);
  Waiting w = std::move(it->second);
  waiting_.erase(it);
  loop_.remove(fd);
  if (w.timer != 0) loop_.cancel_timer(w.timer);
  switch (d.route) {
    case ShareRoute::Relay:
      counters_.add(d.counter);
      to_relay_(std::move(w.fd));
      return;
    case ShareRoute::Backend:
      if (!splicer_.take(std::move(w.fd), w.peer)) {
        counters_.add(ShareCounter::RefusedFull);
        drop_log_.warn("share-full", loop_.now(), "{}: refused: {} connections already go to the web server",
                       w.peer, splicer_.live());
        return;
      }
      counters_.add(d.counter);
      return;
    case ShareRoute::Drop:
      counters_.add(d.counter);
      drop_log_.warn("share-drop", loop_.now(), "{}: dropped on the shared port: {}", w.peer, d.why);
      return;  // w.fd closes here
    case ShareRoute::Wait: return;
  }
}

ShareCounterSet::Values PortShare::counters() const {
  ShareCounterSet::Values v = counters_.snapshot();
  splicer_.counters().accumulate(v);
  return v;
}

void PortShare::append_status(std::vector<std::pair<std::string_view, uint64_t>>& rows) const {
  for (auto& row : counter_rows(kShareCounters, counters())) rows.push_back(row);
}

}  // namespace dialout
