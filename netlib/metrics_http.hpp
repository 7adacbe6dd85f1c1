// The HTTP/1.1 side of `metrics-listen`, without I/O: how long a request
// head is, and the whole response to it. Only "GET /metrics" is served (200
// with the exposition text); other paths get 404, other methods 405, an
// unreadable head 400. Every response closes the connection.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace dialout {

inline constexpr size_t kMaxHttpRequestHead = 8192;

// Bytes up to and including the blank line ending the head; 0 while incomplete.
size_t http_head_length(std::string_view received);
// `head` is the request head; `body` is called only for GET /metrics.
template <class Body>
std::string metrics_http_response(std::string_view head, Body&& body);

// Status line and headers for a response of `status` with `body`.
std::string http_response(int status, std::string_view reason, std::string_view content_type, std::string_view body);
// 200 for GET /metrics (path may carry a query), or the error response.
// Returns {status, reason}.
std::pair<int, std::string_view> classify_metrics_request(std::string_view head);

template <class Body>
std::string metrics_http_response(std::string_view head, Body&& body) {
  auto [status, reason] = classify_metrics_request(head);
  if (status != 200) return http_response(status, reason, "text/plain; charset=utf-8", std::string(reason) + "\n");
  return http_response(200, reason, "text/plain; version=0.0.4; charset=utf-8", body());
}

}  // namespace dialout
