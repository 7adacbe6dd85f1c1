#include "tests/support/packets.hpp"

#include "netlib/ip_address.hpp"

namespace dialout::test {
namespace {

uint16_t checksum(const uint8_t* p, size_t n, uint32_t sum = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += uint32_t(p[i] << 8 | p[i + 1]);
  if (n & 1) sum += uint32_t(p[n - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return uint16_t(~sum);
}

}  // namespace

std::vector<uint8_t> ipv4_udp(std::string_view src, std::string_view dst, uint16_t sport, uint16_t dport,
                              std::string_view payload) {
  auto s = *IpAddr::parse(src);
  auto d = *IpAddr::parse(dst);
  size_t udp_len = 8 + payload.size();
  size_t total = 20 + udp_len;
  std::vector<uint8_t> p(total, 0);
  p[0] = 0x45;
  p[2] = uint8_t(total >> 8);
  p[3] = uint8_t(total);
  p[8] = 64;
  p[9] = 17;
  for (int i = 0; i < 4; ++i) {
    p[12 + i] = s.bytes[i];
    p[16 + i] = d.bytes[i];
  }
  uint16_t hc = checksum(p.data(), 20);
  p[10] = uint8_t(hc >> 8);
  p[11] = uint8_t(hc);
  uint8_t* u = p.data() + 20;
  u[0] = uint8_t(sport >> 8);
  u[1] = uint8_t(sport);
  u[2] = uint8_t(dport >> 8);
  u[3] = uint8_t(dport);
  u[4] = uint8_t(udp_len >> 8);
  u[5] = uint8_t(udp_len);
  std::copy(payload.begin(), payload.end(), u + 8);
  uint32_t pseudo = 0;
  for (int i = 0; i < 4; i += 2) {
    pseudo += uint32_t(s.bytes[i] << 8 | s.bytes[i + 1]);
    pseudo += uint32_t(d.bytes[i] << 8 | d.bytes[i + 1]);
  }
  pseudo += 17 + uint32_t(udp_len);
  uint16_t uc = checksum(u, udp_len, pseudo);
  if (uc == 0) uc = 0xffff;
  u[6] = uint8_t(uc >> 8);
  u[7] = uint8_t(uc);
  return p;
}

}  // namespace dialout::test
