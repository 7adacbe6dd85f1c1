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
#include "tund/prefix_translation.hpp"
#include "tund/site_counters.hpp"
#include "tund/tun.hpp"

namespace dialout {

class ProxyClient {
 public:
  // `served`: the prefixes this site advertises and its own tunnel addresses.
  // rx_packets, rx_bytes, drop_invalid and translated_in are added to
  // `counters` (the owning worker's set, shared with its router).
  // `translation`: when set (--advertise 'IN as OUT'), a checked datagram's
  // destination is translated outside → inside before it is written; it
  // must outlive this.
  ProxyClient(Tun& tun, std::vector<Prefix> served, unsigned mtu, SiteCounterSet& counters,
              const PrefixTranslation* translation = nullptr);

  // Writes the datagram (segmenting it in software when the TUN device has no
  // offloads); the error says why it was dropped.
  Expected<void, const char*> deliver(const DataView& data);
  void set_served(std::vector<Prefix> served) { served_ = std::move(served); }

 private:
  bool serves(const IpAddr& dst) const;
  Expected<void, const char*> write(std::span<const uint8_t> bytes);
  // The frame's bytes belong to the uplink and are read-only: the datagram
  // (behind its offload header, if any) is translated in translated_.
  DataView translate(const DataView& data, const VnetHeader& vnet);

  Tun& tun_;
  std::vector<Prefix> served_;
  unsigned mtu_;
  SiteCounterSet& counters_;
  // Bounded, allocated once: software segmentation and header prepending.
  std::vector<uint8_t> scratch_;
  std::array<std::span<uint8_t>, 256> segments_{};
  const PrefixTranslation* translation_;
  std::vector<uint8_t> translated_;  // allocated once, only with a translation
};

}  // namespace dialout
