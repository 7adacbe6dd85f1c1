// Attribute helpers shared by the rtnetlink code (requests, the route
// lookup and the event monitor). Internal to netlib: include only from .cpp
// files, because it pulls in libmnl.
#pragma once

#include <libmnl/libmnl.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <span>

#include "netlib/ip_address.hpp"

namespace dialout::netlink_attr {

inline int family_of(const IpAddr& a) { return a.family == Family::V4 ? AF_INET : AF_INET6; }

// An address attribute of exactly the family's length; anything else is
// malformed and yields nullopt.
inline std::optional<IpAddr> address(const nlattr* attr, int family) {
  if (attr == nullptr) return std::nullopt;
  const auto len = mnl_attr_get_payload_len(attr);
  const auto* p = static_cast<const uint8_t*>(mnl_attr_get_payload(attr));
  if (family == AF_INET && len == 4) return IpAddr::v4(std::span<const uint8_t, 4>(p, 4));
  if (family == AF_INET6 && len == 16) return IpAddr::v6(std::span<const uint8_t, 16>(p, 16));
  return std::nullopt;
}

// mnl_attr_parse callback: collects attributes by type into a table of N;
// unknown or out-of-range types are skipped.
template <size_t N>
int collect(const nlattr* attr, void* data) {
  auto& table = *static_cast<std::array<const nlattr*, N>*>(data);
  uint16_t type = mnl_attr_get_type(attr);
  if (type < N) table[type] = attr;
  return MNL_CB_OK;
}

inline bool u32(const nlattr* attr, uint32_t& out) {
  if (attr == nullptr || mnl_attr_validate(attr, MNL_TYPE_U32) < 0) return false;
  out = mnl_attr_get_u32(attr);
  return true;
}

}  // namespace dialout::netlink_attr
