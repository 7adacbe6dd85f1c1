#include "netlib/socket.hpp"

#include <arpa/inet.h>
#include <fmt/core.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "netlib/ip_address.hpp"

namespace dialout {

namespace {

bool is_ipv6_literal(const std::string& s) {
  in6_addr a{};
  return ::inet_pton(AF_INET6, s.c_str(), &a) == 1;
}

// DNS-ish names and IPv4 literals; strict so typos fail at config load.
bool valid_host_name(std::string_view h) {
  if (h.empty() || h.size() > 253) return false;
  for (char c : h) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_';
    if (!ok) return false;
  }
  return h.front() != '.' && h.front() != '-';
}

Expected<uint16_t, std::string> parse_port(std::string_view p) {
  if (p.empty() || p.size() > 5) return unexpected(std::string("bad port"));
  uint32_t v = 0;
  for (char c : p) {
    if (c < '0' || c > '9') return unexpected(std::string("bad port"));
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  if (v > 65535) return unexpected(std::string("port out of range"));
  return static_cast<uint16_t>(v);
}

struct AddrInfoFree {
  void operator()(addrinfo* a) const { ::freeaddrinfo(a); }
};
using AddrInfoPtr = std::unique_ptr<addrinfo, AddrInfoFree>;

Expected<AddrInfoPtr, std::string> resolve(const Endpoint& ep, bool passive) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
  std::string port = std::to_string(ep.port);
  addrinfo* res = nullptr;
  int rc = ::getaddrinfo(ep.host.empty() ? nullptr : ep.host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0) {
    return unexpected(fmt::format("resolve {}: {}", ep.to_string(), ::gai_strerror(rc)));
  }
  return AddrInfoPtr(res);
}

Expected<Endpoint, std::string> from_sockaddr(const sockaddr_storage& ss) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    const auto& a = reinterpret_cast<const sockaddr_in&>(ss);
    ::inet_ntop(AF_INET, &a.sin_addr, buf, sizeof buf);
    return Endpoint{buf, ntohs(a.sin_port)};
  }
  if (ss.ss_family == AF_INET6) {
    const auto& a = reinterpret_cast<const sockaddr_in6&>(ss);
    // A dual-stack listener's IPv4 peers arrive as ::ffff:a.b.c.d: shown
    // and compared (per-source limits, logs, status) as the IPv4 they are.
    IpAddr ip = IpAddr::v6(std::span<const uint8_t, 16>(a.sin6_addr.s6_addr, 16)).unmapped();
    return Endpoint{ip.to_string(), ntohs(a.sin6_port)};
  }
  return unexpected(std::string("not an IP socket"));
}

}  // namespace

Expected<Endpoint, std::string> Endpoint::parse(std::string_view text, uint16_t default_port) {
  auto fail = [&](std::string_view why) -> Expected<Endpoint, std::string> {
    return unexpected(fmt::format("bad endpoint \"{}\": {}", text, why));
  };
  if (text.empty()) return fail("empty");
  Endpoint ep;
  ep.port = default_port;
  if (text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) return fail("missing ']'");
    ep.host = std::string(text.substr(1, close - 1));
    if (!is_ipv6_literal(ep.host)) return fail("not an IPv6 address inside []");
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return fail("expected ':' after ']'");
      auto port = parse_port(rest.substr(1));
      if (!port) return fail(port.error());
      ep.port = *port;
    }
    return ep;
  }
  size_t colon = text.find(':');
  if (colon != std::string_view::npos && text.find(':', colon + 1) != std::string_view::npos) {
    // Several colons: only a bare IPv6 literal makes sense (no port).
    ep.host = std::string(text);
    if (!is_ipv6_literal(ep.host)) return fail("IPv6 address with a port needs [brackets]");
    return ep;
  }
  std::string_view host = text.substr(0, colon);
  if (colon != std::string_view::npos) {
    auto port = parse_port(text.substr(colon + 1));
    if (!port) return fail(port.error());
    ep.port = *port;
  }
  if (!valid_host_name(host)) return fail("bad host name");
  ep.host = std::string(host);
  return ep;
}

std::string Endpoint::to_string() const {
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

namespace {

// The listening loop of tcp_listen; `err` gets the errno of the last failure.
Expected<UniqueFd, std::string> listen_on(const Endpoint& ep, int backlog, int& err) {
  err = 0;
  auto res = resolve(ep, true);
  if (!res) return unexpected(res.error());
  std::string last = "no addresses";
  for (addrinfo* ai = res->get(); ai != nullptr; ai = ai->ai_next) {
    UniqueFd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                         ai->ai_protocol));
    if (!fd.valid()) {
      err = errno;
      last = fmt::format("socket: {}", std::strerror(errno));
      continue;
    }
    int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ai->ai_family == AF_INET6 && is_ipv6_wildcard(ep)) {
      // "[::]" means both families whatever net.ipv6.bindv6only says.
      int zero = 0;
      ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    }
    if (::bind(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0) {
      err = errno;
      last = fmt::format("bind: {}", std::strerror(errno));
      continue;
    }
    if (::listen(fd.get(), backlog) != 0) {
      err = errno;
      last = fmt::format("listen: {}", std::strerror(errno));
      continue;
    }
    return fd;
  }
  return unexpected(fmt::format("listen on {}: {}", ep.to_string(), last));
}

}  // namespace

bool is_ipv6_wildcard(const Endpoint& ep) {
  in6_addr a{};
  return ::inet_pton(AF_INET6, ep.host.c_str(), &a) == 1 && IN6_IS_ADDR_UNSPECIFIED(&a);
}

std::optional<Endpoint> ipv4_listen_fallback(const Endpoint& ep, int err) {
  if (!is_ipv6_wildcard(ep)) return std::nullopt;
  // No IPv6 in this kernel (ipv6.disable=1, or the module missing); a
  // disabled IPv6 sysctl still binds "::" and serves IPv4 through it.
  if (err != EAFNOSUPPORT && err != EPROTONOSUPPORT && err != EADDRNOTAVAIL) return std::nullopt;
  return Endpoint{"0.0.0.0", ep.port};
}

Expected<UniqueFd, std::string> tcp_listen(const Endpoint& ep, int backlog) {
  int err = 0;
  return listen_on(ep, backlog, err);
}

Expected<Listening, std::string> tcp_listen_or_ipv4(const Endpoint& ep, int backlog) {
  int err = 0;
  auto fd = listen_on(ep, backlog, err);
  if (fd) return Listening{std::move(*fd), {}};
  auto v4 = ipv4_listen_fallback(ep, err);
  if (!v4) return unexpected(std::move(fd.error()));
  auto fd4 = listen_on(*v4, backlog, err);
  if (!fd4) return unexpected(fd.error() + "; " + fd4.error());
  return Listening{std::move(*fd4), fmt::format("no IPv6 on this host ({}): listening on {} only", fd.error(),
                                                v4->to_string())};
}

Expected<UniqueFd, std::string> tcp_accept(int listen_fd) {
  for (;;) {
    int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) return UniqueFd(fd);
    switch (errno) {
      case EINTR: continue;
      case EAGAIN:
      case ECONNABORTED:  // the peer gave up before we got to it
      case EPROTO:
        return UniqueFd();
      default:
        return unexpected(fmt::format("accept: {}", std::strerror(errno)));
    }
  }
}

Expected<UniqueFd, std::string> tcp_connect_start(const Endpoint& ep) {
  if (ep.port == 0) return unexpected(fmt::format("connect to {}: port 0", ep.to_string()));
  auto res = resolve(ep, false);
  if (!res) return unexpected(res.error());
  std::string last = "no addresses";
  for (addrinfo* ai = res->get(); ai != nullptr; ai = ai->ai_next) {
    UniqueFd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                         ai->ai_protocol));
    if (!fd.valid()) {
      last = fmt::format("socket: {}", std::strerror(errno));
      continue;
    }
    int rc;
    do {
      rc = ::connect(fd.get(), ai->ai_addr, ai->ai_addrlen);
    } while (rc != 0 && errno == EINTR);
    if (rc == 0 || errno == EINPROGRESS) return fd;
    last = fmt::format("connect: {}", std::strerror(errno));
  }
  return unexpected(fmt::format("connect to {}: {}", ep.to_string(), last));
}

Expected<void, std::string> socket_error(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  if (err != 0) return unexpected(std::string(std::strerror(err)));
  return {};
}

void tune_data_socket(int fd) {
  int one = 1;
  int lowat = kNotSentLowat;
  // Failures are not fatal (e.g. a unix socket in a test); the connection
  // just runs with kernel defaults.
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof lowat);
  ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
}

std::optional<std::chrono::microseconds> tcp_smoothed_rtt(int fd) {
  tcp_info info{};
  socklen_t len = sizeof info;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0 || info.tcpi_rtt == 0) return std::nullopt;
  return std::chrono::microseconds(info.tcpi_rtt);
}

Expected<Endpoint, std::string> local_endpoint(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return unexpected(fmt::format("getsockname: {}", std::strerror(errno)));
  }
  return from_sockaddr(ss);
}

Expected<Endpoint, std::string> peer_endpoint(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return unexpected(fmt::format("getpeername: {}", std::strerror(errno)));
  }
  return from_sockaddr(ss);
}

}  // namespace dialout
