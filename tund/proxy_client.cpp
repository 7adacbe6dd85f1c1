#include "tund/proxy_client.hpp"

#include <algorithm>
#include <cerrno>

#include "netlib/ip_packet.hpp"
#include "netlib/vnet_header.hpp"

namespace dialout {

ProxyClient::ProxyClient(Tun& tun, std::vector<Prefix> served, unsigned mtu, SiteCounterSet& counters)
    : tun_(tun), served_(std::move(served)), mtu_(mtu), counters_(counters), scratch_(2 * (kVnetHeaderSize + kMaxIpPacket)) {}

bool ProxyClient::serves(const IpAddr& dst) const {
  return std::any_of(served_.begin(), served_.end(), [&](const Prefix& p) { return p.contains(dst); });
}

Expected<void, const char*> ProxyClient::write(std::span<const uint8_t> bytes) {
  auto ok = tun_.write(bytes);
  if (!ok) return unexpected(ok.error() == EAGAIN ? "TUN device queue full" : "TUN write failed");
  return {};
}

Expected<void, const char*> ProxyClient::deliver(const DataView& data) {
  auto fail = [&](const char* why) -> Expected<void, const char*> {
    counters_.add(SiteCounter::DropInvalid);
    return unexpected(why);
  };
  auto info = parse_ip_packet(data.packet);
  if (!info) return fail(to_string(info.error()));  // source-routed datagrams included
  if (info->total_len != data.packet.size()) return fail("IP total length differs from the datagram");
  if (!serves(info->dst)) return fail("destination is not on this site's networks");

  // Checked for either kind of TUN: without offloads segment() completes the
  // checksum where the header says, with them the kernel does.
  VnetHeader vnet;
  if (!data.vnet.empty()) {
    auto h = VnetHeader::decode(data.vnet);
    if (!h) return fail("unreadable offload header");
    if (auto layout = h->validate(data.packet); !layout) return fail(to_string(layout.error()));
    vnet = *h;
  }

  Expected<void, const char*> written;
  if (tun_.vnet_hdr()) {
    if (!data.vnet.empty()) {
      // decode_data guarantees the header sits right before the packet.
      written = write(std::span(data.vnet.data(), kVnetHeaderSize + data.packet.size()));
    } else {
      std::fill_n(scratch_.begin(), kVnetHeaderSize, 0);
      std::copy(data.packet.begin(), data.packet.end(), scratch_.begin() + kVnetHeaderSize);
      written = write(std::span(scratch_).first(kVnetHeaderSize + data.packet.size()));
    }
  } else if (vnet.gso() || (vnet.flags & kVnetNeedsCsum)) {
    // This TUN takes only ordinary packets: cut the superpacket here.
    auto n = segment(vnet, data.packet, mtu_, scratch_, segments_);
    if (!n) return fail(to_string(n.error()));
    for (size_t i = 0; i < *n && written; ++i) written = write(segments_[i]);
  } else {
    written = write(data.packet);
  }
  if (!written) return fail(written.error());
  counters_.add(SiteCounter::RxPackets);
  counters_.add(SiteCounter::RxBytes, data.packet.size());
  return {};
}

}  // namespace dialout
