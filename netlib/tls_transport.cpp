#include "netlib/tls_transport.hpp"

#include <poll.h>

namespace dialout {

Expected<std::unique_ptr<TlsTransport>, std::string> TlsTransport::dial(TlsContext& ctx, const Endpoint& to,
                                                                        std::string server_name) {
  auto fd = tcp_connect_start(to);
  if (!fd) return unexpected("connect " + to.to_string() + ": " + fd.error());
  tune_data_socket(fd->get());
  return over(ctx, std::move(*fd), std::move(server_name), true);
}

Expected<std::unique_ptr<TlsTransport>, std::string> TlsTransport::over(TlsContext& ctx, UniqueFd fd,
                                                                        std::string server_name, bool connecting) {
  auto t = std::make_unique<TlsTransport>(Key{}, ctx, std::move(server_name));
  t->tcp_ = std::move(fd);
  if (!connecting) {
    if (auto st = t->finish_connect(); st == Status::Error) return unexpected(t->error_);
  }
  return t;
}

Expected<std::unique_ptr<TlsTransport>, std::string> TlsTransport::accept(TlsContext& ctx, UniqueFd fd) {
  auto tls = TlsConnection::accept(ctx, std::move(fd));
  if (!tls) return unexpected("TLS setup: " + tls.error());
  auto t = std::make_unique<TlsTransport>(Key{}, ctx, std::string());
  t->tls_.emplace(std::move(*tls));
  return t;
}

TlsTransport::Status TlsTransport::finish_connect() {
  // SO_ERROR reads 0 both while connecting and once connected: ask poll().
  pollfd p{tcp_.get(), POLLOUT, 0};
  if (::poll(&p, 1, 0) == 0) return Status::WantWrite;
  if (auto err = socket_error(tcp_.get()); !err) {
    error_ = "connect: " + err.error();
    return Status::Error;
  }
  auto tls = TlsConnection::connect(ctx_, std::move(tcp_), server_name_);
  if (!tls) {
    error_ = "TLS setup: " + tls.error();
    return Status::Error;
  }
  tls_.emplace(std::move(*tls));
  return Status::Done;
}

TlsTransport::Status TlsTransport::handshake() {
  if (!tls_) {
    if (Status st = finish_connect(); st != Status::Done) return st;
  }
  return tls_->handshake();
}

X509* TlsTransport::peer_certificate() const {
  if (!tls_ || !tls_->handshake_done()) return nullptr;
  return SSL_get0_peer_certificate(tls_->native());
}

}  // namespace dialout
