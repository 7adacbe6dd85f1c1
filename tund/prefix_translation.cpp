#include "tund/prefix_translation.hpp"

#include <cstring>
#include <optional>

#include "tund/checksum_delta.hpp"

namespace dialout {
namespace {

constexpr uint8_t kProtoIcmp = 1, kProtoTcp = 6, kProtoUdp = 17, kProtoIcmp6 = 58;
constexpr uint8_t kProtoHopByHop = 0, kProtoRouting = 43, kProtoFragment = 44, kProtoAh = 51, kProtoDestOpts = 60;
// As netlib/ip_packet.cpp: a real chain is a few headers long.
constexpr int kMaxExtensionHeaders = 8;
// ICMP errors quote the offending datagram after their 8-byte header.
constexpr size_t kIcmpHeaderSize = 8;

enum class Field { Src, Dst };
Field mirror(Field f) { return f == Field::Src ? Field::Dst : Field::Src; }

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
void put_be16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

struct Layout {
  Family family = Family::V4;
  size_t l4 = 0;       // offset of the upper-layer header
  size_t end = 0;      // end of the datagram (or of the quote) in the buffer
  uint8_t protocol = 0;
  bool has_l4 = false;  // false: a later fragment, or the chain is cut off
};

bool is_extension(uint8_t next) {
  return next == kProtoHopByHop || next == kProtoRouting || next == kProtoDestOpts || next == kProtoFragment ||
         next == kProtoAh;
}

// A quoted datagram is cut short by design: its length fields may exceed
// what is there, and only what is there is looked at. An outer one must be
// whole.
std::optional<Layout> read_layout(std::span<const uint8_t> p, bool quoted) {
  if (p.empty()) return std::nullopt;
  const uint8_t* h = p.data();
  Layout l;
  if (h[0] >> 4 == 4) {
    if (p.size() < 20) return std::nullopt;
    const size_t ihl = size_t{h[0] & 0x0fu} * 4;
    size_t total = be16(h + 2);
    if (ihl < 20 || ihl > p.size() || total < ihl) return std::nullopt;
    if (total > p.size()) {
      if (!quoted) return std::nullopt;
      total = p.size();
    }
    l.l4 = ihl;
    l.end = total;
    l.protocol = h[9];
    l.has_l4 = (be16(h + 6) & 0x1fff) == 0;  // offset 0: the first fragment, or no fragment
    return l;
  }
  if (h[0] >> 4 != 6 || p.size() < 40) return std::nullopt;
  size_t total = 40 + size_t{be16(h + 4)};
  if (total > p.size()) {
    if (!quoted) return std::nullopt;
    total = p.size();
  }
  l.family = Family::V6;
  l.end = total;
  uint8_t next = h[6];
  size_t off = 40;
  for (int i = 0; i < kMaxExtensionHeaders && is_extension(next); ++i) {
    if (total - off < 8) return l;
    const uint8_t* e = h + off;
    size_t len = 8;
    if (next == kProtoFragment) {
      if ((be16(e + 2) & 0xfff8) != 0) return l;  // a later fragment: no upper-layer header
    } else if (next == kProtoAh) {
      len = (size_t{e[1]} + 2) * 4;
    } else {
      len = (size_t{e[1]} + 1) * 8;
    }
    if (len > total - off) return l;
    next = e[0];
    off += len;
  }
  if (is_extension(next)) return l;
  l.l4 = off;
  l.protocol = next;
  l.has_l4 = true;
  return l;
}

bool is_icmp_error(const Layout& l, uint8_t type) {
  if (l.family == Family::V4 && l.protocol == kProtoIcmp)
    return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
  return l.family == Family::V6 && l.protocol == kProtoIcmp6 && type < 128;  // RFC 4443 2.1
}

// Rewrites the address at `a` when a rule matches; the covered words that
// changed go into `delta`.
bool map_address(const std::vector<PrefixTranslation::Rule>& rules, Family family, uint8_t* a, ChecksumDelta& delta) {
  const size_t n = family == Family::V4 ? 4 : 16;
  for (const auto& r : rules) {
    if (r.family != family) continue;
    bool hit = true;
    for (size_t i = 0; i < n && hit; ++i) hit = (a[i] & r.mask[i]) == r.from[i];
    if (!hit) continue;
    std::array<uint8_t, 16> old{};
    std::memcpy(old.data(), a, n);
    for (size_t i = 0; i < n; ++i) a[i] = static_cast<uint8_t>(r.to[i] | (a[i] & ~r.mask[i]));
    delta.replace(std::span<const uint8_t>(old.data(), n), std::span<const uint8_t>(a, n));
    return true;
  }
  return false;
}

// Translates `field` of one datagram, outer or quoted. Every covered word
// it changes (address, IPv4 header checksum, L4 checksum) is added to
// `changes`, which an enclosing ICMP error's checksum absorbs.
unsigned translate(std::span<uint8_t> p, Field field, const std::vector<PrefixTranslation::Rule>& rules,
                   size_t partial_at, bool quoted, ChecksumDelta& changes) {
  const auto l = read_layout(p, quoted);
  if (!l) return 0;
  uint8_t* h = p.data();
  const bool v4 = l->family == Family::V4;
  const size_t addr_at = v4 ? (field == Field::Src ? 12 : 16) : (field == Field::Src ? 8 : 24);
  ChecksumDelta addr;
  unsigned count = map_address(rules, l->family, h + addr_at, addr) ? 1 : 0;
  if (count != 0) {
    changes.add(addr);
    if (v4) {
      const uint16_t old = be16(h + 10);
      const uint16_t now = addr.apply_full(old);
      put_be16(h + 10, now);
      changes.replace(old, now);
    }
  }
  if (!l->has_l4) return count;

  size_t csum_at = l->l4;
  bool pseudo_header = true;
  switch (l->protocol) {
    case kProtoTcp: csum_at += 16; break;
    case kProtoUdp: csum_at += 6; break;
    case kProtoIcmp:
      if (!v4) return count;
      csum_at += 2;
      pseudo_header = false;
      break;
    case kProtoIcmp6:
      if (v4) return count;
      csum_at += 2;
      break;
    default: return count;
  }
  if (csum_at + 2 > l->end) return count;  // a quote cut before the field: left alone

  ChecksumDelta l4;
  if (pseudo_header && count != 0) l4.add(addr);
  if (!quoted && l->end - l->l4 >= kIcmpHeaderSize && is_icmp_error(*l, h[l->l4])) {
    const size_t q = l->l4 + kIcmpHeaderSize;
    count += translate(p.subspan(q, l->end - q), mirror(field), rules, kNoPartialChecksum, true, l4);
  }
  if (l4.empty()) return count;
  const bool partial = csum_at == partial_at;
  const uint16_t old = be16(h + csum_at);
  // UDP over IPv4 may go without a checksum (0); it stays without one.
  if (!partial && old == 0 && v4 && l->protocol == kProtoUdp) return count;
  uint16_t now = partial ? l4.apply_partial(old) : l4.apply_full(old);
  if (!partial && now == 0 && l->protocol == kProtoUdp) now = 0xffff;  // 0 would mean "none"
  put_be16(h + csum_at, now);
  changes.replace(old, now);
  return count;
}

PrefixTranslation::Rule make_rule(const Prefix& from, const Prefix& to) {
  PrefixTranslation::Rule r{from.addr.family, {}, {}, {}};
  for (unsigned bit = 0; bit < from.len; ++bit) r.mask[bit / 8] |= static_cast<uint8_t>(0x80 >> (bit % 8));
  for (size_t i = 0; i < r.mask.size(); ++i) {
    r.from[i] = from.addr.bytes[i] & r.mask[i];
    r.to[i] = to.addr.bytes[i] & r.mask[i];
  }
  return r;
}

}  // namespace

size_t partial_checksum_at(const VnetHeader& header) {
  if (!(header.flags & kVnetNeedsCsum)) return kNoPartialChecksum;
  return size_t{header.csum_start} + header.csum_offset;
}

PrefixTranslation::PrefixTranslation(const std::vector<PrefixMapping>& mappings) {
  for (const auto& m : mappings) {
    if (!m.translated()) continue;
    out_.push_back(make_rule(m.inside, m.outside));
    in_.push_back(make_rule(m.outside, m.inside));
  }
}

unsigned PrefixTranslation::outbound(std::span<uint8_t> packet, size_t partial_at) const {
  ChecksumDelta unused;
  return translate(packet, Field::Src, out_, partial_at, false, unused);
}

unsigned PrefixTranslation::inbound(std::span<uint8_t> packet, size_t partial_at) const {
  ChecksumDelta unused;
  return translate(packet, Field::Dst, in_, partial_at, false, unused);
}

}  // namespace dialout
