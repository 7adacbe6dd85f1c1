#include "intermediary/forwarder.hpp"

#include <gtest/gtest.h>

#include "netlib/vnet_header.hpp"
#include "tests/support/offload_packets.hpp"
#include "tests/support/packets.hpp"

namespace dialout {
namespace {

Prefix P(const char* s) { return *Prefix::parse(s); }

class Forwarder : public ::testing::Test {
 protected:
  void SetUp() override {
    policy_ = *Policy::parse(R"(
[identity id-a]
register = a
advertise = 10.1.0.0/16
reach = b

[identity id-b]
register = b
advertise = 10.2.0.0/24, 10.1.5.0/24
reach = a

[identity id-c]
register = c
advertise = 10.3.0.0/24
reach = *
)",
                             "test");
    std::vector<Prefix> pa{P("10.1.0.0/16")}, pb{P("10.2.0.0/24"), P("10.1.5.0/24")}, pc{P("10.3.0.0/24")};
    a_ = *registry_.add_session(1, "id-a", "a", pa);
    b_ = *registry_.add_session(2, "id-b", "b", pb, {}, std::vector<Prefix>{P("10.1.5.0/24")});  // nests in a's
    c_ = *registry_.add_session(3, "id-c", "c", pc);
  }

  Expected<Forward, DropReason> decide(SiteId from, const std::vector<uint8_t>& packet, SiteId dst_hint = 0) {
    DataView v;
    v.header.dst = dst_hint;
    v.packet = packet;
    const Site& site = *registry_.site(from);
    return decide_forward(registry_, policy_, site, PeerIdentity{site.identity, {}}, v);
  }

  Registry registry_;
  Policy policy_;
  SiteId a_ = 0, b_ = 0, c_ = 0;
};

TEST_F(Forwarder, Decisions) {
  struct Case {
    const char* name;
    SiteId* from;
    const char* src;
    const char* dst;
    SiteId* hint;
    SiteId* want_dst;  // nullptr: dropped
    DropReason want_drop;
  };
  SiteId zero = 0;
  const Case cases[] = {
      {"a to b", &a_, "10.1.0.2", "10.2.0.2", &zero, &b_, {}},
      {"b to a", &b_, "10.2.0.2", "10.1.0.2", &zero, &a_, {}},
      {"a to b via the more specific prefix inside a's", &a_, "10.1.0.2", "10.1.5.9", &zero, &b_, {}},
      {"a may not use b's more specific prefix as source", &a_, "10.1.5.7", "10.2.0.2", &zero, nullptr,
       DropReason::SpoofedSource},
      {"a spoofs a foreign source", &a_, "192.0.2.1", "10.2.0.2", &zero, nullptr, DropReason::SpoofedSource},
      {"a to c is not allowed", &a_, "10.1.0.2", "10.3.0.2", &zero, nullptr, DropReason::Policy},
      {"c reaches anyone", &c_, "10.3.0.2", "10.1.0.2", &zero, &a_, {}},
      {"nobody serves the destination", &a_, "10.1.0.2", "10.99.0.1", &zero, nullptr, DropReason::NoRoute},
      {"to itself", &a_, "10.1.0.2", "10.1.0.3", &zero, nullptr, DropReason::NoRoute},
      {"hint agrees", &a_, "10.1.0.2", "10.2.0.2", &b_, &b_, {}},
      {"hint disagrees with the address", &a_, "10.1.0.2", "10.2.0.2", &c_, nullptr, DropReason::NoRoute},
  };
  for (const auto& c : cases) {
    auto d = decide(*c.from, test::ipv4_udp(c.src, c.dst, 1, 2, "x"), *c.hint);
    if (c.want_dst != nullptr) {
      ASSERT_TRUE(d.has_value()) << c.name << ": " << to_string(d.error());
      EXPECT_EQ(d->dst, *c.want_dst) << c.name;
    } else {
      ASSERT_FALSE(d.has_value()) << c.name;
      EXPECT_EQ(d.error(), c.want_drop) << c.name;
    }
  }
}

TEST_F(Forwarder, MalformedDatagrams) {
  auto good = test::ipv4_udp("10.1.0.2", "10.2.0.2", 1, 2, "payload");
  auto truncated = good;
  truncated.resize(15);
  auto padded = good;
  padded.push_back(0);  // total length no longer matches the frame
  auto garbage = std::vector<uint8_t>(40, 0x11);
  for (const auto* p : {&truncated, &padded, &garbage}) {
    auto d = decide(a_, *p);
    ASSERT_FALSE(d.has_value());
    EXPECT_EQ(d.error(), DropReason::Malformed);
  }
}

// The receiver acts on an offload header after this decision, so it is
// checked here against the datagram; source routes are refused outright.
TEST_F(Forwarder, OffloadHeadersAndSourceRoutes) {
  auto decide_body = [&](const std::vector<uint8_t>& body, bool with_vnet) {
    DataView v;
    v.vnet = with_vnet ? std::span<const uint8_t>(body).first(kVnetHeaderSize) : std::span<const uint8_t>{};
    v.packet = std::span<const uint8_t>(body).subspan(with_vnet ? kVnetHeaderSize : 0);
    const Site& site = *registry_.site(a_);
    return decide_forward(registry_, policy_, site, PeerIdentity{site.identity, {}}, v);
  };
  auto tcp = test::ipv4_tcp("10.1.0.2", "10.2.0.2", 40000, 443, 10 * 1448, true);
  auto kernel = test::vnet_then(test::kernel_tcp4_header(1448), tcp);
  auto forged = test::vnet_then(VnetHeader{.flags = kVnetNeedsCsum, .csum_start = 0, .csum_offset = 16}, tcp);
  auto tiny = test::vnet_then(test::kernel_tcp4_header(1), tcp);
  auto lsrr = test::ipv4_udp_lsrr("10.1.0.2", "10.2.0.2", "10.3.0.2", 1, 2, "x");

  auto ok = decide_body(kernel, true);
  ASSERT_TRUE(ok.has_value()) << to_string(ok.error());
  EXPECT_EQ(ok->dst, b_);
  for (const auto* body : {&forged, &tiny}) {
    auto d = decide_body(*body, true);
    ASSERT_FALSE(d.has_value());
    EXPECT_EQ(d.error(), DropReason::BadOffloadHeader);
  }
  auto d = decide_body(lsrr, false);
  ASSERT_FALSE(d.has_value());
  EXPECT_EQ(d.error(), DropReason::SourceRouted);
}

TEST_F(Forwarder, SameFlowSameHash) {
  auto one = decide(a_, test::ipv4_udp("10.1.0.2", "10.2.0.2", 1000, 2000, "x"));
  auto two = decide(a_, test::ipv4_udp("10.1.0.2", "10.2.0.2", 1000, 2000, "other payload"));
  ASSERT_TRUE(one.has_value() && two.has_value());
  EXPECT_EQ(one->flow_hash, two->flow_hash);
}

}  // namespace
}  // namespace dialout

namespace dialout {
namespace {

// Laptops: per-user and per-group allow rules on top of `reach`.
TEST(ForwarderRules, UsersAndGroupsGetOnlyTheirShare) {
  auto policy = *Policy::parse(R"(
[identity hq-gw]
register = hq
advertise = 10.2.0.0/24
reach = *

[group eng]
register = {user}-laptop
advertise = 10.8.0.0/24
reach = hq
allow = 10.2.0.0/24

[user alice]
register = {user}-laptop
advertise = 10.8.0.0/24
reach = hq
allow = 10.2.0.20 udp/53
)",
                               "rules");
  Registry registry;
  std::vector<Prefix> hq{*Prefix::parse("10.2.0.0/24")};
  std::vector<Prefix> bob_addr{*Prefix::parse("10.8.0.2/32")}, alice_addr{*Prefix::parse("10.8.0.3/32")};
  SiteId hq_id = *registry.add_session(1, "hq-gw", "hq", hq);
  SiteId bob_id = *registry.add_session(2, "bob", "bob-laptop", bob_addr);
  SiteId alice_id = *registry.add_session(3, "alice", "alice-laptop", alice_addr);
  PeerIdentity bob{"bob", {"eng"}}, alice{"alice", {}}, gw{"hq-gw", {}};

  struct Case {
    const char* name;
    SiteId from;
    const PeerIdentity* who;
    const char* src;
    const char* dst;
    uint16_t dport;
    bool allowed;
  };
  const Case cases[] = {
      {"eng member reaches the whole HQ subnet", bob_id, &bob, "10.8.0.2", "10.2.0.99", 8080, true},
      {"alice reaches her one service", alice_id, &alice, "10.8.0.3", "10.2.0.20", 53, true},
      {"alice: other port on the same host", alice_id, &alice, "10.8.0.3", "10.2.0.20", 54, false},
      {"alice: other host", alice_id, &alice, "10.8.0.3", "10.2.0.21", 53, false},
      {"HQ answers alice (sites are governed by reach only)", hq_id, &gw, "10.2.0.20", "10.8.0.3", 4000, true},
  };
  for (const auto& c : cases) {
    auto packet = test::ipv4_udp(c.src, c.dst, 4000, c.dport, "x");
    DataView v;
    v.packet = packet;
    auto d = decide_forward(registry, policy, *registry.site(c.from), *c.who, v);
    EXPECT_EQ(d.has_value(), c.allowed) << c.name;
    if (!c.allowed && !d.has_value()) {
      EXPECT_EQ(d.error(), DropReason::Denied) << c.name;
    }
  }
}

}  // namespace
}  // namespace dialout
