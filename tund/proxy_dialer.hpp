// Dialling the intermediary through an HTTP CONNECT or SOCKS5 proxy: a
// non-blocking TCP connect to the proxy, the proxy's handshake
// (tund/proxy_handshake.hpp) driven inside the transport's handshake(),
// then TLS to the intermediary over the same socket, unchanged (the proxy
// never sees plaintext). The uplink resolves the *proxy's* host and hands
// its address to dial(); the intermediary's host goes to the proxy as
// written (a name is not resolved here: sites behind web-only firewalls
// often cannot resolve outside names).
//
// HTTP 407: once a proxy asked for credentials, every later dial of this
// dialer sends them (RetryWithCredentials fails this attempt; the uplink's
// normal backoff redials). A 407 to an attempt that sent them is a failure
// like any other. Each failure text names the proxy and quotes its status
// line, never a credential; a changed failure is logged once at warn.
#pragma once

#include <memory>
#include <string>

#include "netlib/log.hpp"
#include "netlib/tls.hpp"
#include "tund/dialer.hpp"
#include "tund/proxy_credentials.hpp"
#include "tund/proxy_settings.hpp"

namespace dialout {

// What a site's uplinks dial through; shared by them (read only).
struct ProxyRoute {
  ProxyServer server;
  std::shared_ptr<const ProxyCredentials> credentials;  // null: none configured
};

class ProxyDialer final : public Dialer {
 public:
  // `target` is the intermediary (host as configured, port).
  ProxyDialer(TlsContext& tls, ProxyRoute route, Endpoint target, Logger& log);
  ~ProxyDialer() override;

  // `to` is the proxy's numeric address.
  Expected<std::unique_ptr<StreamTransport>, std::string> dial(const Endpoint& to,
                                                               const std::string& server_name) override;

  // What the transports report back (shared: a transport may outlive a dial).
  struct State {
    explicit State(Logger& l) : log(l) {}
    Logger& log;
    bool send_credentials = false;  // the proxy answered 407 once
    std::string last_failure;       // the last logged proxy failure
    void failed(const std::string& why);
  };

 private:
  TlsContext& tls_;
  ProxyRoute route_;
  Endpoint target_;
  std::shared_ptr<State> state_;
};

}  // namespace dialout
