// The TCP + TLS 1.3 stream transport: what sites and the intermediary speak
// today. A client transport first completes a non-blocking TCP connect
// (to a numeric address: names are resolved before dialling, off the data
// loops), then the TLS handshake; a server transport starts at the TLS
// handshake on an accepted socket.
#pragma once

#include <openssl/x509.h>

#include <memory>
#include <optional>
#include <string>

#include "netlib/socket.hpp"
#include "netlib/stream_transport.hpp"
#include "netlib/tls.hpp"
#include "netlib/unique_fd.hpp"

namespace dialout {

class TlsTransport final : public StreamTransport {
 public:
  // Starts connecting to `to` (host must be a numeric address). `ctx` must
  // outlive the transport. `server_name` as in TlsConnection::connect.
  static Expected<std::unique_ptr<TlsTransport>, std::string> dial(TlsContext& ctx, const Endpoint& to,
                                                                   std::string server_name);
  // TLS over a socket that is connected, or still connecting when
  // `connecting` (e.g. a stream a proxy set up for us).
  static Expected<std::unique_ptr<TlsTransport>, std::string> over(TlsContext& ctx, UniqueFd fd,
                                                                   std::string server_name, bool connecting);
  // Server side, on an accepted socket.
  static Expected<std::unique_ptr<TlsTransport>, std::string> accept(TlsContext& ctx, UniqueFd fd);

  int fd() const override { return tls_ ? tls_->fd() : tcp_.get(); }
  Status handshake() override;
  Expected<size_t, Status> read(std::span<uint8_t> buf) override { return tls_->read(buf); }
  Expected<size_t, Status> write(std::span<const uint8_t> buf) override { return tls_->write(buf); }
  bool has_buffered_input() const override { return tls_ && tls_->has_buffered_input(); }
  bool has_pending_output() const override { return tls_ && tls_->has_pending_output(); }
  bool wants_write() const override { return tls_ ? tls_->wants_write() : tcp_.valid(); }
  void trim() override {
    if (tls_) tls_->trim();
  }
  std::string last_error() const override { return tls_ ? tls_->last_error() : error_; }
  bool resumed() const override { return tls_ && tls_->handshake_done() && tls_->session_reused(); }
  void close_write() override {
    if (tls_) tls_->shutdown();
  }

  // The verified peer certificate once the handshake is done (nullptr before).
  X509* peer_certificate() const;
  // Null until the TCP connect has completed.
  TlsConnection* tls() { return tls_ ? &*tls_ : nullptr; }

 private:
  struct Key {};  // construction goes through the factories above

 public:
  TlsTransport(Key, TlsContext& ctx, std::string server_name) : ctx_(ctx), server_name_(std::move(server_name)) {}

 private:
  // Connecting phase: Done once connected and TLS is set up on the socket.
  Status finish_connect();

  TlsContext& ctx_;
  std::string server_name_;
  UniqueFd tcp_;  // while the TCP connect is in progress
  std::optional<TlsConnection> tls_;
  std::string error_;
};

}  // namespace dialout
