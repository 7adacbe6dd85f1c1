// The ALPN protocol id (RFC 7301) that names dialout's protocol inside TLS.
//
// Sites offer it in every ClientHello; an intermediary that shares its port
// with a web server tells its own clients from browsers by it before
// terminating TLS (intermediary/client_hello.hpp). The "/1" follows
// kProtocolVersion in netlib/wire.hpp only loosely: it changes if the stream
// inside TLS stops starting with a HELLO frame, not with every version bump
// (HELLO already negotiates the version).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace dialout {

constexpr std::string_view kAlpnProtocol = "dialout/1";

// The ProtocolNameList as SSL_CTX_set_alpn_protos / SSL_select_next_proto
// take it: one length byte, then the id.
constexpr std::array<uint8_t, kAlpnProtocol.size() + 1> kAlpnWireList = [] {
  std::array<uint8_t, kAlpnProtocol.size() + 1> list{};
  list[0] = static_cast<uint8_t>(kAlpnProtocol.size());
  for (size_t i = 0; i < kAlpnProtocol.size(); ++i) list[i + 1] = static_cast<uint8_t>(kAlpnProtocol[i]);
  return list;
}();

}  // namespace dialout
