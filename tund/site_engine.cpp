#include "tund/site_engine.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include "netlib/ip_packet.hpp"
#include "netlib/status_file.hpp"

namespace dialout {
namespace {

// Same rule as the intermediary: small datagrams take the urgent lane.
constexpr size_t kSmallDatagram = 256;
// Datagrams read from the TUN device per wakeup before others get a turn.
constexpr int kTunBatch = 256;

unsigned uplink_count(const SiteConfig& c) {
  if (c.connections != 0) return c.connections;
  return std::clamp(std::thread::hardware_concurrency(), 1u, 4u);
}

std::vector<Prefix> served_prefixes(const SiteConfig& c) {
  std::vector<Prefix> served = c.advertise;
  for (const auto& a : c.tun_addresses)
    served.push_back(*Prefix::make(a.addr, a.addr.max_prefix_len()));  // the address itself
  return served;
}

std::vector<RouteTable::Static> statics_of(const SiteConfig& c) {
  std::vector<RouteTable::Static> out;
  for (const auto& r : c.static_routes) out.emplace_back(r.prefix, r.name);
  return out;
}

}  // namespace

SiteEngine::SiteEngine(EventLoop& loop, TlsContext& tls, Tun& tun, RouteInstaller& routes, HostNetwork& host,
                       const SiteConfig& config, Logger& log)
    : SiteEngine(loop, tls, tun, routes, nullptr, &host, config, log) {}

SiteEngine::SiteEngine(EventLoop& loop, TlsContext& tls, Tun& tun, RouteInstaller& routes, const SiteConfig& config,
                       Logger& log)
    : SiteEngine(loop, tls, tun, routes, std::make_unique<MemoryHostNetwork>(), nullptr, config, log) {}

SiteEngine::SiteEngine(EventLoop& loop, TlsContext& tls, Tun& tun, RouteInstaller& routes,
                       std::unique_ptr<HostNetwork> owned, HostNetwork* host, const SiteConfig& config, Logger& log)
    : loop_(loop),
      tls_(tls),
      tun_(tun),
      installer_(routes),
      own_host_(std::move(owned)),
      host_(host != nullptr ? host : own_host_.get()),
      config_(config),
      log_(log),
      drop_log_(log, 5, std::chrono::seconds(10)),
      routes_(statics_of(config), config.advertise),
      configured_served_(served_prefixes(config)),
      proxy_(tun, configured_served_, config.mtu),
      rx_(kVnetHeaderSize + kMaxIpPacket) {
  uplink_settings_.intermediary = config.intermediary;
  uplink_settings_.server_name = config.server_name;
  uplink_settings_.registration =
      Register{config.name, uint8_t(config.request_address ? kRegisterWantAddress : 0),
               config.proxy_role ? config.advertise : std::vector<Prefix>{}};
  uplink_settings_.keepalive = config.keepalive;
  uplink_settings_.dead_after = config.dead_after;
  uplink_settings_.reconnect_min = config.reconnect_min;
  uplink_settings_.reconnect_max = config.reconnect_max;
}

SiteEngine::~SiteEngine() { stop(); }

void SiteEngine::start() {
  sync_kernel_routes();  // static routes go in before any connection exists
  unsigned n = uplink_count(config_);
  uint64_t seed = uint64_t(loop_.now().time_since_epoch().count()) ^ (uint64_t(::getpid()) << 32);
  for (unsigned i = 0; i < n; ++i)
    uplinks_.push_back(std::make_unique<Uplink>(i, loop_, tls_, uplink_settings_, *this, log_, seed + i));
  for (auto& up : uplinks_) up->start();
  loop_.add(tun_.fd(), EPOLLIN, [this](uint32_t) { on_tun_readable(); });
  watch_path();
  arm_status_timer();
  log_.info("site '{}': {} connection(s) to {}", config_.name, n, config_.intermediary.to_string());
}

void SiteEngine::stop() {
  if (status_timer_ != 0) loop_.cancel_timer(std::exchange(status_timer_, 0));
  if (roam_timer_ != 0) loop_.cancel_timer(std::exchange(roam_timer_, 0));
  for (auto& up : uplinks_) up->stop();
  uplinks_.clear();
  dirty_.clear();
  if (loop_.contains(tun_.fd())) loop_.remove(tun_.fd());
  if (host_->change_fd() >= 0 && loop_.contains(host_->change_fd())) loop_.remove(host_->change_fd());
  withdraw_host_state();
  for (const auto& p : installed_)
    if (auto ok = installer_.remove(p); !ok) log_.warn("{}", ok.error());
  installed_.clear();
}

size_t SiteEngine::ready_uplinks() const {
  return size_t(std::count_if(uplinks_.begin(), uplinks_.end(), [](const auto& u) { return u->ready(); }));
}

void SiteEngine::on_accepted(Uplink&, const Accept& accept) {
  self_id_ = accept.id;
  if (config_.request_address) {
    if (accept.addresses.empty()) {
      log_.warn("the intermediary assigned no address although one was requested");
    } else {
      apply_assigned(accept.addresses);
    }
  }
  if (!registered_once_) {
    registered_once_ = true;
    if (on_first_registration_) on_first_registration_();
  }
}

void SiteEngine::on_routes(Uplink& up, const Routes& routes) {
  // Every uplink receives the same snapshot; one is enough to act on, but
  // any may be the only one alive, so each applies it (idempotent).
  Routes others;  // our own entry (a laptop's address) is not a route into the tunnel
  for (const auto& e : routes.entries)
    if (e.id != self_id_) others.entries.push_back(e);
  routes_.apply(others);
  if (up.index() == 0 || ready_uplinks() == 1)
    log_.info("routes: {} site(s) reachable", routes.entries.size());
  sync_kernel_routes();
}

void SiteEngine::on_data(Uplink&, const DataView& data) {
  if (!config_.proxy_role) {
    ++counters_.drop_invalid;
    return;
  }
  if (auto ok = proxy_.deliver(data); !ok)
    drop_log_.warn(ok.error(), loop_.now(), "dropped datagram from site {}: {}", data.header.src, ok.error());
}

void SiteEngine::on_refused(Uplink&, const Refuse& refuse) {
  if (!is_permanent(refuse.reason)) return;  // the uplink retries with backoff
  log_.error("giving up: the intermediary refused '{}' ({}); fix the configuration or the policy", config_.name,
             refuse.text);
  exit_code_ = kExitRefused;
  for (auto& u : uplinks_) u->stop();
  loop_.stop();
}

void SiteEngine::on_down(Uplink&) {}

void SiteEngine::on_tun_readable() {
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

void SiteEngine::route_datagram(std::span<const uint8_t> whole) {
  const bool vnet = tun_.vnet_hdr();
  if (vnet && whole.size() < kVnetHeaderSize) {
    ++counters_.drop_invalid;
    return;
  }
  auto packet = vnet ? whole.subspan(kVnetHeaderSize) : whole;
  auto info = parse_ip_packet(packet);
  if (!info || !config_.router_role) {
    ++counters_.drop_invalid;
    return;
  }
  auto dst = routes_.lookup(info->dst);
  if (!dst) {
    ++counters_.drop_no_route;
    return;
  }
  Uplink* up = pick_uplink(flow_hash(*info));
  if (up == nullptr) {
    ++counters_.drop_disconnected;
    return;
  }
  auto lane = packet.size() <= kSmallDatagram ? SendQueue::Lane::Urgent : SendQueue::Lane::Bulk;
  size_t frame_size = kDataFrameOverhead + whole.size();
  auto room = up->queue().reserve(lane, frame_size);
  write_data_headers(room.first<kDataFrameOverhead>(), DataHeader{*dst, 0, uint8_t(vnet ? kDataVnet : 0)},
                     whole.size());
  std::memcpy(room.data() + kDataFrameOverhead, whole.data(), whole.size());
  auto pushed = up->queue().commit(lane, frame_size);
  if (!pushed.ok) {
    ++counters_.drop_queue_full;
    return;
  }
  counters_.drop_queue_full += pushed.dropped;
  ++counters_.tx_packets;
  counters_.tx_bytes += packet.size();
  if (std::find(dirty_.begin(), dirty_.end(), up) == dirty_.end()) dirty_.push_back(up);
}

Uplink* SiteEngine::pick_uplink(uint32_t flow_hash) {
  // A flow stays on one connection (so it stays in order) while that
  // connection is up; when it is down, the next ready one takes over.
  size_t n = uplinks_.size();
  for (size_t i = 0; i < n; ++i) {
    Uplink* u = uplinks_[(flow_hash + i) % n].get();
    if (u->ready()) return u;
  }
  return nullptr;
}

void SiteEngine::flush_dirty() {
  auto dirty = std::move(dirty_);
  dirty_.clear();
  for (Uplink* u : dirty)
    if (u->ready()) u->flush();
}

void SiteEngine::sync_kernel_routes() {
  // Proxy neighbours first: the LAN interface of a laptop's address is found
  // by a route lookup, which its host route into the TUN would answer.
  sync_proxy_neighbours(false);
  const auto& wanted = routes_.tunnel_prefixes();
  for (const auto& p : wanted) {
    if (installed_.count(p)) continue;
    if (auto ok = installer_.add(p); !ok) {
      log_.error("{}", ok.error());
      continue;
    }
    installed_.insert(p);
    log_.info("route {} into the tunnel", p.to_string());
  }
  // Only local prefixes (laptops inside our LAN) ever leave the wanted set.
  for (auto it = installed_.begin(); it != installed_.end();) {
    if (wanted.count(*it)) {
      ++it;
      continue;
    }
    if (auto ok = installer_.remove(*it); !ok) log_.warn("{}", ok.error());
    log_.info("route {} out of the tunnel (back to the LAN)", it->to_string());
    it = installed_.erase(it);
  }
}

void SiteEngine::arm_status_timer() {
  status_timer_ = loop_.add_timer(std::chrono::seconds(1), [this] {
    sync_proxy_neighbours(true);  // retries a failed sync (forwarding switched on meanwhile)
    write_status();
    arm_status_timer();
  });
}

void SiteEngine::write_status() const {
  if (config_.status_file.empty()) return;
  uint64_t reconnects = 0;
  for (const auto& u : uplinks_) reconnects += u->reconnects();
  const auto& p = proxy_.counters();
  size_t ready = ready_uplinks();
  const std::pair<std::string_view, uint64_t> rows[] = {
      {"connected", ready},
      {"registered", ready > 0 ? 1u : 0u},
      {"tx_packets", counters_.tx_packets},
      {"rx_packets", p.rx_packets},
      {"tx_bytes", counters_.tx_bytes},
      {"rx_bytes", p.rx_bytes},
      {"drop_no_route", counters_.drop_no_route},
      {"drop_invalid", counters_.drop_invalid + p.drop_invalid},
      {"drop_queue_full", counters_.drop_queue_full},
      {"drop_disconnected", counters_.drop_disconnected},
      {"reconnects", reconnects},
      {"roams", roams_},
      {"addresses", assigned_.size()},
      {"proxy_neighbours", host_->proxy_neighbour_count()},
  };
  if (auto ok = StatusFile(config_.status_file).write(rows); !ok) log_.warn("status file: {}", ok.error());
}

}  // namespace dialout
