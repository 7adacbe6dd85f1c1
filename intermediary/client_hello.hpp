// The port-sharing peek: from the first bytes of an accepted connection,
// decide whether it is one of our sites (a TLS ClientHello offering
// kAlpnProtocol) or something to hand, byte for byte, to the web server
// that shares the port. Nothing is terminated or answered here.
//
// Parsed strictly, every length checked against its container before use
// and nothing read past a declared length (RFC 8446 sections 4.1.2 and 5.1,
// RFC 6066 section 3, RFC 7301 section 3.1):
//   record     type 22, version 3.1..3.3, length 1..2^14; a ClientHello may
//              span several records, all of type 22, and must end exactly at
//              the end of one (what follows is not looked at)
//   handshake  type 1 (ClientHello), 3-byte length
//   body       legacy_version 3.1..3.3, random (32), session id (0..32),
//              cipher suites (even, >= 2), compression methods (>= 1),
//              extensions (optional, must fill the rest exactly; no type twice)
//   SNI (0)    one entry, of type host_name, 1..255 bytes of letters,
//              digits, '-', '_', '.'
//   ALPN (16)  a non-empty list of non-empty protocol names
// All of it, record headers included, must fit in kMaxClientHelloPeek
// bytes (real ones are 0.5-2 KiB, 16 KiB leaves room for large key shares).
// Each verdict other than NeedMore is decided by the bytes up to some
// position alone: more bytes never change it, so a caller may stop reading
// at the first such verdict (the fuzz target checks this).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "netlib/alpn.hpp"

namespace dialout {

constexpr size_t kMaxClientHelloPeek = 16 * 1024;

enum class HelloVerdict {
  NeedMore,        // read more (the bound leaves room) and ask again
  NotTls,          // not a TLS handshake at all (an HTTP request, SSH, ...)
  TlsWithAlpn,     // a ClientHello offering our protocol: a site
  TlsWithoutAlpn,  // a ClientHello without it: a browser, for the backend
  Malformed,       // looks like TLS but breaks its rules
  Oversized,       // cannot be complete within kMaxClientHelloPeek bytes
};
const char* to_string(HelloVerdict);

struct HelloPeek {
  HelloVerdict verdict = HelloVerdict::NeedMore;
  // TlsWith*: the SNI host name, lower-cased; "" when the client sent none.
  std::string server_name;
  // TlsWith*: the bytes of the records that carried the ClientHello.
  size_t hello_bytes = 0;
  // NotTls / Malformed / Oversized: what and where, for a log line.
  std::string error;
};

// `received`: everything read from the connection so far (only the first
// kMaxClientHelloPeek bytes are looked at). Pure: call it again after each
// read until the verdict is not NeedMore.
HelloPeek peek_client_hello(std::span<const uint8_t> received, std::string_view protocol = kAlpnProtocol);

}  // namespace dialout
