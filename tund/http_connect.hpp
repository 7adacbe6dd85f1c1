// The HTTP CONNECT client (RFC 9110 section 9.3.6; RFC 9112 for the bytes):
// asks an HTTP proxy for a TCP tunnel to the intermediary, inside which TLS
// then runs unchanged (the proxy never sees plaintext).
//
//   CONNECT relay.example.net:443 HTTP/1.1
//   Host: relay.example.net:443
//   User-Agent: dialout/0.1.0
//   Proxy-Authorization: Basic dXNlcjpwYXNz      (only when send_credentials)
//
// Any 2xx opens the tunnel; bytes after the response head are the
// intermediary's and go to tunnel_bytes(). 1xx interim answers are skipped
// (a client must accept them, RFC 9110 section 15.2), except 101. A 407 on
// an attempt without credentials, when credentials exist, asks the driver
// for one new connection that sends them (RetryWithCredentials): always a
// fresh connection, so whether the proxy keeps this one open and how long
// its 407 body is never matter. A 407 on an attempt with credentials, a 407
// without credentials to send, a 407 whose Proxy-Authenticate offers no
// Basic, and any other status are Failed, naming the proxy and quoting its
// status line. Heads (interim ones included) are bounded by kMaxResponseHead.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "netlib/expected.hpp"
#include "netlib/socket.hpp"
#include "tund/proxy_credentials.hpp"
#include "tund/proxy_handshake.hpp"

namespace dialout {

class HttpConnect final : public ProxyHandshake {
 public:
  static constexpr size_t kMaxResponseHead = 16 * 1024;

  struct Request {
    Endpoint proxy;   // named in error texts
    Endpoint target;  // a name (the proxy resolves it) or a numeric address
    const ProxyCredentials* credentials = nullptr;  // read during start() only
    bool send_credentials = false;  // this attempt sends them (needs credentials)
  };

  // Ready with the CONNECT request in pending_output(). Fails on a target
  // no request line can carry, or send_credentials without credentials.
  static Expected<std::unique_ptr<HttpConnect>, std::string> start(const Request& request);

 private:
  struct Key {};

 public:
  HttpConnect(Key, const Request& request);

 private:
  ProxyProgress on_input(std::span<const uint8_t> bytes) override;
  std::string closed_while() const override;
  ProxyProgress on_auth_required(const std::string& status_line, const std::vector<std::string>& challenges);

  std::string target_;   // "host:port" / "[v6]:port", as in the request
  bool have_credentials_ = false;
  bool sent_credentials_ = false;
  std::string head_;     // the response so far: the current head and what follows
  size_t scanned_ = 0;   // how far find_head_end has looked into head_
  size_t head_bytes_ = 0;  // bytes of earlier (1xx) heads, for the bound
};

}  // namespace dialout
