// IPv4/IPv6 addresses and prefixes as plain values: parse, print, compare, contain.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace dialout {

enum class Family : uint8_t { V4 = 4, V6 = 6 };

struct IpAddr {
  Family family = Family::V4;
  // V4 uses bytes[0..4); the rest stays zero so comparisons are plain.
  std::array<uint8_t, 16> bytes{};

  static IpAddr v4(std::span<const uint8_t, 4> b);
  static IpAddr v6(std::span<const uint8_t, 16> b);
  static std::optional<IpAddr> parse(std::string_view text);
  size_t size() const { return family == Family::V4 ? 4 : 16; }
  unsigned max_prefix_len() const { return family == Family::V4 ? 32 : 128; }
  bool bit(unsigned i) const { return (bytes[i / 8] >> (7 - i % 8)) & 1; }
  std::string to_string() const;
  // A v4-mapped IPv6 address (::ffff:a.b.c.d) as the IPv4 address it is;
  // anything else unchanged. A dual-stack listener sees IPv4 peers this
  // way: shown, counted and compared as IPv4 they are the same peer
  // whichever socket family accepted them.
  IpAddr unmapped() const;
  auto operator<=>(const IpAddr&) const = default;
};

struct Prefix {
  IpAddr addr;  // host bits are always zero (canonical)
  uint8_t len = 0;

  // Builds a canonical prefix; nullopt if len is too long for the family.
  static std::optional<Prefix> make(const IpAddr& addr, unsigned len);
  // "10.1.0.0/24", "fd00::/64", or a bare address (host prefix). Host bits must be zero.
  static std::optional<Prefix> parse(std::string_view text);
  bool contains(const IpAddr& a) const;
  bool contains(const Prefix& p) const { return p.len >= len && contains(p.addr); }
  std::string to_string() const;
  auto operator<=>(const Prefix&) const = default;
};

}  // namespace dialout
