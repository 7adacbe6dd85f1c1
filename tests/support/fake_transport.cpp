#include "tests/support/fake_transport.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace dialout {

std::pair<std::unique_ptr<FakeTransport>, UniqueFd> FakeTransport::make(Script script) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0)
    throw std::runtime_error(std::string("socketpair: ") + std::strerror(errno));
  return {std::make_unique<FakeTransport>(Key{}, UniqueFd(sv[0]), std::move(script)), UniqueFd(sv[1])};
}

FakeTransport::Status FakeTransport::handshake() {
  if (script_.handshake == Status::Error || script_.handshake == Status::Closed) error_ = script_.error;
  return script_.handshake;
}

Expected<size_t, FakeTransport::Status> FakeTransport::read(std::span<uint8_t> buf) {
  ssize_t n = ::read(fd_.get(), buf.data(), buf.size());
  if (n > 0) return size_t(n);
  if (n == 0) {
    error_ = "peer closed the connection";
    return unexpected(Status::Closed);
  }
  if (errno == EAGAIN) return unexpected(Status::WantRead);
  error_ = std::string("read: ") + std::strerror(errno);
  return unexpected(errno == ECONNRESET ? Status::Closed : Status::Error);
}

Expected<size_t, FakeTransport::Status> FakeTransport::write(std::span<const uint8_t> buf) {
  want_write_ = false;
  if (buf.empty()) return size_t{0};
  ssize_t n = ::send(fd_.get(), buf.data(), buf.size(), MSG_NOSIGNAL);
  if (n >= 0) return size_t(n);
  if (errno == EAGAIN) {
    want_write_ = true;
    return unexpected(Status::WantWrite);
  }
  error_ = std::string("write: ") + std::strerror(errno);
  return unexpected(errno == EPIPE || errno == ECONNRESET ? Status::Closed : Status::Error);
}

bool write_all(int fd, const std::vector<uint8_t>& bytes) {
  size_t off = 0;
  for (int waits = 0; off < bytes.size() && waits < 100;) {
    ssize_t n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += size_t(n);
    } else if (n < 0 && errno == EAGAIN) {
      pollfd p{fd, POLLOUT, 0};
      ::poll(&p, 1, 10);  // the reader is the code under test: give it up to a second in all
      ++waits;
    } else {
      return false;
    }
  }
  return off == bytes.size();
}

std::vector<uint8_t> read_available(int fd) {
  std::vector<uint8_t> out;
  uint8_t buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.insert(out.end(), buf, buf + n);
  }
  return out;
}

}  // namespace dialout
