// libFuzzer: the data-path IP parser must never read out of bounds, and what
// it accepts must be self-consistent.
#include <cstddef>
#include <cstdint>
#include <span>

#include "netlib/ip_packet.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace dialout;
  auto r = parse_ip_packet(std::span<const uint8_t>(data, size));
  if (!r) {
    (void)to_string(r.error());
    return 0;
  }
  const PacketInfo& p = *r;
  if (p.total_len > size || p.header_len > p.total_len) __builtin_trap();
  if (p.src.family != p.dst.family) __builtin_trap();
  if (p.fragment && (p.src_port != 0 || p.dst_port != 0 || p.tcp_pure_ack)) __builtin_trap();
  if (p.tcp_pure_ack && p.protocol != 6) __builtin_trap();
  // Same header, same hash: the hash reads nothing but the parsed fields.
  if (flow_hash(p) != flow_hash(*parse_ip_packet(std::span<const uint8_t>(data, size)))) __builtin_trap();
  return 0;
}
