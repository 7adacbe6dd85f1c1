#include "netlib/ip_address.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>

namespace dialout {

IpAddr IpAddr::v4(std::span<const uint8_t, 4> b) {
  IpAddr a;
  a.family = Family::V4;
  std::copy(b.begin(), b.end(), a.bytes.begin());
  return a;
}

IpAddr IpAddr::v6(std::span<const uint8_t, 16> b) {
  IpAddr a;
  a.family = Family::V6;
  std::copy(b.begin(), b.end(), a.bytes.begin());
  return a;
}

std::optional<IpAddr> IpAddr::parse(std::string_view text) {
  if (text.empty() || text.size() > 45) return std::nullopt;
  char buf[46];
  std::copy(text.begin(), text.end(), buf);
  buf[text.size()] = '\0';
  IpAddr a;
  if (text.find(':') == std::string_view::npos) {
    a.family = Family::V4;
    if (inet_pton(AF_INET, buf, a.bytes.data()) != 1) return std::nullopt;
  } else {
    a.family = Family::V6;
    if (inet_pton(AF_INET6, buf, a.bytes.data()) != 1) return std::nullopt;
  }
  return a;
}

std::string IpAddr::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(family == Family::V4 ? AF_INET : AF_INET6, bytes.data(), buf, sizeof buf);
  return buf;
}

IpAddr IpAddr::unmapped() const {
  static constexpr std::array<uint8_t, 12> kMapped{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (family != Family::V6 || !std::equal(kMapped.begin(), kMapped.end(), bytes.begin())) return *this;
  return v4(std::span<const uint8_t, 4>(bytes.data() + 12, 4));
}

std::optional<Prefix> Prefix::make(const IpAddr& addr, unsigned len) {
  if (len > addr.max_prefix_len()) return std::nullopt;
  Prefix p;
  p.addr = addr;
  p.len = static_cast<uint8_t>(len);
  for (unsigned i = 0; i < 16; ++i) {
    unsigned keep = len > i * 8 ? std::min(8u, len - i * 8) : 0;
    p.addr.bytes[i] &= static_cast<uint8_t>(0xff00u >> keep);
  }
  return p;
}

std::optional<Prefix> Prefix::parse(std::string_view text) {
  auto slash = text.find('/');
  auto addr = IpAddr::parse(text.substr(0, slash));
  if (!addr) return std::nullopt;
  unsigned len = addr->max_prefix_len();
  if (slash != std::string_view::npos) {
    auto digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3) return std::nullopt;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), len);
    if (ec != std::errc{} || end != digits.data() + digits.size()) return std::nullopt;
  }
  auto p = make(*addr, len);
  if (!p || p->addr != *addr) return std::nullopt;  // host bits set: almost always a typo
  return p;
}

bool Prefix::contains(const IpAddr& a) const {
  if (a.family != addr.family) return false;
  unsigned full = len / 8;
  if (!std::equal(addr.bytes.begin(), addr.bytes.begin() + full, a.bytes.begin())) return false;
  unsigned rest = len % 8;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff00u >> rest);
  return (a.bytes[full] & mask) == addr.bytes[full];
}

std::string Prefix::to_string() const { return addr.to_string() + "/" + std::to_string(len); }

}  // namespace dialout
