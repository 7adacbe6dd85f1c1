#include "netlib/metrics_http.hpp"

#include <fmt/core.h>

#include <utility>

namespace dialout {

size_t http_head_length(std::string_view received) {
  auto end = received.find("\r\n\r\n");
  if (end != std::string_view::npos) return end + 4;
  // Tolerate bare newlines (netcat by hand).
  end = received.find("\n\n");
  return end == std::string_view::npos ? 0 : end + 2;
}

std::pair<int, std::string_view> classify_metrics_request(std::string_view head) {
  auto eol = head.find('\n');
  std::string_view line = head.substr(0, eol);
  if (line.ends_with('\r')) line.remove_suffix(1);
  auto sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return {400, "Bad Request"};
  auto sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return {400, "Bad Request"};
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (!version.starts_with("HTTP/1.")) return {400, "Bad Request"};
  if (method != "GET") return {405, "Method Not Allowed"};
  std::string_view path = target.substr(0, target.find('?'));
  if (path != "/metrics") return {404, "Not Found"};
  return {200, "OK"};
}

std::string http_response(int status, std::string_view reason, std::string_view content_type, std::string_view body) {
  return fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}", status, reason,
      content_type, body.size(), body);
}

}  // namespace dialout
