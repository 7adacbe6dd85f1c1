#include "netlib/wire.hpp"

#include <gtest/gtest.h>

#include <functional>

namespace dialout {
namespace {

using Bytes = std::vector<uint8_t>;

Prefix P(const char* s) { return *Prefix::parse(s); }

template <class M>
Bytes frame_of(const M& m) {
  Bytes out;
  auto ok = encode(m, out);
  EXPECT_TRUE(ok.has_value());
  return out;
}

FrameView only_frame(const Bytes& b) {
  auto f = next_frame(b);
  EXPECT_TRUE(f.has_value());
  EXPECT_TRUE(f->has_value());
  EXPECT_EQ((*f)->size(), b.size());
  return **f;
}

// Golden bytes pin the format: a change here is a protocol change and needs
// a version bump and a changelog line in wire.hpp.
TEST(Wire, GoldenBytes) {
  struct Case {
    const char* name;
    Bytes encoded;
    Bytes golden;
  };
  const Case cases[] = {
      {"hello", frame_of(Hello{1, kCapVnetHeader}), {0x01, 0, 0, 8, 0, 1, 0, 0, 0, 0, 0, 1}},
      {"register",
       frame_of(Register{"ab", 0, {P("10.1.0.0/24")}}),
       {0x02, 0, 0, 11, 2, 'a', 'b', 0, 1, 4, 24, 10, 1, 0, 0}},
      {"accept", frame_of(Accept{7, {}}), {0x03, 0, 0, 5, 0, 0, 0, 7, 0}},
      {"refuse",
       frame_of(Refuse{RefuseReason::NameTaken, "no"}),
       {0x04, 0, 0, 5, 0, 4, 2, 'n', 'o'}},
      {"routes",
       frame_of(Routes{{RouteEntry{9, "b", {P("fd00::/8")}}}}),
       {0x05, 0, 0, 27, 0, 1, 0, 0, 0, 9, 1, 'b', 1, 6, 8, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
      {"ping", frame_of(Ping{0x0102030405060708}), {0x06, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8}},
      {"pong", frame_of(Pong{42}), {0x07, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 42}},
      {"peer gone", frame_of(PeerGone{0x01020304}), {0x08, 0, 0, 4, 1, 2, 3, 4}},
      {"restarting", frame_of(Restarting{1000}), {0x09, 0, 0, 4, 0, 0, 0x03, 0xe8}},
      {"restarting with window",
       frame_of(Restarting{1000, 0x010203}),
       {0x09, 0, 0, 8, 0, 0, 0x03, 0xe8, 0, 1, 2, 3}},
      {"route update: delta part 1 of 2",
       frame_of(RouteUpdate{0x0a0b0c0d, RouteUpdateKind::Delta, 1, 2, {RouteEntry{9, "b", {P("10.0.0.0/8")}}}, {7}}),
       {0x0b, 0, 0, 31,                      // header
        0x0a, 0x0b, 0x0c, 0x0d, 2, 0,        // seq, kind, reserved
        0, 1, 0, 2,                          // part, count
        0, 1, 0, 0, 0, 9, 1, 'b', 1, 4, 8, 10, 0, 0, 0,  // one entry
        0, 1, 0, 0, 0, 7}},                  // one removed id
      {"route update: empty snapshot",
       frame_of(RouteUpdate{5, RouteUpdateKind::Snapshot, 0, 1, {}, {}}),
       {0x0b, 0, 0, 14, 0, 0, 0, 5, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0}},
      {"route resync", frame_of(RouteResync{0x01020304}), {0x0c, 0, 0, 4, 1, 2, 3, 4}},
      {"dns config",
       frame_of(DnsConfig{{*IpAddr::parse("10.1.0.53"), *IpAddr::parse("fd00::35")}, {"a.lan", "b"}}),
       {0x0d, 0, 0, 32,                                     // header
        2,                                                  // server count
        4, 10, 1, 0, 53,                                    // 10.1.0.53
        6, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x35,  // fd00::35
        2, 5, 'a', '.', 'l', 'a', 'n', 1, 'b'}},            // domains
      {"dns config: none", frame_of(DnsConfig{}), {0x0d, 0, 0, 2, 0, 0}},
  };
  for (const auto& c : cases) EXPECT_EQ(c.encoded, c.golden) << c.name;
}

TEST(Wire, DataHeadersInPlace) {
  Bytes frame(kDataFrameOverhead + 3, 0);
  frame[14] = 0x45;
  frame[15] = 0xaa;
  frame[16] = 0xbb;
  write_data_headers(std::span(frame).first<kDataFrameOverhead>(), DataHeader{5, 0, 0}, 3);
  EXPECT_EQ(frame, (Bytes{0x0a, 0, 0, 13, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0x45, 0xaa, 0xbb}));
  stamp_data_source(frame, 0x11223344);
  auto f = only_frame(frame);
  ASSERT_EQ(f.type, MsgType::Data);
  auto d = decode_data(f.payload);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->header.dst, 5u);
  EXPECT_EQ(d->header.src, 0x11223344u);
  EXPECT_TRUE(d->vnet.empty());
  EXPECT_EQ(Bytes(d->packet.begin(), d->packet.end()), (Bytes{0x45, 0xaa, 0xbb}));
}

TEST(Wire, DataWithVnetHeaderAndMaximumPacket) {
  Bytes frame(kDataFrameOverhead + kVnetHeaderSize + kMaxIpPacket, 0x45);
  write_data_headers(std::span(frame).first<kDataFrameOverhead>(), DataHeader{1, 0, kDataVnet},
                     kVnetHeaderSize + kMaxIpPacket);
  auto f = only_frame(frame);
  auto d = decode_data(f.payload);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->vnet.size(), kVnetHeaderSize);
  EXPECT_EQ(d->packet.size(), kMaxIpPacket);
}

TEST(Wire, RoundTripsControlMessages) {
  Register reg{"office-a.example", kRegisterWantAddress, {P("10.1.0.0/24"), P("fd00:1::/64"), P("0.0.0.0/0")}};
  auto r = decode_register(only_frame(frame_of(reg)).payload);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->name, reg.name);
  EXPECT_EQ(r->flags, reg.flags);
  EXPECT_EQ(r->prefixes, reg.prefixes);

  Routes routes{{RouteEntry{1, "a", {P("10.1.0.0/24")}}, RouteEntry{2, "b", {}}}};
  auto rt = decode_routes(only_frame(frame_of(routes)).payload);
  ASSERT_TRUE(rt.has_value());
  ASSERT_EQ(rt->entries.size(), 2u);
  EXPECT_EQ(rt->entries[1].name, "b");
  EXPECT_EQ(rt->entries[0].prefixes, routes.entries[0].prefixes);

  auto a = decode_accept(only_frame(frame_of(Accept{3, {P("10.9.0.7/32")}})).payload);
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->addresses, (std::vector<Prefix>{P("10.9.0.7/32")}));
}

TEST(Wire, DnsConfigRoundTripsAtItsBounds) {
  DnsConfig big;
  for (uint8_t i = 1; i <= kMaxDnsServers; ++i) {
    const uint8_t v4[4] = {10, 0, 0, i};
    big.servers.push_back(i % 2 ? IpAddr::v4(v4) : *IpAddr::parse("fd00::" + std::to_string(i)));
  }
  for (size_t i = 0; i < kMaxDnsDomains; ++i) {
    // 253 bytes: labels of 63 + '.' ... ending in a distinct short label.
    std::string d = std::string(63, 'a') + "." + std::string(63, 'b') + "." + std::string(63, 'c') + "." +
                    std::string(58, 'd') + "-" + std::to_string(10 + i);
    ASSERT_EQ(d.size(), kMaxDnsDomainLength);
    big.domains.push_back(d);
  }
  auto back = decode_dns_config(only_frame(frame_of(big)).payload);
  ASSERT_TRUE(back.has_value()) << to_string(back.error());
  EXPECT_EQ(*back, big);
  auto none = decode_dns_config(only_frame(frame_of(DnsConfig{})).payload);
  ASSERT_TRUE(none.has_value());
  EXPECT_TRUE(none->empty());
}

TEST(Wire, RouteUpdateRoundTripsAndFitsItsSizeFormula) {
  RouteUpdate u{77, RouteUpdateKind::Delta, 3, 9,
                {RouteEntry{1, "a", {P("10.1.0.0/24"), P("fd00::/64")}}, RouteEntry{2, "bb", {}}}, {4, 5}};
  Bytes b = frame_of(u);
  size_t want = kFrameHeaderSize + kRouteUpdateFixedSize + 4 * u.removed.size();
  for (const auto& e : u.entries) want += encoded_size(e);
  EXPECT_EQ(b.size(), want);
  auto d = decode_route_update(only_frame(b).payload);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->seq, 77u);
  EXPECT_EQ(d->kind, RouteUpdateKind::Delta);
  EXPECT_EQ(d->part, 3);
  EXPECT_EQ(d->parts, 9);
  ASSERT_EQ(d->entries.size(), 2u);
  EXPECT_EQ(d->entries[0].prefixes, u.entries[0].prefixes);
  EXPECT_EQ(d->removed, u.removed);
  auto r = decode_restarting(only_frame(frame_of(Restarting{5, 60000})).payload);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->window_ms, 60000u);
}

TEST(Wire, RouteUpdateRejectsTable) {
  struct Case {
    const char* name;
    Bytes payload;
    WireError want;
  };
  const Case cases[] = {
      {"short", {0, 0, 0, 1, 1, 0, 0, 0}, WireError::BadLength},
      {"kind 0", {0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0}, WireError::BadReserved},
      {"kind 3", {0, 0, 0, 1, 3, 0, 0, 0, 0, 1, 0, 0, 0, 0}, WireError::BadReserved},
      {"reserved set", {0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0}, WireError::BadReserved},
      {"zero parts", {0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0}, WireError::TooManyEntries},
      {"part beyond count", {0, 0, 0, 1, 1, 0, 0, 2, 0, 2, 0, 0, 0, 0}, WireError::TooManyEntries},
      {"too many parts", {0, 0, 0, 1, 1, 0, 0, 0, 0x04, 0x01, 0, 0, 0, 0}, WireError::TooManyEntries},
      {"snapshot removes", {0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 7}, WireError::BadReserved},
      {"removed id zero", {0, 0, 0, 1, 2, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0}, WireError::ZeroId},
      {"removed count beyond payload", {0, 0, 0, 1, 2, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 7}, WireError::BadLength},
      {"trailing byte", {0, 0, 0, 1, 2, 0, 0, 0, 0, 1, 0, 0, 0, 0, 9}, WireError::BadLength},
      {"entry count beyond payload", {0, 0, 0, 1, 2, 0, 0, 0, 0, 1, 0, 9, 0, 0}, WireError::BadLength},
  };
  for (const auto& c : cases) {
    auto d = decode_route_update(c.payload);
    ASSERT_FALSE(d.has_value()) << c.name;
    EXPECT_EQ(d.error(), c.want) << c.name;
  }
  EXPECT_EQ(decode_restarting(Bytes{0, 0, 0, 1, 0, 0, 0, 0}).error(), WireError::BadReserved);  // 8 bytes, window 0
  EXPECT_EQ(decode_restarting(Bytes{0, 0, 0, 1, 0, 0}).error(), WireError::BadLength);
  EXPECT_EQ(decode_route_resync(Bytes{0, 0, 1}).error(), WireError::BadLength);
  Bytes out;
  EXPECT_FALSE(encode(RouteUpdate{1, RouteUpdateKind::Snapshot, 0, 1, {}, {3}}, out).has_value());
  EXPECT_FALSE(encode(RouteUpdate{1, RouteUpdateKind::Delta, 1, 1, {}, {}}, out).has_value());
  EXPECT_TRUE(out.empty());
}

TEST(Wire, NextFrameWaitsForWholeFrame) {
  Bytes b = frame_of(Ping{1});
  for (size_t n = 0; n < b.size(); ++n) {
    auto f = next_frame(std::span(b).first(n));
    ASSERT_TRUE(f.has_value()) << n;
    EXPECT_FALSE(f->has_value()) << n;
  }
}

TEST(Wire, RejectsBadFrameHeadersBeforeBuffering) {
  struct Case {
    const char* name;
    Bytes header;
    WireError want;
  };
  const Case cases[] = {
      {"type zero", {0x00, 0, 0, 0}, WireError::UnknownType},
      {"type past dns config", {0x0e, 0, 0, 0}, WireError::UnknownType},
      {"control over max", {0x01, 0x01, 0x00, 0x00}, WireError::Oversized},
      {"data over max", {0x0a, 0x01, 0x00, 0x16}, WireError::Oversized},
      {"data u24 max", {0x0a, 0xff, 0xff, 0xff}, WireError::Oversized},
  };
  for (const auto& c : cases) {
    auto f = next_frame(c.header);  // only the 4 header bytes: judged before the payload arrives
    ASSERT_FALSE(f.has_value()) << c.name;
    EXPECT_EQ(f.error(), c.want) << c.name;
  }
  // The largest legal data frame header is accepted (and waits for its payload).
  Bytes max = {0x0a, uint8_t(kMaxPayload >> 16), uint8_t(kMaxPayload >> 8), uint8_t(kMaxPayload)};
  auto f = next_frame(max);
  ASSERT_TRUE(f.has_value());
  EXPECT_FALSE(f->has_value());
}

TEST(Wire, RejectsMalformedPayloads) {
  using Decode = std::function<bool(std::span<const uint8_t>)>;
  struct Case {
    const char* name;
    Decode decode;
    Bytes payload;
  };
  auto hello = [](auto p) { return decode_hello(p).has_value(); };
  auto reg = [](auto p) { return decode_register(p).has_value(); };
  auto accept = [](auto p) { return decode_accept(p).has_value(); };
  auto routes = [](auto p) { return decode_routes(p).has_value(); };
  auto ping = [](auto p) { return decode_ping(p).has_value(); };
  auto gone = [](auto p) { return decode_peer_gone(p).has_value(); };
  auto data = [](auto p) { return decode_data(p).has_value(); };
  auto dns = [](auto p) { return decode_dns_config(p).has_value(); };
  const Case cases[] = {
      {"dns empty payload", dns, {}},
      {"dns servers without domains", dns, {1, 4, 10, 0, 0, 53, 0}},
      {"dns domains without servers", dns, {0, 1, 1, 'a'}},
      {"dns bad family", dns, {1, 5, 10, 0, 0, 53, 1, 1, 'a'}},
      {"dns truncated v6 server", dns, {1, 6, 0xfd, 0, 0, 0, 1, 1, 'a'}},
      {"dns loopback server", dns, {1, 4, 127, 0, 0, 1, 1, 1, 'a'}},
      {"dns repeated server", dns, {2, 4, 10, 0, 0, 53, 4, 10, 0, 0, 53, 1, 1, 'a'}},
      {"dns nine servers", dns, {9}},
      {"dns seventeen domains", dns, {1, 4, 10, 0, 0, 53, 17}},
      {"dns upper-case domain", dns, {1, 4, 10, 0, 0, 53, 1, 1, 'A'}},
      {"dns empty domain", dns, {1, 4, 10, 0, 0, 53, 1, 0}},
      {"dns trailing dot", dns, {1, 4, 10, 0, 0, 53, 1, 2, 'a', '.'}},
      {"dns repeated domain", dns, {1, 4, 10, 0, 0, 53, 2, 1, 'a', 1, 'a'}},
      {"dns domain runs past end", dns, {1, 4, 10, 0, 0, 53, 1, 3, 'a'}},
      {"dns trailing byte", dns, {1, 4, 10, 0, 0, 53, 1, 1, 'a', 0}},
      {"hello short", hello, {0, 1, 0, 0, 0, 0, 0}},
      {"hello long", hello, {0, 1, 0, 0, 0, 0, 0, 0, 0}},
      {"hello reserved", hello, {0, 1, 0, 1, 0, 0, 0, 0}},
      {"register empty name", reg, {0, 0, 0}},
      {"register upper-case name", reg, {1, 'A', 0, 0}},
      {"register name runs past end", reg, {5, 'a', 'b'}},
      {"register unknown flag", reg, {1, 'a', 0x80, 0}},
      {"register host bits", reg, {1, 'a', 0, 1, 4, 24, 10, 1, 0, 1}},
      {"register prefix too long", reg, {1, 'a', 0, 1, 4, 33, 10, 1, 0, 0}},
      {"register bad family", reg, {1, 'a', 0, 1, 5, 0, 0, 0, 0, 0}},
      {"register truncated prefix", reg, {1, 'a', 0, 1, 4, 8, 10}},
      {"register too many prefixes", reg, {1, 'a', 0, 65}},
      {"register trailing byte", reg, {1, 'a', 0, 0, 0}},
      {"accept zero id", accept, {0, 0, 0, 0, 0}},
      {"accept three addresses", accept, {0, 0, 0, 1, 3}},
      {"routes count past payload", routes, {0xff, 0xff, 0, 0, 0, 1}},
      {"routes zero id", routes, {0, 1, 0, 0, 0, 0, 1, 'a', 0}},
      {"ping short", ping, {1, 2, 3}},
      {"peer gone zero", gone, {0, 0, 0, 0}},
      {"data no packet", data, {0, 0, 0, 1, 0, 0, 0, 0, 0, 0}},
      {"data reserved", data, {0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0x45}},
      {"data unknown flag", data, {0, 0, 0, 1, 0, 0, 0, 0, 2, 0, 0x45}},
      {"data vnet truncated", data, {0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0}},
      {"data header truncated", data, {0, 0, 0, 1, 0}},
  };
  for (const auto& c : cases) EXPECT_FALSE(c.decode(c.payload)) << c.name;
}

TEST(Wire, EncodersRefuseInvalidMessages) {
  Bytes out;
  EXPECT_FALSE(encode(Register{"Bad Name", 0, {}}, out).has_value());
  Prefix host_bits;
  host_bits.addr = *IpAddr::parse("10.0.0.1");
  host_bits.len = 8;
  EXPECT_FALSE(encode(Register{"a", 0, {host_bits}}, out).has_value());
  EXPECT_FALSE(encode(Register{"a", 0, std::vector<Prefix>(65, P("10.0.0.0/8"))}, out).has_value());
  EXPECT_FALSE(encode(Accept{0, {}}, out).has_value());
  EXPECT_FALSE(encode(DnsConfig{{*IpAddr::parse("10.0.0.53")}, {"Upper.lan"}}, out).has_value());
  EXPECT_FALSE(encode(DnsConfig{{*IpAddr::parse("10.0.0.53")}, {}}, out).has_value());
  EXPECT_TRUE(out.empty()) << "a failed encode must leave nothing behind";
  // A routes table that cannot fit one frame is refused whole, never cut.
  Routes big;
  for (SiteId id = 1; id <= 1200; ++id)
    big.entries.push_back(RouteEntry{id, std::string(60, 'x'), {P("10.0.0.0/8")}});
  EXPECT_FALSE(encode(big, out).has_value());
  EXPECT_TRUE(out.empty());
}

TEST(Wire, EachRefusalHasAKind) {
  using K = RefusalKind;
  const std::pair<RefuseReason, K> cases[] = {
      {RefuseReason::BadVersion, K::Fatal},
      {RefuseReason::NameNotAllowed, K::NeedsChange},
      {RefuseReason::PrefixNotAllowed, K::NeedsChange},
      {RefuseReason::NameTaken, K::NeedsChange},
      {RefuseReason::PrefixTaken, K::NeedsChange},
      {RefuseReason::Malformed, K::Temporary},
      {RefuseReason::TooManySessions, K::Temporary},
      {RefuseReason::PoolExhausted, K::Temporary},
      {RefuseReason::OutOfOrder, K::Temporary},
      {RefuseReason::Internal, K::Temporary},
      // A victim refused because a rogue registered first must keep trying.
      {RefuseReason::PrefixOverlaps, K::Temporary},
      {RefuseReason::TooManyAddresses, K::Temporary},
      // An operator's kill: the site comes back.
      {RefuseReason::Closed, K::Temporary},
      {RefuseReason(999), K::Temporary},
  };
  for (auto [reason, kind] : cases) {
    SCOPED_TRACE(uint16_t(reason));
    EXPECT_EQ(refusal_kind(reason), kind);
    EXPECT_EQ(is_permanent(reason), kind != K::Temporary);
    // What to change is said for every reason a change heals.
    if (kind == K::NeedsChange) {
      EXPECT_NE(std::string(remedy(reason)).find('`'), std::string::npos);
    }
  }
  EXPECT_STREQ(to_string(RefuseReason::PrefixOverlaps), "prefix overlaps another identity's prefix");
  EXPECT_STREQ(to_string(RefuseReason::TooManyAddresses), "too many pool addresses for this identity");
  EXPECT_STREQ(to_string(RefuseReason::Closed), "closed by the intermediary's operator");
}

}  // namespace
}  // namespace dialout
