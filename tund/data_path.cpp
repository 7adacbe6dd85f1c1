#include "tund/data_path.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "netlib/vnet_header.hpp"

namespace dialout {
namespace {

// Datagrams read from the TUN device per wakeup before others get a turn.
constexpr int kTunBatch = 256;

}  // namespace

DataPath::DataPath(Tun& tun, std::vector<Prefix> served, const SiteConfig& config, Logger& log)
    : tun_(tun),
      config_(config),
      log_(log),
      drop_log_(log, 5, std::chrono::seconds(10)),
      router_(config.router_role, tun.vnet_hdr()),
      translation_(config.translations),
      proxy_(tun, std::move(served), config.mtu, counters_, translation_.empty() ? nullptr : &translation_),
      rx_(kVnetHeaderSize + kMaxIpPacket) {}

void DataPath::set_uplinks(std::vector<Uplink*> uplinks) {
  uplinks_ = std::move(uplinks);
  dirty_.clear();
  dirty_.reserve(uplinks_.size());
}

void DataPath::on_data(const DataView& data) {
  if (!config_.proxy_role) {
    counters_.add(SiteCounter::DropInvalid);
    return;
  }
  if (auto ok = proxy_.deliver(data); !ok)
    drop_log_.warn(ok.error(), RateLimitedLog::Clock::now(), "dropped datagram from site {}: {}", data.header.src,
                   ok.error());
}

void DataPath::on_tun_readable() {
  for (int i = 0; i < kTunBatch; ++i) {
    auto n = tun_.read(rx_);
    if (!n) {
      if (n.error() != EAGAIN && n.error() != EINTR) log_.warn("TUN read: {}", std::strerror(n.error()));
      break;
    }
    route_datagram(std::span(rx_).first(*n));
  }
  flush_dirty();
}

void DataPath::translate_outbound(std::span<uint8_t> whole) {
  // In place, before the router looks: the read buffer is ours. A NEEDS_CSUM
  // superpacket's L4 field holds a partial sum, updated as such.
  // Counted once per datagram (a superpacket too), only when an address was
  // actually rewritten: traffic outside the mapped range passes uncounted.
  unsigned rewritten = 0;
  if (!tun_.vnet_hdr()) {
    rewritten = translation_.outbound(whole);
  } else if (whole.size() >= kVnetHeaderSize) {  // shorter: the router drops it
    rewritten = translation_.outbound(whole.subspan(kVnetHeaderSize), partial_checksum_at(*VnetHeader::decode(whole)));
  }
  if (rewritten != 0) counters_.add(SiteCounter::TranslatedOut);
}

void DataPath::route_datagram(std::span<uint8_t> whole) {
  if (!translation_.empty()) translate_outbound(whole);
  const RouteAction a = router_.route(whole);
  switch (a.kind) {
    case RouteAction::Kind::DropInvalid:
      counters_.add(SiteCounter::DropInvalid);
      if (a.why != nullptr)
        drop_log_.warn(a.why, RateLimitedLog::Clock::now(), "dropped datagram from the TUN device: {}", a.why);
      return;
    case RouteAction::Kind::DropNoRoute: counters_.add(SiteCounter::DropNoRoute); return;
    case RouteAction::Kind::Send:
    case RouteAction::Kind::FinishHere: break;
  }
  Uplink* up = pick_uplink(a.flow);
  if (up == nullptr) {
    counters_.add(SiteCounter::DropDisconnected);
    return;
  }
  if (a.kind == RouteAction::Kind::FinishHere) return send_finished_here(*up, a.dst, a.header, a.packet);
  send(*up, a.dst, a.lane, a.flags, whole);
}

void DataPath::send_finished_here(Uplink& up, SiteId dst, const VnetHeader& header, std::span<uint8_t> packet) {
  auto refuse = [&](VnetError e) {
    counters_.add(SiteCounter::DropInvalid);
    drop_log_.warn(to_string(e), RateLimitedLog::Clock::now(), "dropped datagram from the TUN device: {}",
                   to_string(e));
  };
  if (!header.gso()) {
    // E.g. a tunnel packet whose inner checksum is left to "the hardware":
    // the position is in range (checked), so finish it in place.
    if (auto done = complete_checksum(header, packet); !done) return refuse(done.error());
    auto lane = lane_for_datagram(packet.size());
    send(up, dst, lane, 0, packet);
    return;
  }
  auto plan = plan_segments(header, packet, config_.mtu, VnetOrigin::OwnKernel);
  if (!plan) return refuse(plan.error());
  // All pieces on the lane of the whole, so they stay in order. Each is
  // written straight into the send queue: no copy, no allocation.
  for (size_t i = 0; i < plan->segments; ++i) {
    const size_t bytes = plan->segment_bytes(i);
    const size_t frame_size = kDataFrameOverhead + bytes;
    auto room = up.queue().reserve(SendQueue::Lane::Bulk, frame_size);
    write_data_headers(room.first<kDataFrameOverhead>(), DataHeader{dst, 0, 0}, bytes);
    write_segment(header, *plan, packet, i, room.subspan(kDataFrameOverhead));
    commit(up, SendQueue::Lane::Bulk, frame_size, bytes);
  }
}

void DataPath::send(Uplink& up, SiteId dst, SendQueue::Lane lane, uint8_t flags, std::span<const uint8_t> body) {
  const size_t frame_size = kDataFrameOverhead + body.size();
  auto room = up.queue().reserve(lane, frame_size);
  write_data_headers(room.first<kDataFrameOverhead>(), DataHeader{dst, 0, flags}, body.size());
  std::memcpy(room.data() + kDataFrameOverhead, body.data(), body.size());
  commit(up, lane, frame_size, (flags & kDataVnet) ? body.size() - kVnetHeaderSize : body.size());
}

void DataPath::commit(Uplink& up, SendQueue::Lane lane, size_t frame_size, size_t packet_bytes) {
  auto pushed = up.queue().commit(lane, frame_size);
  if (!pushed.ok) {
    counters_.add(SiteCounter::DropQueueFull);
    return;
  }
  if (pushed.dropped != 0) counters_.add(SiteCounter::DropQueueFull, pushed.dropped);
  counters_.add(SiteCounter::TxPackets);
  counters_.add(SiteCounter::TxBytes, packet_bytes);
  if (std::find(dirty_.begin(), dirty_.end(), &up) == dirty_.end()) dirty_.push_back(&up);
}

Uplink* DataPath::pick_uplink(uint32_t flow_hash) {
  // A flow stays on one connection (so it stays in order) while that
  // connection is up; when it is down, the next ready one takes over.
  size_t n = uplinks_.size();
  for (size_t i = 0; i < n; ++i) {
    Uplink* u = uplinks_[(flow_hash + i) % n];
    if (u->ready()) return u;
  }
  return nullptr;
}

void DataPath::flush_dirty() {
  // Swapped, not moved: both lists keep their capacity (no allocation per batch).
  flushing_.swap(dirty_);
  dirty_.clear();
  for (Uplink* u : flushing_)
    if (u->ready()) u->flush();
  flushing_.clear();
}

}  // namespace dialout
