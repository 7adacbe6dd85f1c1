// The proxy-client role: a datagram that arrives from the intermediary is
// checked and repeated on the LAN by writing it to the TUN device, so the
// kernel forwards it on. Nothing is written that this site does not serve.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "netlib/expected.hpp"
#include "netlib/ip_address.hpp"
#include "netlib/wire.hpp"
#include "tund/tun.hpp"

namespace dialout {

class ProxyClient {
 public:
  struct Counters {
    uint64_t rx_packets = 0;
    uint64_t rx_bytes = 0;
    uint64_t drop_invalid = 0;
  };

  // `served`: the prefixes this site advertises and its own tunnel addresses.
  ProxyClient(Tun& tun, std::vector<Prefix> served, unsigned mtu);

  // Writes the datagram (segmenting it in software when the TUN device has no
  // offloads); the error says why it was dropped.
  Expected<void, const char*> deliver(const DataView& data);
  void set_served(std::vector<Prefix> served) { served_ = std::move(served); }
  const Counters& counters() const { return counters_; }

 private:
  bool serves(const IpAddr& dst) const;
  Expected<void, const char*> write(std::span<const uint8_t> bytes);

  Tun& tun_;
  std::vector<Prefix> served_;
  unsigned mtu_;
  Counters counters_;
  // Bounded, allocated once: software segmentation and header prepending.
  std::vector<uint8_t> scratch_;
  std::array<std::span<uint8_t>, 256> segments_{};
};

}  // namespace dialout
