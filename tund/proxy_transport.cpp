#include "tund/proxy_transport.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "netlib/socket.hpp"

namespace dialout {

ProxyTransport::ProxyTransport(TlsContext& tls, UniqueFd fd, std::unique_ptr<ProxyHandshake> proxy,
                               std::string server_name, OnProxyVerdict on_verdict)
    : tls_ctx_(tls),
      fd_(std::move(fd)),
      fd_num_(fd_.get()),
      proxy_(std::move(proxy)),
      server_name_(std::move(server_name)),
      on_verdict_(std::move(on_verdict)) {}

ProxyTransport::Status ProxyTransport::handshake() {
  if (stage_ == Stage::Connecting) {
    if (Status st = connect_step(); st != Status::Done) return st;
  }
  if (stage_ == Stage::Proxy) {
    if (Status st = proxy_step(); st != Status::Done) return st;
  }
  if (stage_ == Stage::Tls) return tls_->handshake();
  return Status::Error;
}

ProxyTransport::Status ProxyTransport::connect_step() {
  // SO_ERROR reads 0 both while connecting and once connected: ask poll().
  pollfd p{fd_.get(), POLLOUT, 0};
  if (::poll(&p, 1, 0) == 0) return Status::WantWrite;
  if (auto err = socket_error(fd_.get()); !err)
    return die(ProxyProgress::Failed, proxy_->proxy_label() + ": connect: " + err.error());
  stage_ = Stage::Proxy;
  return Status::Done;
}

ProxyTransport::Status ProxyTransport::proxy_step() {
  std::array<uint8_t, 4096> buf;
  for (;;) {
    while (!proxy_->pending_output().empty()) {
      auto out = proxy_->pending_output();
      ssize_t n = ::send(fd_.get(), out.data(), out.size(), MSG_NOSIGNAL);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        wants_write_ = true;
        return Status::WantWrite;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return die(ProxyProgress::Failed, proxy_->proxy_label() + ": send: " + std::strerror(errno));
      proxy_->output_written(static_cast<size_t>(n));
    }
    wants_write_ = false;
    ProxyProgress progress = proxy_->progress();
    if (progress == ProxyProgress::NeedMore) {
      ssize_t n = ::recv(fd_.get(), buf.data(), buf.size(), 0);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return Status::WantRead;
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return die(ProxyProgress::Failed, proxy_->proxy_label() + ": recv: " + std::strerror(errno));
      progress = n == 0 ? proxy_->peer_closed() : proxy_->consume({buf.data(), static_cast<size_t>(n)});
    }
    if (progress == ProxyProgress::NeedMore) continue;
    if (progress != ProxyProgress::Established) return die(progress, proxy_->error());
    break;
  }
  // TLS speaks first from our side: anything the intermediary "sent" before
  // our ClientHello did not come from it.
  if (!proxy_->tunnel_bytes().empty())
    return die(ProxyProgress::Failed, proxy_->proxy_label() + ": bytes arrived in the tunnel before the TLS handshake");
  proxy_.reset();
  auto tls = TlsTransport::over(tls_ctx_, std::move(fd_), server_name_, false);
  if (!tls) {
    error_ = tls.error();
    stage_ = Stage::Dead;
    return Status::Error;
  }
  tls_ = std::move(*tls);
  stage_ = Stage::Tls;
  return Status::Done;
}

ProxyTransport::Status ProxyTransport::die(ProxyProgress verdict, std::string why) {
  error_ = std::move(why);
  stage_ = Stage::Dead;
  if (on_verdict_) std::exchange(on_verdict_, nullptr)(verdict, error_);
  return Status::Error;
}

}  // namespace dialout
