#include "tund/proxy_client.hpp"

#include <algorithm>
#include <cerrno>

#include "netlib/ip_packet.hpp"
#include "netlib/vnet_header.hpp"

namespace dialout {

ProxyClient::ProxyClient(Tun& tun, std::vector<Prefix> served, unsigned mtu, SiteCounterSet& counters,
                         const PrefixTranslation* translation)
    : tun_(tun),
      served_(std::move(served)),
      mtu_(mtu),
      counters_(counters),
      scratch_(2 * (kVnetHeaderSize + kMaxIpPacket)),
      translation_(translation),
      translated_(translation != nullptr ? kVnetHeaderSize + kMaxIpPacket : 0) {}

DataView ProxyClient::translate(const DataView& data, const VnetHeader& vnet) {
  // Room for a header whenever the TUN device wants one: a frame without it
  // then gets a zero header here, and is written without another copy.
  const size_t head = data.vnet.empty() && !tun_.vnet_hdr() ? 0 : kVnetHeaderSize;
  if (data.vnet.empty()) {
    std::fill_n(translated_.begin(), head, 0);
  } else {
    std::copy(data.vnet.begin(), data.vnet.end(), translated_.begin());
  }
  std::copy(data.packet.begin(), data.packet.end(), translated_.begin() + static_cast<std::ptrdiff_t>(head));
  auto packet = std::span(translated_).subspan(head, data.packet.size());
  // Counted once per datagram (a superpacket too), only when an address was
  // actually rewritten.
  if (translation_->inbound(packet, data.vnet.empty() ? kNoPartialChecksum : partial_checksum_at(vnet)) != 0)
    counters_.add(SiteCounter::TranslatedIn);
  return DataView{data.header, std::span<const uint8_t>(translated_).first(head), packet};
}

bool ProxyClient::serves(const IpAddr& dst) const {
  return std::any_of(served_.begin(), served_.end(), [&](const Prefix& p) { return p.contains(dst); });
}

Expected<void, const char*> ProxyClient::write(std::span<const uint8_t> bytes) {
  auto ok = tun_.write(bytes);
  if (!ok) return unexpected(ok.error() == EAGAIN ? "TUN device queue full" : "TUN write failed");
  return {};
}

Expected<void, const char*> ProxyClient::deliver(const DataView& frame) {
  auto fail = [&](const char* why) -> Expected<void, const char*> {
    counters_.add(SiteCounter::DropInvalid);
    return unexpected(why);
  };
  auto info = parse_ip_packet(frame.packet);
  if (!info) return fail(to_string(info.error()));  // source-routed datagrams included
  if (info->total_len != frame.packet.size()) return fail("IP total length differs from the datagram");
  if (!serves(info->dst)) return fail("destination is not on this site's networks");

  // Checked for either kind of TUN: without offloads segment() completes the
  // checksum where the header says, with them the kernel does.
  VnetHeader vnet;
  if (!frame.vnet.empty()) {
    auto h = VnetHeader::decode(frame.vnet);
    if (!h) return fail("unreadable offload header");
    if (auto layout = h->validate(frame.packet); !layout) return fail(to_string(layout.error()));
    vnet = *h;
  }
  // Checked as the intermediary routed it (the outside address); written as
  // the LAN numbers it.
  if (translation_ != nullptr && frame.packet.size() > kMaxIpPacket) return fail("datagram too large");
  const DataView data = translation_ != nullptr ? translate(frame, vnet) : frame;

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
