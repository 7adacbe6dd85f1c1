#include "netlib/metrics_server.hpp"

#include <fmt/core.h>

#include "netlib/metrics_http.hpp"

namespace dialout {

Expected<std::unique_ptr<MetricsServer>, std::string> MetricsServer::open(EventLoop& loop, const Endpoint& at,
                                                                          Render render) {
  auto fd = tcp_listen(at, 16);
  if (!fd) return unexpected(fmt::format("metrics-listen {}: {}", at.to_string(), fd.error()));
  return std::make_unique<MetricsServer>(loop, std::move(*fd), std::move(render));
}

MetricsServer::MetricsServer(EventLoop& loop, UniqueFd listener, Render render) : render_(std::move(render)) {
  if (auto ep = local_endpoint(listener.get())) port_ = ep->port;
  RequestServer::Limits limits;
  limits.max_request = kMaxHttpRequestHead;
  server_ = std::make_unique<RequestServer>(
      loop, std::move(listener), limits, [](std::string_view in) { return http_head_length(in); },
      [this](std::string_view head) { return metrics_http_response(head, [this] { return render_(); }); },
      http_response(431, "Request Header Fields Too Large", "text/plain; charset=utf-8", "request head too large\n"));
}

}  // namespace dialout
