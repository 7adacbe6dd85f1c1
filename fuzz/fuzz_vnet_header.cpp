// libFuzzer target: a peer's virtio-net header plus packet, as it arrives in
// a data frame. Validation must never read out of bounds, and whatever it
// accepts must segment into packets that fit the MTU and whose checksums
// verify. The invariants of issue 9: an accepted NEEDS_CSUM names exactly
// the TCP/UDP checksum field (cross-checked with the data path's own IP
// parser), and an accepted superpacket respects the gso_size minimum and
// at most kMaxGsoSegments segments.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "netlib/ip_packet.hpp"
#include "netlib/vnet_header.hpp"

namespace {

uint32_t ones_sum(std::span<const uint8_t> d, uint32_t acc) {
  for (size_t i = 0; i < d.size(); ++i) acc += (i % 2 == 0) ? uint32_t{d[i]} << 8 : d[i];
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return acc;
}

void check_segment(std::span<const uint8_t> s, const dialout::VnetLayout& layout, size_t mtu) {
  if (s.size() > mtu || s.size() <= layout.header_len()) __builtin_trap();
  if (layout.ip_version == 4 && ones_sum(s.first(layout.l3_len), 0) != 0xffff) __builtin_trap();
  const size_t l4_len = s.size() - layout.l3_len;
  uint32_t acc = layout.ip_version == 4 ? ones_sum(s.subspan(12, 8), 0) : ones_sum(s.subspan(8, 32), 0);
  acc += layout.l4_protocol + static_cast<uint32_t>(l4_len);
  if (ones_sum(s.subspan(layout.l3_len), acc) != 0xffff) __builtin_trap();
}

// Issue 9, items 1 and 2, for every header a peer may send.
void check_peer_invariants(const dialout::VnetHeader& h, std::span<const uint8_t> packet,
                           const dialout::VnetLayout& layout) {
  using namespace dialout;
  if (h.flags & kVnetNeedsCsum) {
    if (layout.l4_protocol != 6 && layout.l4_protocol != 17) __builtin_trap();
    if (h.csum_start != layout.l3_len) __builtin_trap();
    if (h.csum_offset != (layout.l4_protocol == 6 ? 16 : 6)) __builtin_trap();
    auto info = parse_ip_packet(packet);
    if (info && (info->header_len != h.csum_start || info->protocol != layout.l4_protocol || info->fragment))
      __builtin_trap();
  }
  if (h.gso()) {
    if (h.gso_size == kGsoSizeReserved) __builtin_trap();
    if (h.gso_size < (layout.l4_protocol == 6 ? kMinTcpGsoSize : kMinUdpGsoSize)) __builtin_trap();
    if ((h.gso_type & ~kVnetGsoEcn) == kVnetGsoUdpL4 && !(h.flags & kVnetNeedsCsum)) __builtin_trap();
    // An MTU that never limits: the segments are exactly those the header asks for.
    auto unlimited = plan_segments(h, packet, size_t{1} << 20);
    if (!unlimited || unlimited->segments > kMaxGsoSegments) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> input(data, size);
  auto header = dialout::VnetHeader::decode(input);
  if (!header) return 0;
  const auto packet = input.subspan(dialout::kVnetHeaderSize);
  constexpr size_t kMtu = 1500;

  // Our own kernel's headers may exceed the peer bounds; tund cuts those.
  auto own = dialout::plan_segments(*header, packet, kMtu, dialout::VnetOrigin::OwnKernel);
  if (own && own->segments <= 4096) {
    std::vector<uint8_t> storage(own->storage_bytes);
    std::vector<std::span<uint8_t>> out(own->segments);
    auto n = dialout::segment(*header, packet, kMtu, storage, out, dialout::VnetOrigin::OwnKernel);
    if (!n || *n != own->segments) __builtin_trap();
  }

  auto plan = dialout::plan_segments(*header, packet, kMtu);
  if (!plan) {
    std::vector<uint8_t> copy(packet.begin(), packet.end());
    (void)dialout::complete_checksum(*header, copy);
    return 0;
  }
  if (!own) __builtin_trap();  // the peer checks are a superset
  check_peer_invariants(*header, packet, plan->layout);
  std::vector<uint8_t> storage(plan->storage_bytes);
  std::vector<std::span<uint8_t>> out(plan->segments);
  auto n = dialout::segment(*header, packet, kMtu, storage, out);
  if (!n || *n != plan->segments) __builtin_trap();
  if (header->gso()) {
    for (const auto& s : out) check_segment(s, plan->layout, kMtu);
  }
  return 0;
}
