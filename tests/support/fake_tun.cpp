#include "tests/support/fake_tun.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace dialout {
namespace {

// Room for a 64 KB superpacket plus its header, and a few of them queued,
// like the real device's ring.
constexpr int kSocketBuffer = 1 << 20;
constexpr size_t kMaxPacket = 65536 + 10;

Expected<size_t, int> recv_packet(int fd, std::span<uint8_t> buf) {
  // MSG_TRUNC makes recv report the real length, so truncation is visible.
  ssize_t n = ::recv(fd, buf.data(), buf.size(), MSG_TRUNC | MSG_DONTWAIT);
  if (n < 0) return unexpected(errno);
  if (static_cast<size_t>(n) > buf.size()) return unexpected(EMSGSIZE);
  return static_cast<size_t>(n);
}

Expected<void, int> send_packet(int fd, std::span<const uint8_t> packet) {
  ssize_t n = ::send(fd, packet.data(), packet.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  if (n < 0) return unexpected(errno);
  if (static_cast<size_t>(n) != packet.size()) return unexpected(EIO);
  return {};
}

}  // namespace

Expected<FakeTun, std::string> FakeTun::create(bool vnet_hdr) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) {
    return unexpected(fmt::format("fake tun: socketpair: {}", std::strerror(errno)));
  }
  FakeTun tun;
  tun.ours_.reset(fds[0]);
  tun.peer_.reset(fds[1]);
  tun.vnet_hdr_ = vnet_hdr;
  for (int fd : fds) {
    // Best effort: the default buffer still works, only with less queueing.
    (void)::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &kSocketBuffer, sizeof kSocketBuffer);
    (void)::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &kSocketBuffer, sizeof kSocketBuffer);
  }
  return tun;
}

Expected<size_t, int> FakeTun::read(std::span<uint8_t> buf) { return recv_packet(ours_.get(), buf); }

Expected<void, int> FakeTun::write(std::span<const uint8_t> packet) { return send_packet(ours_.get(), packet); }

Expected<void, int> FakeTun::inject(std::span<const uint8_t> packet) { return send_packet(peer_.get(), packet); }

Expected<std::vector<uint8_t>, int> FakeTun::receive(std::chrono::milliseconds timeout) {
  struct pollfd p {};
  p.fd = peer_.get();
  p.events = POLLIN;
  int r = ::poll(&p, 1, static_cast<int>(timeout.count()));
  if (r < 0) return unexpected(errno);
  if (r == 0) return unexpected(ETIMEDOUT);
  std::vector<uint8_t> packet(kMaxPacket);
  auto n = recv_packet(peer_.get(), packet);
  if (!n) return unexpected(n.error());
  packet.resize(*n);
  return packet;
}

}  // namespace dialout
