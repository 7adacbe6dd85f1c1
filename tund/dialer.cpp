#include "tund/dialer.hpp"

#include "netlib/ip_address.hpp"
#include "netlib/tls_transport.hpp"

namespace dialout {

Expected<std::unique_ptr<StreamTransport>, std::string> TlsDialer::dial(const Endpoint& to,
                                                                        const std::string& server_name) {
  if (!IpAddr::parse(to.host)) return unexpected("dial " + to.to_string() + ": not a numeric address");
  auto t = TlsTransport::dial(tls_, to, server_name);
  if (!t) return unexpected(std::move(t.error()));
  return std::unique_ptr<StreamTransport>(std::move(*t));
}

}  // namespace dialout
