#include "tests/support/offload_packets.hpp"

#include "netlib/ip_address.hpp"
#include "netlib/wire.hpp"
#include "tests/support/packets.hpp"

namespace dialout::test {
namespace {

uint32_t sum16(std::span<const uint8_t> d, uint32_t acc = 0) {
  for (size_t i = 0; i < d.size(); ++i) acc += (i % 2 == 0) ? uint32_t{d[i]} << 8 : d[i];
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return acc;
}
void put16(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 8);
  p[1] = uint8_t(v);
}
uint32_t pseudo_header(std::span<const uint8_t> ip, uint8_t proto, size_t l4_len) {
  return sum16(ip.subspan(12, 8)) + proto + uint32_t(l4_len);
}

}  // namespace

std::vector<uint8_t> ipv4_tcp(std::string_view src, std::string_view dst, uint16_t sport, uint16_t dport,
                              size_t payload_bytes, bool partial_checksum) {
  const auto s = *IpAddr::parse(src), d = *IpAddr::parse(dst);
  std::vector<uint8_t> p(40 + payload_bytes, 0);
  p[0] = 0x45;
  put16(&p[2], uint32_t(p.size()));
  put16(&p[6], 0x4000);  // DF
  p[8] = 64;
  p[9] = 6;
  for (int i = 0; i < 4; ++i) p[12 + i] = s.bytes[i], p[16 + i] = d.bytes[i];
  put16(&p[10], ~sum16(std::span(p).first(20)));
  uint8_t* t = &p[20];
  put16(t, sport);
  put16(t + 2, dport);
  put16(t + 6, 1000);
  t[12] = 5 << 4;
  t[13] = 0x18;  // ACK|PSH
  put16(t + 14, 65535);
  for (size_t i = 0; i < payload_bytes; ++i) p[40 + i] = uint8_t(i * 7 + 3);
  const uint32_t pseudo = pseudo_header(p, 6, p.size() - 20);
  put16(t + 16, partial_checksum ? sum16({}, pseudo) : uint16_t(~sum16(std::span(p).subspan(20), pseudo)));
  return p;
}

std::vector<uint8_t> ipv4_udp_lsrr(std::string_view src, std::string_view dst, std::string_view hop, uint16_t sport,
                                   uint16_t dport, std::string_view payload) {
  auto p = ipv4_udp(src, dst, sport, dport, payload);
  const auto h = *IpAddr::parse(hop);
  const uint8_t option[8] = {0x83, 7, 4, h.bytes[0], h.bytes[1], h.bytes[2], h.bytes[3], 0};
  p.insert(p.begin() + 20, option, option + 8);
  p[0] = 0x47;
  put16(&p[2], uint32_t(p.size()));
  put16(&p[10], 0);
  put16(&p[10], ~sum16(std::span(p).first(28)));
  return p;
}

VnetHeader kernel_tcp4_header(uint16_t gso_size) {
  return VnetHeader{.flags = kVnetNeedsCsum,
                    .gso_type = gso_size == 0 ? kVnetGsoNone : kVnetGsoTcpV4,
                    .hdr_len = 40,
                    .gso_size = gso_size,
                    .csum_start = 20,
                    .csum_offset = 16};
}

std::vector<uint8_t> vnet_then(const VnetHeader& header, std::span<const uint8_t> packet) {
  std::vector<uint8_t> out(kVnetHeaderSize);
  header.encode(std::span<uint8_t, kVnetHeaderSize>(out.data(), kVnetHeaderSize));
  out.insert(out.end(), packet.begin(), packet.end());
  return out;
}

std::vector<uint8_t> data_frame(std::span<const uint8_t> body, bool with_vnet) {
  std::vector<uint8_t> f(kDataFrameOverhead);
  write_data_headers(std::span<uint8_t, kDataFrameOverhead>(f.data(), kDataFrameOverhead),
                     DataHeader{0, 0, uint8_t(with_vnet ? kDataVnet : 0)}, body.size());
  f.insert(f.end(), body.begin(), body.end());
  return f;
}

bool ipv4_checksums_ok(std::span<const uint8_t> p) {
  if (p.size() < 20) return false;
  const size_t ihl = size_t{p[0] & 0x0fu} * 4;
  if (sum16(p.first(ihl)) != 0xffff) return false;
  return sum16(p.subspan(ihl), pseudo_header(p, p[9], p.size() - ihl)) == 0xffff;
}

}  // namespace dialout::test
