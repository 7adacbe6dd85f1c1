#include "intermediary/route_snapshot.hpp"

#include <gtest/gtest.h>

namespace dialout {
namespace {

Prefix P(const char* s) { return *Prefix::parse(s); }

TEST(RouteSnapshot, OtherSitesTheIdentityMayReachWithTheirPrefixes) {
  const Policy policy = *Policy::parse(R"(
[identity gw-a]
reach = office-b
[identity gw-b]
reach = *
)",
                                       "test");
  Registry r;
  std::vector<Prefix> a{P("10.1.0.0/24")}, b{P("10.2.0.0/24")}, c{P("10.3.0.0/24")};
  SiteId ida = *r.add_session(1, "gw-a", "office-a", a);
  SiteId idb = *r.add_session(2, "gw-b", "office-b", b);
  SiteId idc = *r.add_session(3, "gw-c", "office-c", c);

  auto for_a = route_snapshot(r, policy, PeerIdentity{"gw-a", {}}, ida);
  ASSERT_EQ(for_a.entries.size(), 1u);
  EXPECT_EQ(for_a.entries[0].id, idb);
  EXPECT_EQ(for_a.entries[0].name, "office-b");
  EXPECT_EQ(for_a.entries[0].prefixes, b);

  auto for_b = route_snapshot(r, policy, PeerIdentity{"gw-b", {}}, idb);
  ASSERT_EQ(for_b.entries.size(), 2u);  // never itself
  EXPECT_EQ(for_b.entries[0].id, ida);
  EXPECT_EQ(for_b.entries[1].id, idc);

  EXPECT_TRUE(route_snapshot(r, policy, PeerIdentity{"gw-c", {}}, idc).entries.empty());

  std::vector<uint8_t> frame;
  ASSERT_TRUE(encode_route_snapshot(r, policy, PeerIdentity{"gw-b", {}}, idb, frame));
  auto f = next_frame(frame);
  ASSERT_TRUE(f && *f);
  auto decoded = decode_routes((*f)->payload);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->entries.size(), 2u);
}

}  // namespace
}  // namespace dialout
