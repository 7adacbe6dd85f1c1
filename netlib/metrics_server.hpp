// `metrics-listen`: GET /metrics over HTTP/1.1 on the daemon's main loop,
// one response per connection, bounded like the control socket (it is a
// RequestServer). The daemon supplies the text (netlib/metrics_text.hpp).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "netlib/event_loop.hpp"
#include "netlib/expected.hpp"
#include "netlib/request_server.hpp"
#include "netlib/socket.hpp"

namespace dialout {

class MetricsServer {
 public:
  using Render = std::function<std::string()>;
  // Binds and listens (startup); the error names the address.
  static Expected<std::unique_ptr<MetricsServer>, std::string> open(EventLoop& loop, const Endpoint& at, Render render);
  MetricsServer(EventLoop& loop, UniqueFd listener, Render render);
  uint16_t port() const { return port_; }

 private:
  Render render_;
  uint16_t port_ = 0;
  std::unique_ptr<RequestServer> server_;
};

}  // namespace dialout
