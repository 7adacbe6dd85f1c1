#include "tund/proxy_dialer.hpp"

#include "netlib/ip_address.hpp"
#include "tund/http_connect.hpp"
#include "tund/proxy_transport.hpp"
#include "tund/socks5_client.hpp"

namespace dialout {

ProxyDialer::ProxyDialer(TlsContext& tls, ProxyRoute route, Endpoint target, Logger& log)
    : tls_(tls), route_(std::move(route)), target_(std::move(target)), state_(std::make_shared<State>(log)) {}

ProxyDialer::~ProxyDialer() = default;

void ProxyDialer::State::failed(const std::string& why) {
  if (why == last_failure) return;
  last_failure = why;
  log.warn("{}", why);
}

Expected<std::unique_ptr<StreamTransport>, std::string> ProxyDialer::dial(const Endpoint& to,
                                                                          const std::string& server_name) {
  if (!IpAddr::parse(to.host)) return unexpected("dial proxy " + to.to_string() + ": not a numeric address");
  std::unique_ptr<ProxyHandshake> handshake;
  const ProxyCredentials* credentials = route_.credentials.get();
  // Error texts name the proxy as configured (the name a reader knows).
  if (route_.server.scheme == ProxyScheme::Http) {
    auto h = HttpConnect::start({.proxy = route_.server.address,
                                 .target = target_,
                                 .credentials = credentials,
                                 .send_credentials = credentials && state_->send_credentials});
    if (!h) return unexpected(std::move(h.error()));
    handshake = std::move(*h);
  } else {
    auto s = Socks5Client::start({.proxy = route_.server.address, .target = target_, .credentials = credentials});
    if (!s) return unexpected(std::move(s.error()));
    handshake = std::move(*s);
  }
  auto fd = tcp_connect_start(to);
  if (!fd) return unexpected("connect to proxy " + to.to_string() + ": " + fd.error());
  tune_data_socket(fd->get());
  std::weak_ptr<State> state = state_;
  auto on_verdict = [state](ProxyProgress verdict, const std::string& why) {
    auto s = state.lock();
    if (!s) return;
    if (verdict == ProxyProgress::RetryWithCredentials) {
      s->send_credentials = true;
      return;  // the next dial sends them: not worth a warning yet
    }
    s->failed(why);
  };
  return std::unique_ptr<StreamTransport>(
      std::make_unique<ProxyTransport>(tls_, std::move(*fd), std::move(handshake), server_name, std::move(on_verdict)));
}

}  // namespace dialout
