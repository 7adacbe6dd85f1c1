// An incremental update of an Internet checksum (RFC 1071 one's-complement
// sum) after some 16-bit words of the data it covers changed, without
// reading the rest of the data: RFC 1624. Used by the prefix translation,
// which changes addresses in datagrams of up to 64 KB and must not sum
// them again.
//
// A checksum field holds one of two things:
// - the ordinary, complemented checksum: RFC 1624 eqn. 3,
//   HC' = ~(~HC + ~m + m'), as Linux's csum_replace4();
// - on a packet whose checksum the kernel or a peer is still to complete
//   (virtio-net NEEDS_CSUM, the kernel's CHECKSUM_PARTIAL), the
//   UNcomplemented pseudo-header sum: then HC' = HC + ~m + m', as Linux's
//   inet_proto_csum_replace4() does for CHECKSUM_PARTIAL.
//
// Pure and header-only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace dialout {

class ChecksumDelta {
 public:
  // One covered 16-bit word (at an even offset of the covered data) changed.
  void replace(uint16_t from, uint16_t to) {
    acc_ += static_cast<uint16_t>(~from);
    acc_ += to;
  }
  // Equal-length, even-length runs of covered words (an address).
  void replace(std::span<const uint8_t> from, std::span<const uint8_t> to) {
    for (size_t i = 0; i + 1 < from.size() && i + 1 < to.size(); i += 2)
      replace(static_cast<uint16_t>(from[i] << 8 | from[i + 1]), static_cast<uint16_t>(to[i] << 8 | to[i + 1]));
  }
  void add(const ChecksumDelta& other) { acc_ += other.acc_; }
  bool empty() const { return acc_ == 0; }

  // The new value of a field holding the ordinary (complemented) checksum.
  uint16_t apply_full(uint16_t field) const { return static_cast<uint16_t>(~fold(static_cast<uint16_t>(~field) + acc_)); }
  // The new value of a field holding the uncomplemented pseudo-header sum.
  uint16_t apply_partial(uint16_t field) const { return fold(field + acc_); }

 private:
  static uint16_t fold(uint64_t sum) {
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(sum);
  }
  // Sum of (~from + to) over the changed words; 64 bits so that no number
  // of changes in one datagram can overflow it.
  uint64_t acc_ = 0;
};

}  // namespace dialout
