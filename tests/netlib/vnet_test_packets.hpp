// Packets for the virtio-net header tests (vnet_header_test.cpp,
// vnet_segment_test.cpp): IPv4/IPv6 TCP/UDP datagrams built to a Spec, the
// header a kernel would put in front, and independent checksum verifiers.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "netlib/vnet_header.hpp"

namespace dialout::vnet_test {

inline constexpr uint8_t kTcp = 6, kUdp = 17;
inline constexpr uint8_t kFin = 0x01, kPsh = 0x08, kAck = 0x10, kCwr = 0x80;
inline constexpr uint32_t kSeq = 0xfffff000;  // wraps during the test on purpose

inline uint16_t rd16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline uint32_t rd32(const uint8_t* p) { return uint32_t{rd16(p)} << 16 | rd16(p + 2); }
inline void wr16(uint8_t* p, size_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

// Independent checksum verifier: the one's-complement sum over the covered
// bytes, including the stored checksum, must be 0xffff.
inline uint32_t ones_sum(const uint8_t* p, size_t n, uint32_t acc = 0) {
  for (size_t i = 0; i < n; ++i) acc += (i % 2 == 0) ? uint32_t{p[i]} << 8 : p[i];
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return acc;
}
inline bool ipv4_header_ok(const std::vector<uint8_t>& p) { return ones_sum(p.data(), (p[0] & 0xf) * 4u) == 0xffff; }
inline bool l4_checksum_ok(const std::vector<uint8_t>& p, size_t l3_len, uint8_t proto) {
  const size_t l4_len = p.size() - l3_len;
  uint32_t acc = (p[0] >> 4) == 4 ? ones_sum(&p[12], 8) : ones_sum(&p[8], 32);
  acc += proto + static_cast<uint32_t>(l4_len);
  return ones_sum(&p[l3_len], l4_len, acc) == 0xffff;
}

struct Spec {
  uint8_t version = 4;
  uint8_t proto = kTcp;
  size_t payload = 100;
  size_t tcp_options = 0;  // bytes, multiple of 4
  uint8_t tcp_flags = kAck | kPsh;
};

inline uint8_t payload_byte(size_t i) { return static_cast<uint8_t>(i * 7 + 3); }

inline std::vector<uint8_t> build(const Spec& s) {
  const size_t l3 = s.version == 4 ? 20 : 40;
  const size_t l4 = s.proto == kTcp ? 20 + s.tcp_options : 8;
  std::vector<uint8_t> p(l3 + l4 + s.payload);
  if (s.version == 4) {
    p[0] = 0x45;
    wr16(&p[2], p.size());
    wr16(&p[4], 0x1234);
    wr16(&p[6], 0x4000);  // DF
    p[8] = 64;
    p[9] = s.proto;
    const uint8_t addrs[] = {10, 1, 0, 1, 10, 2, 0, 2};
    std::memcpy(&p[12], addrs, 8);
    wr16(&p[10], static_cast<uint16_t>(~ones_sum(p.data(), 20)));
  } else {
    p[0] = 0x60;
    wr16(&p[4], p.size() - 40);
    p[6] = s.proto;
    p[7] = 64;
    p[8] = 0xfd, p[9] = 0x00, p[10] = 0x00, p[11] = 0x01, p[23] = 1;
    p[24] = 0xfd, p[25] = 0x00, p[26] = 0x00, p[27] = 0x02, p[39] = 2;
  }
  uint8_t* t = &p[l3];
  wr16(t, 40000);
  wr16(t + 2, 5201);
  if (s.proto == kTcp) {
    wr16(t + 4, kSeq >> 16);
    wr16(t + 6, kSeq & 0xffff);
    wr16(t + 8, 0);
    wr16(t + 10, 1);
    t[12] = static_cast<uint8_t>((20 + s.tcp_options) / 4 << 4);
    t[13] = s.tcp_flags;
    wr16(t + 14, 512);
    std::memset(t + 20, 1, s.tcp_options);  // NOPs
  } else {
    wr16(t + 4, l4 + s.payload);
  }
  for (size_t i = 0; i < s.payload; ++i) p[l3 + l4 + i] = payload_byte(i);
  return p;
}

// The header the kernel would put in front: partial checksum requested.
inline VnetHeader gso_header(const Spec& s, uint16_t gso_size) {
  VnetHeader h;
  h.flags = kVnetNeedsCsum;
  h.gso_type = s.proto == kUdp ? kVnetGsoUdpL4 : (s.version == 4 ? kVnetGsoTcpV4 : kVnetGsoTcpV6);
  h.gso_size = gso_size;
  h.csum_start = s.version == 4 ? 20 : 40;
  h.csum_offset = s.proto == kTcp ? 16 : 6;
  h.hdr_len = static_cast<uint16_t>(h.csum_start + (s.proto == kTcp ? 20 + s.tcp_options : 8));
  return h;
}

}  // namespace dialout::vnet_test
