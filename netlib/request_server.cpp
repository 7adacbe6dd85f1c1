#include "netlib/request_server.hpp"

#include <sys/socket.h>

#include <cerrno>

namespace dialout {

RequestServer::RequestServer(EventLoop& loop, UniqueFd listener, Limits limits, Complete complete, Handle handle,
                             std::string oversized_reply)
    : loop_(loop),
      listener_(std::move(listener)),
      limits_(limits),
      complete_(std::move(complete)),
      handle_(std::move(handle)),
      oversized_reply_(std::move(oversized_reply)) {
  loop_.add(listener_.get(), EPOLLIN, [this](uint32_t) { on_accept(); });
}

RequestServer::~RequestServer() {
  for (auto& [fd, c] : clients_) {
    loop_.remove(fd);
    loop_.cancel_timer(c->timer);
  }
  loop_.remove(listener_.get());
}

void RequestServer::on_accept() {
  // A bounded batch per turn: a connect storm cannot monopolise the loop.
  for (int i = 0; i < 32; ++i) {
    int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN, or an error to retry on the next readiness
    UniqueFd owned(fd);
    if (clients_.size() >= limits_.max_clients) {
      ++stats_.refused_busy;
      continue;  // closed: the tool sees EOF without a reply and says so
    }
    auto c = std::make_unique<Client>();
    c->fd = std::move(owned);
    c->timer = loop_.add_timer(limits_.timeout, [this, fd] {
      ++stats_.timed_out;
      auto it = clients_.find(fd);
      if (it != clients_.end()) it->second->timer = 0;
      drop(fd);
    });
    loop_.add(fd, EPOLLIN, [this, fd](uint32_t ev) { on_client(fd, ev); });
    clients_.emplace(fd, std::move(c));
  }
}

void RequestServer::on_client(int fd, uint32_t events) {
  auto it = clients_.find(fd);
  if (it == clients_.end()) return;
  Client& c = *it->second;
  if ((events & EPOLLOUT) && !c.out.empty()) {
    write_out(fd, c);
    return;
  }
  if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR))) return;
  char buf[4096];
  for (int round = 0; round < 16; ++round) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      if (errno == EINTR) continue;
      drop(fd);
      return;
    }
    if (n == 0) {
      // EOF: after the reply, the peer is done; before it, what came is the request.
      if (c.replied || c.in.empty()) {
        drop(fd);
        return;
      }
      ++stats_.served;
      reply(c, handle_(c.in));
      return;
    }
    if (c.replied) continue;  // draining what the peer still sends
    c.in.append(buf, size_t(n));
    if (size_t len = complete_(c.in); len > 0 && len <= limits_.max_request) {
      ++stats_.served;
      reply(c, handle_(std::string_view(c.in).substr(0, len)));
      return;
    }
    if (c.in.size() > limits_.max_request) {
      ++stats_.oversized;
      reply(c, oversized_reply_);
      return;
    }
  }
}

void RequestServer::reply(Client& c, std::string bytes) {
  c.replied = true;
  c.in.clear();
  c.in.shrink_to_fit();
  c.out = std::move(bytes);
  c.sent = 0;
  write_out(c.fd.get(), c);
}

void RequestServer::write_out(int fd, Client& c) {
  while (c.sent < c.out.size()) {
    ssize_t n = ::send(fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        loop_.modify(fd, EPOLLIN | EPOLLOUT);
        return;
      }
      drop(fd);
      return;
    }
    c.sent += size_t(n);
  }
  c.out.clear();
  c.out.shrink_to_fit();
  ::shutdown(fd, SHUT_WR);
  loop_.modify(fd, EPOLLIN);  // drain until the peer closes (or the timeout)
}

void RequestServer::drop(int fd) {
  auto it = clients_.find(fd);
  if (it == clients_.end()) return;
  loop_.remove(fd);
  loop_.cancel_timer(it->second->timer);
  clients_.erase(it);
}

}  // namespace dialout
