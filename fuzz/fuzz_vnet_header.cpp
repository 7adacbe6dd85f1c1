// libFuzzer target: a peer's virtio-net header plus packet, as it arrives in
// a data frame. Validation must never read out of bounds, and whatever it
// accepts must segment into packets that fit the MTU and whose checksums
// verify.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> input(data, size);
  auto header = dialout::VnetHeader::decode(input);
  if (!header) return 0;
  const auto packet = input.subspan(dialout::kVnetHeaderSize);
  constexpr size_t kMtu = 1500;

  auto plan = dialout::plan_segments(*header, packet, kMtu);
  if (!plan) {
    std::vector<uint8_t> copy(packet.begin(), packet.end());
    (void)dialout::complete_checksum(*header, copy);
    return 0;
  }
  std::vector<uint8_t> storage(plan->storage_bytes);
  std::vector<std::span<uint8_t>> out(plan->segments);
  auto n = dialout::segment(*header, packet, kMtu, storage, out);
  if (!n || *n != plan->segments) __builtin_trap();
  if (header->gso()) {
    for (const auto& s : out) check_segment(s, plan->layout, kMtu);
  }
  return 0;
}
