// The SOCKS5 client (RFC 1928) with username/password authentication
// (RFC 1929): asks a SOCKS proxy for a TCP connection to the intermediary,
// inside which TLS then runs unchanged.
//
//   greeting   05 01 00             (no credentials: "no authentication")
//              05 02 00 02          (credentials: that or username/password)
//   method     05 MM                MM = 00, 02 (if offered) or FF (refused)
//   auth       01 ULEN USER PLEN PASSWORD      (only when MM = 02)
//   status     01 00                anything else: refused
//   CONNECT    05 01 00 ATYP ADDR PORT
//              ATYP 01: 4-byte IPv4, 04: 16-byte IPv6, 03: length + name
//   reply      05 REP 00 ATYP BND.ADDR BND.PORT     REP 00 = succeeded
//
// A target that is an IP literal goes as ATYP 01/04, a name as ATYP 03 (the
// proxy resolves it: socks5h://); the caller resolves first for socks5://.
// Every reply field is checked as soon as it arrives: version, method,
// RFC 1929 version and status, REP (named as RFC 1928 names it), the
// reserved byte, address type and length. A failure reply is reported on its
// REP byte without waiting for the rest (the proxy closes after it anyway).
// Bytes after the CONNECT reply are the intermediary's (tunnel_bytes());
// bytes after any earlier reply are a protocol violation.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "netlib/expected.hpp"
#include "netlib/socket.hpp"
#include "tund/proxy_credentials.hpp"
#include "tund/proxy_handshake.hpp"

namespace dialout {

class Socks5Client final : public ProxyHandshake {
 public:
  struct Request {
    Endpoint proxy;   // named in error texts
    Endpoint target;  // a name (ATYP 03) or a numeric address (ATYP 01 / 04)
    const ProxyCredentials* credentials = nullptr;  // copied by start(); each part 1..255 bytes
  };

  // Ready with the greeting in pending_output().
  static Expected<std::unique_ptr<Socks5Client>, std::string> start(const Request& request);

  // RFC 1928 section 6's name for a reply code: "connection refused".
  static std::string reply_name(uint8_t rep);

 private:
  struct Key {};

 public:
  Socks5Client(Key, const Request& request);
  ~Socks5Client() override;

 private:
  enum class Stage { Method, Auth, Reply };

  ProxyProgress on_input(std::span<const uint8_t> bytes) override;
  std::string closed_while() const override;
  // Each parses the front of in_: NeedMore, a failure, or (for Method/Auth)
  // the next request queued and the stage advanced.
  ProxyProgress on_method();
  ProxyProgress on_auth_status();
  ProxyProgress on_reply();
  // Done with a non-final reply of `size` bytes; nothing may follow it yet.
  ProxyProgress next_stage(Stage stage, size_t size, const char* after);

  std::string target_;  // for error texts
  bool offer_password_ = false;
  std::string user_, password_;  // until the auth request is built
  std::vector<uint8_t> connect_request_;
  Stage stage_ = Stage::Method;
  std::vector<uint8_t> in_;  // unparsed reply bytes
};

}  // namespace dialout
