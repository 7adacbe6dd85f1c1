// How an uplink gets a stream to the intermediary: the seam where a
// proxy-tunnelled stream (next issue) plugs in beside TCP + TLS. A dialer is
// given a numeric address (names are resolved before, off the loop, by
// tund/resolver.hpp) and returns at once: the transport's handshake() then
// drives the rest of the set-up without blocking.
#pragma once

#include <memory>
#include <string>

#include "netlib/expected.hpp"
#include "netlib/socket.hpp"
#include "netlib/stream_transport.hpp"
#include "netlib/tls.hpp"

namespace dialout {

class Dialer {
 public:
  virtual ~Dialer() = default;
  // `to` holds a numeric host. `server_name` is what TLS verifies.
  virtual Expected<std::unique_ptr<StreamTransport>, std::string> dial(const Endpoint& to,
                                                                       const std::string& server_name) = 0;
};

// TCP (non-blocking connect) + TLS 1.3: today's only way.
class TlsDialer final : public Dialer {
 public:
  explicit TlsDialer(TlsContext& tls) : tls_(tls) {}
  // A name instead of an address is refused: resolving here would block the loop.
  Expected<std::unique_ptr<StreamTransport>, std::string> dial(const Endpoint& to,
                                                               const std::string& server_name) override;

 private:
  TlsContext& tls_;
};

}  // namespace dialout
