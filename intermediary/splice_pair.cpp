#include "intermediary/splice_pair.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include <fmt/core.h>

#include "netlib/socket.hpp"

namespace dialout {

namespace {
// Rounds of read-then-write per direction and pump(): the loop is
// level-triggered, so a busy pair yields to the others and comes back.
constexpr int kRoundsPerPump = 8;

bool would_block(int e) { return e == EAGAIN || e == EWOULDBLOCK || e == EINTR; }
}  // namespace

SplicePair::SplicePair(UniqueFd client, UniqueFd backend, size_t buffer_bytes, bool backend_connecting)
    : client_(std::move(client)),
      backend_(std::move(backend)),
      state_(backend_connecting ? State::Connecting : State::Open) {
  up_.buf.resize(buffer_bytes);
  down_.buf.resize(buffer_bytes);
}

void SplicePair::fail(std::string why) {
  state_ = State::Failed;
  error_ = std::move(why);
}

bool SplicePair::move(Direction& d, int from, int to, bool can_write, uint64_t& moved) {
  const char* side = &d == &up_ ? "client" : "backend";
  const char* other = &d == &up_ ? "backend" : "client";
  for (int round = 0; round < kRoundsPerPump; ++round) {
    bool progress = false;
    if (d.can_read()) {
      ssize_t n = ::read(from, d.buf.data() + d.tail, d.buf.size() - d.tail);
      if (n > 0) {
        d.tail += size_t(n);
        progress = true;
      } else if (n == 0) {
        d.eof = true;
        progress = true;
      } else if (!would_block(errno)) {
        fail(fmt::format("read from {}: {}", side, std::strerror(errno)));
        return false;
      }
    }
    if (can_write && d.has_pending()) {
      ssize_t n = ::send(to, d.buf.data() + d.head, d.tail - d.head, MSG_NOSIGNAL);
      if (n > 0) {
        d.head += size_t(n);
        moved += uint64_t(n);
        if (d.head == d.tail) d.head = d.tail = 0;  // empty: the whole buffer is room again
        progress = true;
      } else if (n < 0 && !would_block(errno)) {
        fail(fmt::format("write to {}: {}", other, std::strerror(errno)));
        return false;
      }
    }
    // Full with written-out bytes at its front: slide the rest down.
    if (d.tail == d.buf.size() && d.head > 0) {
      std::memmove(d.buf.data(), d.buf.data() + d.head, d.tail - d.head);
      d.tail -= d.head;
      d.head = 0;
      progress = true;
    }
    if (can_write && d.eof && !d.has_pending() && !d.shut) {
      // The other side may still answer: only our sending half closes.
      if (::shutdown(to, SHUT_WR) != 0 && errno != ENOTCONN) {
        fail(fmt::format("half-close towards {}: {}", other, std::strerror(errno)));
        return false;
      }
      d.shut = true;
    }
    if (!progress) break;
  }
  return true;
}

SplicePair::Moved SplicePair::pump(uint32_t client_events, uint32_t backend_events) {
  Moved moved;
  if (finished()) return moved;
  // A reset reported while we wanted neither to read nor to write would
  // otherwise be reported again on every turn of a level-triggered loop.
  if ((client_events & EPOLLERR) != 0) {
    auto ok = socket_error(client_.get());
    fail("client: " + (ok ? std::string("socket error") : ok.error()));
    return moved;
  }
  if (state_ == State::Open && (backend_events & EPOLLERR) != 0) {
    auto ok = socket_error(backend_.get());
    fail("backend: " + (ok ? std::string("socket error") : ok.error()));
    return moved;
  }
  if (state_ == State::Connecting) {
    if ((backend_events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) != 0) {
      if (auto ok = socket_error(backend_.get()); !ok) {
        fail("connect to backend: " + ok.error());
        return moved;
      }
      state_ = State::Open;
    }
  }
  const bool open = state_ == State::Open;
  // While connecting, the client's first bytes are read into the buffer
  // already (the peek left them in the socket); they go out once connected.
  if (!move(up_, client_.get(), backend_.get(), open, moved.to_backend)) return moved;
  if (open && !move(down_, backend_.get(), client_.get(), true, moved.from_backend)) return moved;
  if (up_.done() && down_.done()) state_ = State::Done;
  return moved;
}

uint32_t SplicePair::client_interest() const {
  if (finished()) return 0;
  uint32_t ev = 0;
  if (up_.can_read()) ev |= EPOLLIN;
  if (state_ == State::Open && down_.has_pending()) ev |= EPOLLOUT;
  return ev;
}

uint32_t SplicePair::backend_interest() const {
  if (finished()) return 0;
  if (state_ == State::Connecting) return EPOLLOUT;
  uint32_t ev = 0;
  if (down_.can_read()) ev |= EPOLLIN;
  if (up_.has_pending()) ev |= EPOLLOUT;
  return ev;
}

}  // namespace dialout
