#include "tests/support/datagram_builder.hpp"

#include <algorithm>

#include "netlib/ip_address.hpp"

namespace dialout::test {
namespace {

uint32_t sum(const uint8_t* p, size_t n, uint32_t acc = 0) {
  for (size_t i = 0; i < n; ++i) acc += (i % 2 == 0) ? uint32_t{p[i]} << 8 : p[i];
  return acc;
}
uint16_t fold(uint64_t s) {
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<uint16_t>(s);
}
void put16(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
void put32(uint8_t* p, uint32_t v) {
  put16(p, v >> 16);
  put16(p + 2, v & 0xffff);
}
void fix_ipv4_checksum(std::vector<uint8_t>& p) {
  put16(&p[10], 0);
  put16(&p[10], static_cast<uint16_t>(~fold(sum(p.data(), 20))));
}

}  // namespace

std::vector<uint8_t> build_datagram(const DatagramSpec& s) {
  const IpAddr src = *IpAddr::parse(s.src), dst = *IpAddr::parse(s.dst);
  const bool v4 = src.family == Family::V4;
  std::vector<uint8_t> l4;
  size_t csum_at = 2;
  size_t header = 8;
  if (s.protocol == 6) {
    header = 20;
    l4.resize(header + s.payload);
    put16(&l4[0], 40000);
    put16(&l4[2], 80);
    put32(&l4[4], 1000);
    l4[12] = 0x50;
    l4[13] = 0x18;  // ACK|PSH
    put16(&l4[14], 0xffff);
    csum_at = 16;
  } else if (s.protocol == 17) {
    l4.resize(header + s.payload);
    put16(&l4[0], 40000);
    put16(&l4[2], 5201);
    put16(&l4[4], static_cast<uint32_t>(l4.size()));
    csum_at = 6;
  } else {
    l4.resize(header);
    l4[0] = s.icmp_type;
    l4[1] = s.icmp_code;
    put32(&l4[4], s.icmp_rest);
    if (!s.quote.empty()) {
      l4.insert(l4.end(), s.quote.begin(), s.quote.end());
    } else {
      l4.resize(header + s.payload);
    }
  }
  if (s.quote.empty())
    for (size_t i = header; i < l4.size(); ++i) l4[i] = static_cast<uint8_t>(i * 7 + 3);

  uint32_t pseudo = sum(src.bytes.data(), src.size()) + sum(dst.bytes.data(), dst.size()) + s.protocol +
                    static_cast<uint32_t>(l4.size());
  if (s.protocol == 1) pseudo = 0;  // ICMPv4 covers only the message
  uint16_t field;
  if (s.partial) {
    field = fold(pseudo);
  } else if (s.udp_no_checksum) {
    field = 0;
  } else {
    field = static_cast<uint16_t>(~fold(sum(l4.data(), l4.size(), pseudo)));
    if (field == 0 && s.protocol == 17) field = 0xffff;
  }
  put16(&l4[csum_at], field);

  std::vector<uint8_t> p;
  if (v4) {
    p.resize(20);
    p[0] = 0x45;
    put16(&p[2], static_cast<uint32_t>(20 + l4.size()));
    put16(&p[4], 0x1234);
    put16(&p[6], 0x4000);  // DF
    p[8] = 64;
    p[9] = s.protocol;
    std::copy_n(src.bytes.begin(), 4, &p[12]);
    std::copy_n(dst.bytes.begin(), 4, &p[16]);
    p.insert(p.end(), l4.begin(), l4.end());
    fix_ipv4_checksum(p);
  } else {
    p.resize(s.v6_fragment_header ? 48 : 40);
    p[0] = 0x60;
    put16(&p[4], static_cast<uint32_t>(p.size() - 40 + l4.size()));
    p[6] = s.v6_fragment_header ? 44 : s.protocol;
    p[7] = 64;
    std::copy_n(src.bytes.begin(), 16, &p[8]);
    std::copy_n(dst.bytes.begin(), 16, &p[24]);
    if (s.v6_fragment_header) {
      p[40] = s.protocol;
      put16(&p[42], 0x0001);  // offset 0, M
      put32(&p[44], 7);
    }
    p.insert(p.end(), l4.begin(), l4.end());
  }
  return p;
}

std::vector<uint8_t> fragment_of(const std::vector<uint8_t>& whole, size_t first_bytes, bool first) {
  const bool v4 = whole[0] >> 4 == 4;
  const size_t hl = v4 ? 20 : 48;
  std::vector<uint8_t> p(whole.begin(), whole.begin() + static_cast<long>(hl));
  auto from = whole.begin() + static_cast<long>(hl + (first ? 0 : first_bytes));
  auto to = first ? whole.begin() + static_cast<long>(hl + first_bytes) : whole.end();
  p.insert(p.end(), from, to);
  const uint32_t offset_units = first ? 0 : static_cast<uint32_t>(first_bytes / 8);
  if (v4) {
    put16(&p[2], static_cast<uint32_t>(p.size()));
    put16(&p[6], first ? 0x2000 : offset_units);  // MF on the first
    fix_ipv4_checksum(p);
  } else {
    put16(&p[4], static_cast<uint32_t>(p.size() - 40));
    put16(&p[42], offset_units << 3 | (first ? 1 : 0));
  }
  return p;
}

std::vector<uint8_t> first_bytes(const std::vector<uint8_t>& p, size_t n) {
  return std::vector<uint8_t>(p.begin(), p.begin() + static_cast<long>(std::min(n, p.size())));
}

}  // namespace dialout::test
