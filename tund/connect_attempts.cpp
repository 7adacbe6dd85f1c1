#include "tund/connect_attempts.hpp"

#include <algorithm>

namespace dialout {

void ConnectAttempts::add(size_t index, Endpoint to, std::unique_ptr<StreamTransport> transport) {
  open_.push_back(Attempt{index, std::move(to), std::move(transport)});
  watch(open_.back(), EPOLLOUT);  // a connecting socket turns writable
}

std::vector<ConnectAttempts::Attempt>::iterator ConnectAttempts::find(size_t index) {
  return std::find_if(open_.begin(), open_.end(), [&](const Attempt& a) { return a.index == index; });
}

void ConnectAttempts::watch(Attempt& a, uint32_t events) {
  int fd = a.transport->fd();
  if (fd != a.fd) {  // first time, or the transport swapped its socket: follow it
    if (a.fd >= 0) loop_.remove(a.fd);
    size_t index = a.index;
    loop_.add(fd, events, [this, index](uint32_t) { on_event_(index); });
    a.fd = fd;
  } else if (events != a.interest) {
    loop_.modify(fd, events);
  }
  a.interest = events;
}

void ConnectAttempts::forget(std::vector<Attempt>::iterator it) {
  if (it->fd >= 0) loop_.remove(it->fd);
  open_.erase(it);
}

ConnectAttempts::Step ConnectAttempts::drive(size_t index) {
  auto it = find(index);
  if (it == open_.end()) return Step::Pending;  // already gone (an event collected before it closed)
  auto st = it->transport->handshake();
  if (st == StreamTransport::Status::WantRead || st == StreamTransport::Status::WantWrite) {
    watch(*it, st == StreamTransport::Status::WantRead ? EPOLLIN : EPOLLOUT);
    return Step::Pending;
  }
  if (st == StreamTransport::Status::Done) return Step::Done;
  last_failure_ = it->to.to_string() + ": " + it->transport->last_error();
  forget(it);
  return Step::Failed;
}

std::unique_ptr<StreamTransport> ConnectAttempts::take(size_t index) {
  auto it = find(index);
  if (it == open_.end()) return nullptr;
  auto transport = std::move(it->transport);
  forget(it);
  return transport;
}

void ConnectAttempts::clear() {
  for (auto& a : open_)
    if (a.fd >= 0) loop_.remove(a.fd);
  open_.clear();
}

const Endpoint* ConnectAttempts::target(size_t index) const {
  auto it = std::find_if(open_.begin(), open_.end(), [&](const Attempt& a) { return a.index == index; });
  return it == open_.end() ? nullptr : &it->to;
}

}  // namespace dialout
