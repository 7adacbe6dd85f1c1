// A StreamTransport set up through a proxy: TCP connect to the proxy, the
// proxy handshake, then TLS over the same socket (netlib/tls_transport.hpp).
// After set-up every call goes to the TLS transport. The fd stays the same
// number through all stages, so the owner's epoll registration holds.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "netlib/tls_transport.hpp"
#include "netlib/unique_fd.hpp"
#include "tund/proxy_handshake.hpp"

namespace dialout {

class ProxyTransport final : public StreamTransport {
 public:
  // Called once when the handshake ends in RetryWithCredentials or Failed.
  using OnProxyVerdict = std::function<void(ProxyProgress, const std::string& why)>;

  // `fd` is connecting (or connected) to the proxy; `proxy` is in its first state.
  ProxyTransport(TlsContext& tls, UniqueFd fd, std::unique_ptr<ProxyHandshake> proxy, std::string server_name,
                 OnProxyVerdict on_verdict);

  int fd() const override { return fd_num_; }
  Status handshake() override;
  // Before set-up is Done there is no stream to move bytes on.
  Expected<size_t, Status> read(std::span<uint8_t> buf) override {
    if (!tls_) return unexpected(Status::Error);
    return tls_->read(buf);
  }
  Expected<size_t, Status> write(std::span<const uint8_t> buf) override {
    if (!tls_) return unexpected(Status::Error);
    return tls_->write(buf);
  }
  bool has_buffered_input() const override { return tls_ && tls_->has_buffered_input(); }
  bool has_pending_output() const override { return tls_ && tls_->has_pending_output(); }
  bool wants_write() const override { return tls_ ? tls_->wants_write() : wants_write_; }
  void trim() override {
    if (tls_) tls_->trim();
  }
  std::string last_error() const override { return tls_ ? tls_->last_error() : error_; }
  bool resumed() const override { return tls_ && tls_->resumed(); }
  void close_write() override {
    if (tls_) tls_->close_write();
  }

 private:
  enum class Stage { Connecting, Proxy, Tls, Dead };
  Status connect_step();
  Status proxy_step();
  Status die(ProxyProgress verdict, std::string why);

  TlsContext& tls_ctx_;
  UniqueFd fd_;  // until TLS takes it
  int fd_num_;
  std::unique_ptr<ProxyHandshake> proxy_;
  std::string server_name_;
  OnProxyVerdict on_verdict_;
  std::unique_ptr<TlsTransport> tls_;
  Stage stage_ = Stage::Connecting;
  bool wants_write_ = true;
  std::string error_;
};

}  // namespace dialout
