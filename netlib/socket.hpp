// TCP sockets: endpoint parsing, listen/accept/connect, tuning.
//
// Names are resolved with getaddrinfo, which blocks: call tcp_listen and
// tcp_connect_start at startup or connect time only, never per packet.
#pragma once

#include <cstdint>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "netlib/expected.hpp"
#include "netlib/unique_fd.hpp"

namespace dialout {

struct Endpoint {
  std::string host;  // numeric address (no brackets) or a DNS name
  uint16_t port = 0;

  // "host:port", "[v6]:port", "host" (default_port), "[v6]" or a bare IPv6
  // literal (default_port). Port 0 is accepted (listen on an ephemeral port).
  static Expected<Endpoint, std::string> parse(std::string_view text, uint16_t default_port);
  // Brackets IPv6 literals: "[::1]:443".
  std::string to_string() const;
  bool operator==(const Endpoint&) const = default;
};

// SO_REUSEADDR, non-blocking, close-on-exec; tries each resolved address.
// The IPv6 wildcard ("::") listens dual-stack (IPV6_V6ONLY off): IPv4
// peers arrive v4-mapped, and peer_endpoint/local_endpoint show them as
// plain IPv4.
Expected<UniqueFd, std::string> tcp_listen(const Endpoint& ep, int backlog);

// "::" (any spelling of the IPv6 unspecified address).
bool is_ipv6_wildcard(const Endpoint& ep);
// Where to listen instead when listening on `ep` failed with errno `err`:
// the IPv4 wildcard on the same port when `ep` is the IPv6 wildcard and
// the error says the host has no IPv6; otherwise nothing (a real error).
std::optional<Endpoint> ipv4_listen_fallback(const Endpoint& ep, int err);

struct Listening {
  UniqueFd fd;
  std::string fallback;  // non-empty: why it listens on IPv4 only (log it)
};
// tcp_listen, falling back to IPv4 as ipv4_listen_fallback says.
Expected<Listening, std::string> tcp_listen_or_ipv4(const Endpoint& ep, int backlog);

// Non-blocking accept4. "No connection waiting" (EAGAIN, or a connection the
// peer aborted before we took it) is a value holding an invalid UniqueFd;
// only real failures (EMFILE, ...) are errors.
Expected<UniqueFd, std::string> tcp_accept(int listen_fd);

// Starts a non-blocking connect; the fd may still be connecting. Wait for
// EPOLLOUT, then check socket_error(). Only the first resolved address whose
// connect starts is used.
Expected<UniqueFd, std::string> tcp_connect_start(const Endpoint& ep);

// SO_ERROR: success when the (finished) connect succeeded.
Expected<void, std::string> socket_error(int fd);

// TCP_NODELAY, TCP_NOTSENT_LOWAT = 128 KiB (keeps the kernel send queue
// short so latency under load stays low), SO_KEEPALIVE. Best effort.
void tune_data_socket(int fd);
constexpr int kNotSentLowat = 128 * 1024;

// Address the socket is bound to / connected to (e.g. after listening on
// port 0, or for log lines).
// The kernel's smoothed round-trip time of a TCP connection (TCP_INFO);
// nothing when it cannot be read or is not measured yet.
std::optional<std::chrono::microseconds> tcp_smoothed_rtt(int fd);
Expected<Endpoint, std::string> local_endpoint(int fd);
Expected<Endpoint, std::string> peer_endpoint(int fd);

}  // namespace dialout
