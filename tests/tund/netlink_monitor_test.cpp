// NetlinkMonitor and Netlink::route_source in private network namespaces
// (veth pairs: this kernel may lack the dummy link type).
#include "tund/netlink_monitor.hpp"

#include <net/if.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <string>

#include <gtest/gtest.h>

#include "tund/netlink.hpp"
#include "tests/support/netns.hpp"

namespace dialout {
namespace {

using testing::in_fresh_netns;
using testing::run;

IpAddr A(const char* text) { return *IpAddr::parse(text); }

bool readable(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

// Two veth pairs, both ends up, in this namespace: u1/u1p and u2/u2p.
void make_uplinks() {
  for (const char* n : {"u1", "u2"}) {
    ASSERT_TRUE(run({"ip", "link", "add", n, "type", "veth", "peer", "name", std::string(n) + "p"}));
    ASSERT_TRUE(run({"ip", "link", "set", n, "up"}));
    ASSERT_TRUE(run({"ip", "link", "set", std::string(n) + "p", "up"}));
  }
}

int index_of(const char* name) { return static_cast<int>(::if_nametoindex(name)); }

bool contains(const std::vector<int>& v, int x) { return std::find(v.begin(), v.end(), x) != v.end(); }

// Waits for the next notification and drains everything pending.
MonitorEvents next_events(NetlinkMonitor& m) {
  MonitorEvents all;
  if (!readable(m.fd(), 2000)) return all;
  // Let the rest of a burst arrive, then drain it in one go.
  ::poll(nullptr, 0, 50);
  auto e = m.drain();
  EXPECT_TRUE(e) << e.error();
  return e ? *e : all;
}

TEST(NetlinkMonitor, SeesAddressChangesAndIgnoresOwnDevice) {
  REQUIRE_NETNS_CAPS();
  in_fresh_netns([] {
    make_uplinks();
    const int u1 = index_of("u1"), u2 = index_of("u2");
    auto m = NetlinkMonitor::open({u2});
    ASSERT_TRUE(m) << m.error();
    auto nl = Netlink::open();
    ASSERT_TRUE(nl) << nl.error();
    // Nothing pending: an empty summary, not an error.
    auto quiet = m->drain();
    ASSERT_TRUE(quiet) << quiet.error();
    EXPECT_FALSE(quiet->any());

    ASSERT_TRUE(nl->add_address(u1, A("10.1.0.2"), 24));
    auto added = next_events(*m);
    EXPECT_TRUE(added.addresses_changed);
    EXPECT_TRUE(added.routes_changed);  // the kernel's connected and local routes
    EXPECT_FALSE(added.overrun);
    EXPECT_EQ(added.ifindexes, std::vector<int>{u1});

    // u2 stands for our TUN device: the kernel reports, the monitor ignores.
    ASSERT_TRUE(nl->add_address(u2, A("10.2.0.2"), 24));
    ASSERT_TRUE(nl->add_route(u2, *Prefix::parse("10.99.0.0/16"), 0));
    ASSERT_TRUE(readable(m->fd(), 2000));
    ::poll(nullptr, 0, 50);
    auto ignored = m->drain();
    ASSERT_TRUE(ignored) << ignored.error();
    EXPECT_FALSE(ignored->any()) << ignored->ifindexes.size();

    ASSERT_TRUE(run({"ip", "addr", "del", "10.1.0.2/24", "dev", "u1"}));
    auto removed = next_events(*m);
    EXPECT_TRUE(removed.addresses_changed);
    EXPECT_TRUE(contains(removed.ifindexes, u1));

    m->unignore(u2);
    ASSERT_TRUE(run({"ip", "link", "set", "u2", "down"}));
    auto link = next_events(*m);
    EXPECT_TRUE(link.links_changed);
    EXPECT_TRUE(contains(link.ifindexes, u2));
  });
}

TEST(NetlinkMonitor, OverrunMeansEverythingMayHaveChanged) {
  REQUIRE_NETNS_CAPS();
  in_fresh_netns([] {
    make_uplinks();
    auto m = NetlinkMonitor::open();
    ASSERT_TRUE(m) << m.error();
    // Shrink the queue (the kernel's minimum) so a burst overflows it.
    int tiny = 1;
    ASSERT_EQ(::setsockopt(m->fd(), SOL_SOCKET, SO_RCVBUFFORCE, &tiny, sizeof tiny), 0);
    auto nl = Netlink::open();
    ASSERT_TRUE(nl) << nl.error();
    for (int i = 1; i <= 64; ++i) {
      auto a = nl->add_address(index_of("u1"), A(("10.1.0." + std::to_string(i)).c_str()), 24);
      ASSERT_TRUE(a) << a.error();
    }
    auto e = m->drain();
    ASSERT_TRUE(e) << e.error();
    EXPECT_TRUE(e->overrun);
    EXPECT_TRUE(e->addresses_changed && e->routes_changed && e->links_changed);
    EXPECT_TRUE(e->any());
    // The socket keeps working after the overrun.
    auto after = m->drain();
    ASSERT_TRUE(after) << after.error();
    EXPECT_FALSE(after->overrun);
  });
}

TEST(NetlinkRouteSource, FollowsTheDefaultRoute) {
  REQUIRE_NETNS_CAPS();
  in_fresh_netns([] {
    make_uplinks();
    auto nl = Netlink::open();
    ASSERT_TRUE(nl) << nl.error();
    const IpAddr relay4 = A("192.0.2.10"), relay6 = A("2001:db8::10");

    // No route at all: no source, not an error.
    auto none = nl->route_source(relay4);
    ASSERT_TRUE(none) << none.error();
    EXPECT_FALSE(none->has_value());
    auto none6 = nl->route_source(relay6);
    ASSERT_TRUE(none6) << none6.error();
    EXPECT_FALSE(none6->has_value());

    ASSERT_TRUE(run({"ip", "addr", "add", "10.1.0.2/24", "dev", "u1"}));
    ASSERT_TRUE(run({"ip", "addr", "add", "10.2.0.2/24", "dev", "u2"}));
    ASSERT_TRUE(run({"ip", "addr", "add", "fd01::2/64", "dev", "u1", "nodad"}));
    ASSERT_TRUE(run({"ip", "addr", "add", "fd02::2/64", "dev", "u2", "nodad"}));
    ASSERT_TRUE(run({"ip", "route", "add", "default", "via", "10.1.0.1", "dev", "u1"}));
    ASSERT_TRUE(run({"ip", "-6", "route", "add", "default", "via", "fd01::1", "dev", "u1"}));

    auto monitor = NetlinkMonitor::open();
    ASSERT_TRUE(monitor) << monitor.error();

    auto src = nl->route_source(relay4);
    ASSERT_TRUE(src) << src.error();
    EXPECT_EQ(*src, A("10.1.0.2"));
    auto src6 = nl->route_source(relay6);
    ASSERT_TRUE(src6) << src6.error();
    EXPECT_EQ(*src6, A("fd01::2"));
    auto lookup = nl->lookup_route(relay4);
    ASSERT_TRUE(lookup) << lookup.error();
    ASSERT_TRUE(lookup->has_value());
    EXPECT_EQ((*lookup)->oif, index_of("u1"));

    // The uplink moves: new default route through u2.
    ASSERT_TRUE(run({"ip", "route", "replace", "default", "via", "10.2.0.1", "dev", "u2"}));
    ASSERT_TRUE(run({"ip", "-6", "route", "replace", "default", "via", "fd02::1", "dev", "u2"}));
    auto moved = next_events(*monitor);
    EXPECT_TRUE(moved.routes_changed);
    EXPECT_TRUE(contains(moved.ifindexes, index_of("u2")));
    src = nl->route_source(relay4);
    ASSERT_TRUE(src) << src.error();
    EXPECT_EQ(*src, A("10.2.0.2"));
    src6 = nl->route_source(relay6);
    ASSERT_TRUE(src6) << src6.error();
    EXPECT_EQ(*src6, A("fd02::2"));

    // A prohibit route is "no route", not an error.
    ASSERT_TRUE(run({"ip", "route", "add", "prohibit", "192.0.2.0/24"}));
    auto prohibited = nl->route_source(relay4);
    ASSERT_TRUE(prohibited) << prohibited.error();
    EXPECT_FALSE(prohibited->has_value());
  });
}

}  // namespace
}  // namespace dialout
