// libFuzzer: translating arbitrary bytes (either direction, any position for
// a partial checksum) never crashes or reads or writes out of bounds; a
// datagram nothing was rewritten in is unchanged; and translating there and
// back with the inverse mappings restores the original bytes whenever the
// way back rewrote the same addresses (it would not, e.g., for a source
// that already was in the outside range). The only tolerated difference is
// a checksum word turning from 0x0000 into 0xffff or back: both are zero in
// one's complement (RFC 1624 section 3), and an incremental update may
// produce either.
// Input: byte 0 picks the direction, bytes 1-2 (big endian) the partial
// checksum position (0xffff: none), the rest is the datagram.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "tund/prefix_translation.hpp"

namespace {

using dialout::PrefixMapping;
using dialout::PrefixTranslation;

PrefixMapping mapping(const char* text) { return *dialout::parse_prefix_mapping(text); }

bool same_but_for_zero_checksums(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); i += 2) {
    if (i + 1 == a.size()) return a[i] == b[i];
    const unsigned x = unsigned(a[i]) << 8 | a[i + 1], y = unsigned(b[i]) << 8 | b[i + 1];
    if (x != y && !((x == 0 && y == 0xffff) || (x == 0xffff && y == 0))) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const PrefixTranslation there({mapping("192.168.1.0/24 as 10.101.0.0/24"),
                                        mapping("172.16.0.0/12 as 10.16.0.0/12"),
                                        mapping("fd00:1::/64 as fd00:101::/64"), mapping("10.9.0.0/24")});
  static const PrefixTranslation back({mapping("10.101.0.0/24 as 192.168.1.0/24"),
                                       mapping("10.16.0.0/12 as 172.16.0.0/12"),
                                       mapping("fd00:101::/64 as fd00:1::/64")});
  if (size < 3) return 0;
  const bool outbound = data[0] & 1;
  const size_t at = size_t{data[1]} << 8 | data[2];
  const size_t partial = at == 0xffff ? dialout::kNoPartialChecksum : at;
  const std::vector<uint8_t> original(data + 3, data + size);
  std::vector<uint8_t> p = original;

  auto run = [&](const PrefixTranslation& t) { return outbound ? t.outbound(p, partial) : t.inbound(p, partial); };
  const unsigned there_count = run(there);
  if (there_count == 0) {
    if (p != original) __builtin_trap();
    return 0;
  }
  if (there_count > 2) __builtin_trap();  // one outer address, one quoted
  const unsigned back_count = run(back);
  if (back_count == there_count && !same_but_for_zero_checksums(p, original)) __builtin_trap();
  return 0;
}
