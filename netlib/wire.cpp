#include "netlib/wire.hpp"

#include <algorithm>

#include "netlib/site_name.hpp"

namespace dialout {
namespace {

// Bounds-checked cursor over one payload; every read fails instead of
// running past the end, so decoders never index out of range.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> in) : in_(in) {}
  bool u8(uint8_t& v) {
    if (left() < 1) return false;
    v = in_[pos_++];
    return true;
  }
  bool u16(uint16_t& v) {
    if (left() < 2) return false;
    v = static_cast<uint16_t>(in_[pos_] << 8 | in_[pos_ + 1]);
    pos_ += 2;
    return true;
  }
  bool u32(uint32_t& v) {
    if (left() < 4) return false;
    v = uint32_t{in_[pos_]} << 24 | uint32_t{in_[pos_ + 1]} << 16 | uint32_t{in_[pos_ + 2]} << 8 | in_[pos_ + 3];
    pos_ += 4;
    return true;
  }
  bool u64(uint64_t& v) {
    uint32_t hi = 0, lo = 0;
    if (left() < 8) return false;
    u32(hi);
    u32(lo);
    v = uint64_t{hi} << 32 | lo;
    return true;
  }
  bool bytes(size_t n, std::span<const uint8_t>& out) {
    if (left() < n) return false;
    out = in_.subspan(pos_, n);
    pos_ += n;
    return true;
  }
  size_t left() const { return in_.size() - pos_; }

 private:
  std::span<const uint8_t> in_;
  size_t pos_ = 0;
};

class Writer {
 public:
  Writer(std::vector<uint8_t>& out, MsgType type) : out_(out), start_(out.size()) {
    out_.push_back(static_cast<uint8_t>(type));
    out_.insert(out_.end(), 3, 0);
  }
  void u8(uint8_t v) { out_.push_back(v); }
  void u16(uint16_t v) { out_.insert(out_.end(), {uint8_t(v >> 8), uint8_t(v)}); }
  void u32(uint32_t v) { out_.insert(out_.end(), {uint8_t(v >> 24), uint8_t(v >> 16), uint8_t(v >> 8), uint8_t(v)}); }
  void u64(uint64_t v) {
    u32(static_cast<uint32_t>(v >> 32));
    u32(static_cast<uint32_t>(v));
  }
  void bytes(std::span<const uint8_t> b) { out_.insert(out_.end(), b.begin(), b.end()); }
  // Fills in the length, or rolls the frame back if it is too large.
  Expected<void, WireError> finish(size_t max_payload) {
    size_t len = out_.size() - start_ - kFrameHeaderSize;
    if (len > max_payload) {
      out_.resize(start_);
      return unexpected(WireError::Oversized);
    }
    out_[start_ + 1] = uint8_t(len >> 16);
    out_[start_ + 2] = uint8_t(len >> 8);
    out_[start_ + 3] = uint8_t(len);
    return {};
  }
  void abandon() { out_.resize(start_); }

 private:
  std::vector<uint8_t>& out_;
  size_t start_;
};

bool known_type(uint8_t t) { return t >= uint8_t(MsgType::Hello) && t <= uint8_t(MsgType::DnsConfig); }

bool read_name(Reader& r, std::string& name) {
  uint8_t len = 0;
  std::span<const uint8_t> b;
  if (!r.u8(len) || !r.bytes(len, b)) return false;
  name.assign(b.begin(), b.end());
  return true;
}

Expected<Prefix, WireError> read_prefix(Reader& r) {
  uint8_t family = 0, len = 0;
  if (!r.u8(family) || !r.u8(len)) return unexpected(WireError::BadLength);
  std::span<const uint8_t> b;
  IpAddr addr;
  if (family == 4) {
    if (!r.bytes(4, b)) return unexpected(WireError::BadLength);
    addr = IpAddr::v4(b.first<4>());
  } else if (family == 6) {
    if (!r.bytes(16, b)) return unexpected(WireError::BadLength);
    addr = IpAddr::v6(b.first<16>());
  } else {
    return unexpected(WireError::BadPrefix);
  }
  auto p = Prefix::make(addr, len);
  if (!p || p->addr != addr) return unexpected(WireError::BadPrefix);
  return *p;
}

Expected<void, WireError> read_prefixes(Reader& r, size_t max, std::vector<Prefix>& out) {
  uint8_t count = 0;
  if (!r.u8(count)) return unexpected(WireError::BadLength);
  if (count > max) return unexpected(WireError::TooManyEntries);
  out.reserve(count);
  for (unsigned i = 0; i < count; ++i) {
    auto p = read_prefix(r);
    if (!p) return unexpected(p.error());
    out.push_back(*p);
  }
  return {};
}

void write_prefix(Writer& w, const Prefix& p) {
  w.u8(static_cast<uint8_t>(p.addr.family));
  w.u8(p.len);
  w.bytes(std::span(p.addr.bytes).first(p.addr.size()));
}

bool valid_prefix(const Prefix& p) { return Prefix::make(p.addr, p.len) == p; }

Expected<void, WireError> write_prefixes(Writer& w, const std::vector<Prefix>& ps, size_t max) {
  if (ps.size() > max) return unexpected(WireError::TooManyEntries);
  if (!std::all_of(ps.begin(), ps.end(), valid_prefix)) return unexpected(WireError::BadPrefix);
  w.u8(static_cast<uint8_t>(ps.size()));
  for (const auto& p : ps) write_prefix(w, p);
  return {};
}

template <class T>
Expected<T, WireError> done(Reader& r, T value) {
  if (r.left() != 0) return unexpected(WireError::BadLength);
  return value;
}

}  // namespace

const char* to_string(RefuseReason r) {
  switch (r) {
    case RefuseReason::BadVersion: return "unsupported protocol version";
    case RefuseReason::NameNotAllowed: return "name not allowed for this identity";
    case RefuseReason::PrefixNotAllowed: return "prefix not allowed for this identity";
    case RefuseReason::NameTaken: return "name registered by another identity";
    case RefuseReason::PrefixTaken: return "prefix registered by another site";
    case RefuseReason::Malformed: return "malformed message";
    case RefuseReason::TooManySessions: return "too many sessions for this identity";
    case RefuseReason::PoolExhausted: return "address pool exhausted";
    case RefuseReason::OutOfOrder: return "message out of order";
    case RefuseReason::Internal: return "internal error";
    case RefuseReason::PrefixOverlaps: return "prefix overlaps another identity's prefix";
    case RefuseReason::TooManyAddresses: return "too many pool addresses for this identity";
    case RefuseReason::Closed: return "closed by the intermediary's operator";
  }
  return "unknown reason";
}

RefusalKind refusal_kind(RefuseReason r) {
  switch (r) {
    case RefuseReason::BadVersion: return RefusalKind::Fatal;
    case RefuseReason::NameNotAllowed:
    case RefuseReason::PrefixNotAllowed:
    case RefuseReason::NameTaken:
    case RefuseReason::PrefixTaken: return RefusalKind::NeedsChange;
    default: return RefusalKind::Temporary;
  }
}

const char* remedy(RefuseReason r) {
  switch (r) {
    case RefuseReason::NameNotAllowed:
      return "the intermediary's policy does not let this certificate register this name: change this site's "
             "`name`, or the policy's `register` for its identity";
    case RefuseReason::PrefixNotAllowed:
      return "the intermediary's policy does not let this certificate advertise that prefix: change this site's "
             "`advertise`, or the policy's `advertise` for its identity";
    case RefuseReason::NameTaken:
      return "another identity holds this name: give this site another `name`, or stop the other site";
    case RefuseReason::PrefixTaken:
      return "another site has registered that prefix: if both LANs really use the same range, advertise this "
             "one under another prefix (`advertise = LAN as PREFIX`)";
    case RefuseReason::BadVersion: return "upgrade tund or the intermediary so both speak one protocol version";
    default: return "none needed: it clears by itself";
  }
}

const char* to_string(WireError e) {
  switch (e) {
    case WireError::UnknownType: return "unknown frame type";
    case WireError::Oversized: return "frame larger than allowed";
    case WireError::BadLength: return "payload length does not match its contents";
    case WireError::BadName: return "invalid site name";
    case WireError::BadPrefix: return "invalid prefix";
    case WireError::BadReserved: return "reserved field not zero";
    case WireError::TooManyEntries: return "too many entries";
    case WireError::ZeroId: return "site id zero";
    case WireError::BadDns: return "invalid DNS server or domain";
  }
  return "unknown wire error";
}

Expected<std::optional<FrameView>, WireError> next_frame(std::span<const uint8_t> buffered) {
  if (buffered.size() < kFrameHeaderSize) return std::optional<FrameView>{};
  uint8_t type = buffered[0];
  if (!known_type(type)) return unexpected(WireError::UnknownType);
  size_t len = size_t{buffered[1]} << 16 | size_t{buffered[2]} << 8 | buffered[3];
  size_t max = type == uint8_t(MsgType::Data) ? kMaxPayload : kMaxControlPayload;
  if (len > max) return unexpected(WireError::Oversized);
  if (buffered.size() < kFrameHeaderSize + len) return std::optional<FrameView>{};
  return std::optional<FrameView>{FrameView{MsgType(type), buffered.subspan(kFrameHeaderSize, len)}};
}

Expected<Hello, WireError> decode_hello(std::span<const uint8_t> payload) {
  Reader r(payload);
  Hello h;
  uint16_t reserved = 0;
  if (!r.u16(h.version) || !r.u16(reserved) || !r.u32(h.capabilities)) return unexpected(WireError::BadLength);
  if (reserved != 0) return unexpected(WireError::BadReserved);
  return done(r, h);
}

Expected<Register, WireError> decode_register(std::span<const uint8_t> payload) {
  Reader r(payload);
  Register m;
  if (!read_name(r, m.name)) return unexpected(WireError::BadLength);
  if (!valid_site_name(m.name)) return unexpected(WireError::BadName);
  if (!r.u8(m.flags)) return unexpected(WireError::BadLength);
  if (m.flags & ~kRegisterFlags) return unexpected(WireError::BadReserved);
  if (auto ok = read_prefixes(r, kMaxPrefixes, m.prefixes); !ok) return unexpected(ok.error());
  return done(r, std::move(m));
}

Expected<Accept, WireError> decode_accept(std::span<const uint8_t> payload) {
  Reader r(payload);
  Accept m;
  if (!r.u32(m.id)) return unexpected(WireError::BadLength);
  if (m.id == 0) return unexpected(WireError::ZeroId);
  if (auto ok = read_prefixes(r, 2, m.addresses); !ok) return unexpected(ok.error());
  return done(r, std::move(m));
}

Expected<Refuse, WireError> decode_refuse(std::span<const uint8_t> payload) {
  Reader r(payload);
  Refuse m;
  uint16_t reason = 0;
  if (!r.u16(reason) || !read_name(r, m.text)) return unexpected(WireError::BadLength);
  m.reason = RefuseReason(reason);  // unknown reasons are kept: newer peers may add some
  return done(r, std::move(m));
}

namespace {
// ROUTES and ROUTE_UPDATE entries: u16 count | entries.
Expected<void, WireError> read_entries(Reader& r, std::vector<RouteEntry>& out) {
  uint16_t count = 0;
  if (!r.u16(count)) return unexpected(WireError::BadLength);
  // Each entry takes at least 7 bytes: refuse counts the payload cannot hold before reserving.
  if (size_t{count} * 7 > r.left()) return unexpected(WireError::BadLength);
  out.reserve(count);
  for (unsigned i = 0; i < count; ++i) {
    RouteEntry e;
    if (!r.u32(e.id) || !read_name(r, e.name)) return unexpected(WireError::BadLength);
    if (e.id == 0) return unexpected(WireError::ZeroId);
    if (!valid_site_name(e.name)) return unexpected(WireError::BadName);
    if (auto ok = read_prefixes(r, kMaxPrefixes, e.prefixes); !ok) return unexpected(ok.error());
    out.push_back(std::move(e));
  }
  return {};
}

Expected<void, WireError> write_entries(Writer& w, const std::vector<RouteEntry>& entries) {
  if (entries.size() > 0xffff) return unexpected(WireError::TooManyEntries);
  w.u16(static_cast<uint16_t>(entries.size()));
  for (const auto& e : entries) {
    if (e.id == 0) return unexpected(WireError::ZeroId);
    if (!valid_site_name(e.name)) return unexpected(WireError::BadName);
    w.u32(e.id);
    w.u8(static_cast<uint8_t>(e.name.size()));
    w.bytes(std::span(reinterpret_cast<const uint8_t*>(e.name.data()), e.name.size()));
    if (auto ok = write_prefixes(w, e.prefixes, kMaxPrefixes); !ok) return ok;
  }
  return {};
}
}  // namespace

Expected<Routes, WireError> decode_routes(std::span<const uint8_t> payload) {
  Reader r(payload);
  Routes m;
  if (auto ok = read_entries(r, m.entries); !ok) return unexpected(ok.error());
  return done(r, std::move(m));
}

Expected<RouteUpdate, WireError> decode_route_update(std::span<const uint8_t> payload) {
  Reader r(payload);
  RouteUpdate m;
  uint8_t kind = 0, reserved = 0;
  if (!r.u32(m.seq) || !r.u8(kind) || !r.u8(reserved) || !r.u16(m.part) || !r.u16(m.parts))
    return unexpected(WireError::BadLength);
  if (reserved != 0) return unexpected(WireError::BadReserved);
  if (kind != uint8_t(RouteUpdateKind::Snapshot) && kind != uint8_t(RouteUpdateKind::Delta))
    return unexpected(WireError::BadReserved);
  m.kind = RouteUpdateKind{kind};
  if (m.parts == 0 || m.parts > kMaxUpdateParts || m.part >= m.parts) return unexpected(WireError::TooManyEntries);
  if (auto ok = read_entries(r, m.entries); !ok) return unexpected(ok.error());
  uint16_t removed = 0;
  if (!r.u16(removed)) return unexpected(WireError::BadLength);
  if (m.kind == RouteUpdateKind::Snapshot && removed != 0) return unexpected(WireError::BadReserved);
  if (size_t{removed} * 4 != r.left()) return unexpected(WireError::BadLength);
  m.removed.resize(removed);
  for (auto& id : m.removed) {
    r.u32(id);
    if (id == 0) return unexpected(WireError::ZeroId);
  }
  return done(r, std::move(m));
}

Expected<RouteResync, WireError> decode_route_resync(std::span<const uint8_t> payload) {
  Reader r(payload);
  RouteResync m;
  if (!r.u32(m.have_seq)) return unexpected(WireError::BadLength);
  return done(r, m);
}

Expected<DnsConfig, WireError> decode_dns_config(std::span<const uint8_t> payload) {
  Reader r(payload);
  DnsConfig m;
  uint8_t count = 0;
  if (!r.u8(count)) return unexpected(WireError::BadLength);
  if (count > kMaxDnsServers) return unexpected(WireError::TooManyEntries);
  for (unsigned i = 0; i < count; ++i) {
    uint8_t family = 0;
    std::span<const uint8_t> b;
    if (!r.u8(family)) return unexpected(WireError::BadLength);
    if (family == 4 && r.bytes(4, b)) {
      m.servers.push_back(IpAddr::v4(b.first<4>()));
    } else if (family == 6 && r.bytes(16, b)) {
      m.servers.push_back(IpAddr::v6(b.first<16>()));
    } else {
      return unexpected(family == 4 || family == 6 ? WireError::BadLength : WireError::BadDns);
    }
  }
  if (!r.u8(count)) return unexpected(WireError::BadLength);
  if (count > kMaxDnsDomains) return unexpected(WireError::TooManyEntries);
  for (unsigned i = 0; i < count; ++i) {
    std::string name;
    if (!read_name(r, name)) return unexpected(WireError::BadLength);
    m.domains.push_back(std::move(name));
  }
  if (r.left() != 0) return unexpected(WireError::BadLength);
  if (!valid_dns_config(m)) return unexpected(WireError::BadDns);
  return m;
}

Expected<Ping, WireError> decode_ping(std::span<const uint8_t> payload) {
  Reader r(payload);
  Ping m;
  if (!r.u64(m.token)) return unexpected(WireError::BadLength);
  return done(r, m);
}

Expected<Pong, WireError> decode_pong(std::span<const uint8_t> payload) {
  Reader r(payload);
  Pong m;
  if (!r.u64(m.token)) return unexpected(WireError::BadLength);
  return done(r, m);
}

Expected<PeerGone, WireError> decode_peer_gone(std::span<const uint8_t> payload) {
  Reader r(payload);
  PeerGone m;
  if (!r.u32(m.id)) return unexpected(WireError::BadLength);
  if (m.id == 0) return unexpected(WireError::ZeroId);
  return done(r, m);
}

Expected<Restarting, WireError> decode_restarting(std::span<const uint8_t> payload) {
  Reader r(payload);
  Restarting m;
  if (!r.u32(m.reconnect_after_ms)) return unexpected(WireError::BadLength);
  if (r.left() != 0) {
    if (!r.u32(m.window_ms)) return unexpected(WireError::BadLength);
    if (m.window_ms == 0) return unexpected(WireError::BadReserved);  // the 8-byte form has a window
  }
  return done(r, m);
}

Expected<DataView, WireError> decode_data(std::span<const uint8_t> payload) {
  Reader r(payload);
  DataView v;
  uint8_t reserved = 0;
  if (!r.u32(v.header.dst) || !r.u32(v.header.src) || !r.u8(v.header.flags) || !r.u8(reserved))
    return unexpected(WireError::BadLength);
  if (reserved != 0 || (v.header.flags & ~kDataVnet)) return unexpected(WireError::BadReserved);
  if ((v.header.flags & kDataVnet) && !r.bytes(kVnetHeaderSize, v.vnet)) return unexpected(WireError::BadLength);
  if (r.left() == 0 || r.left() > kMaxIpPacket) return unexpected(WireError::BadLength);
  r.bytes(r.left(), v.packet);
  return v;
}

Expected<void, WireError> encode(const Hello& m, std::vector<uint8_t>& out) {
  Writer w(out, MsgType::Hello);
  w.u16(m.version);
  w.u16(0);
  w.u32(m.capabilities);
  return w.finish(kMaxControlPayload);
}

Expected<void, WireError> encode(const Register& m, std::vector<uint8_t>& out) {
  if (!valid_site_name(m.name)) return unexpected(WireError::BadName);
  Writer w(out, MsgType::Register);
  w.u8(static_cast<uint8_t>(m.name.size()));
  w.bytes(std::span(reinterpret_cast<const uint8_t*>(m.name.data()), m.name.size()));
  w.u8(m.flags);
  if (auto ok = write_prefixes(w, m.prefixes, kMaxPrefixes); !ok) {
    w.abandon();
    return ok;
  }
  return w.finish(kMaxControlPayload);
}

Expected<void, WireError> encode(const Accept& m, std::vector<uint8_t>& out) {
  if (m.id == 0) return unexpected(WireError::ZeroId);
  Writer w(out, MsgType::Accept);
  w.u32(m.id);
  if (auto ok = write_prefixes(w, m.addresses, 2); !ok) {
    w.abandon();
    return ok;
  }
  return w.finish(kMaxControlPayload);
}

Expected<void, WireError> encode(const Refuse& m, std::vector<uint8_t>& out) {
  Writer w(out, MsgType::Refuse);
  w.u16(static_cast<uint16_t>(m.reason));
  size_t len = std::min<size_t>(m.text.size(), 255);  // the text is for logs; cut, never fail
  w.u8(static_cast<uint8_t>(len));
  w.bytes(std::span(reinterpret_cast<const uint8_t*>(m.text.data()), len));
  return w.finish(kMaxControlPayload);
}

Expected<void, WireError> encode(const Routes& m, std::vector<uint8_t>& out) {
  Writer w(out, MsgType::Routes);
  if (auto ok = write_entries(w, m.entries); !ok) {
    w.abandon();
    return ok;
  }
  return w.finish(kMaxControlPayload);
}

Expected<void, WireError> encode(const RouteUpdate& m, std::vector<uint8_t>& out) {
  if (m.parts == 0 || m.parts > kMaxUpdateParts || m.part >= m.parts) return unexpected(WireError::TooManyEntries);
  if (m.removed.size() > 0xffff) return unexpected(WireError::TooManyEntries);
  if (m.kind == RouteUpdateKind::Snapshot && !m.removed.empty()) return unexpected(WireError::BadReserved);
  if (std::find(m.removed.begin(), m.removed.end(), SiteId{0}) != m.removed.end()) return unexpected(WireError::ZeroId);
  Writer w(out, MsgType::RouteUpdate);
  w.u32(m.seq);
  w.u8(static_cast<uint8_t>(m.kind));
  w.u8(0);
  w.u16(m.part);
  w.u16(m.parts);
  if (auto ok = write_entries(w, m.entries); !ok) {
    w.abandon();
    return ok;
  }
  w.u16(static_cast<uint16_t>(m.removed.size()));
  for (SiteId id : m.removed) w.u32(id);
  return w.finish(kMaxControlPayload);
}

Expected<void, WireError> encode(const RouteResync& m, std::vector<uint8_t>& out) {
  Writer w(out, MsgType::RouteResync);
  w.u32(m.have_seq);
  return w.finish(kMaxControlPayload);
}

Expected<void, WireError> encode(const DnsConfig& m, std::vector<uint8_t>& out) {
  if (m.servers.size() > kMaxDnsServers || m.domains.size() > kMaxDnsDomains)
    return unexpected(WireError::TooManyEntries);
  if (!valid_dns_config(m)) return unexpected(WireError::BadDns);
  Writer w(out, MsgType::DnsConfig);
  w.u8(static_cast<uint8_t>(m.servers.size()));
  for (const auto& a : m.servers) {
    w.u8(static_cast<uint8_t>(a.family));
    w.bytes(std::span(a.bytes).first(a.size()));
  }
  w.u8(static_cast<uint8_t>(m.domains.size()));
  for (const auto& d : m.domains) {
    w.u8(static_cast<uint8_t>(d.size()));
    w.bytes(std::span(reinterpret_cast<const uint8_t*>(d.data()), d.size()));
  }
  return w.finish(kMaxControlPayload);
}

Expected<void, WireError> encode(const Ping& m, std::vector<uint8_t>& out) {
  Writer w(out, MsgType::Ping);
  w.u64(m.token);
  return w.finish(kMaxControlPayload);
}

Expected<void, WireError> encode(const Pong& m, std::vector<uint8_t>& out) {
  Writer w(out, MsgType::Pong);
  w.u64(m.token);
  return w.finish(kMaxControlPayload);
}

Expected<void, WireError> encode(const PeerGone& m, std::vector<uint8_t>& out) {
  if (m.id == 0) return unexpected(WireError::ZeroId);
  Writer w(out, MsgType::PeerGone);
  w.u32(m.id);
  return w.finish(kMaxControlPayload);
}

Expected<void, WireError> encode(const Restarting& m, std::vector<uint8_t>& out) {
  Writer w(out, MsgType::Restarting);
  w.u32(m.reconnect_after_ms);
  if (m.window_ms != 0) w.u32(m.window_ms);
  return w.finish(kMaxControlPayload);
}

void write_data_headers(std::span<uint8_t, kDataFrameOverhead> at, const DataHeader& h, size_t body_size) {
  size_t len = kDataHeaderSize + body_size;
  const uint8_t bytes[kDataFrameOverhead] = {
      uint8_t(MsgType::Data), uint8_t(len >> 16), uint8_t(len >> 8), uint8_t(len),
      uint8_t(h.dst >> 24),   uint8_t(h.dst >> 16), uint8_t(h.dst >> 8), uint8_t(h.dst),
      uint8_t(h.src >> 24),   uint8_t(h.src >> 16), uint8_t(h.src >> 8), uint8_t(h.src),
      h.flags,                0};
  std::copy(std::begin(bytes), std::end(bytes), at.begin());
}

void stamp_data_source(std::span<uint8_t> frame, SiteId src) {
  constexpr size_t off = kFrameHeaderSize + 4;
  if (frame.size() < off + 4) return;
  frame[off] = uint8_t(src >> 24);
  frame[off + 1] = uint8_t(src >> 16);
  frame[off + 2] = uint8_t(src >> 8);
  frame[off + 3] = uint8_t(src);
}

}  // namespace dialout
