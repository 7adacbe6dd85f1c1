#include "intermediary/address_pool.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace dialout {
namespace {

using namespace std::chrono_literals;
using Clock = AddressPool::Clock;

Prefix P(const char* s) { return *Prefix::parse(s); }
IpAddr A(const char* s) { return *IpAddr::parse(s); }

AddressPool pool(const char* range, Clock::duration grace = 10min) {
  auto p = AddressPool::make(P(range), grace);
  EXPECT_TRUE(p) << range << ": " << (p ? "" : p.error());
  return std::move(*p);
}

// Assigns keys k0, k1, ... until the pool refuses; returns the addresses.
std::vector<std::string> drain(AddressPool& p, Clock::time_point now, size_t max = 16) {
  std::vector<std::string> got;
  for (size_t i = 0; i < max; ++i) {
    auto a = p.assign("k" + std::to_string(i), now);
    if (!a) {
      EXPECT_EQ(a.error(), PoolError::Exhausted);
      break;
    }
    got.push_back(a->to_string());
  }
  return got;
}

struct RangeCase {
  const char* range;
  std::vector<std::string> addresses;  // everything the range hands out, in order
};

TEST(AddressPool, WhatEachRangeHandsOut) {
  const RangeCase cases[] = {
      {"10.255.0.0/30", {"10.255.0.1", "10.255.0.2"}},  // network and broadcast kept back
      {"10.255.0.0/29", {"10.255.0.1", "10.255.0.2", "10.255.0.3", "10.255.0.4", "10.255.0.5", "10.255.0.6"}},
      {"10.255.0.8/31", {"10.255.0.8", "10.255.0.9"}},  // point-to-point: both
      {"10.255.0.7/32", {"10.255.0.7"}},
      {"10.255.0.252/30", {"10.255.0.253", "10.255.0.254"}},
      {"10.255.0.255/32", {"10.255.0.255"}},
      {"10.254.255.0/24", {}},  // checked separately below (254 addresses)
      {"fd00:ff::/126", {"fd00:ff::1", "fd00:ff::2", "fd00:ff::3"}},  // ::0 is subnet-router anycast
      {"fd00:ff::/127", {"fd00:ff::", "fd00:ff::1"}},
      {"fd00:ff::5/128", {"fd00:ff::5"}},
      {"fd00:ff::fffc/126", {"fd00:ff::fffd", "fd00:ff::fffe", "fd00:ff::ffff"}},
  };
  auto now = Clock::time_point{} + 1h;
  for (const auto& c : cases) {
    if (c.addresses.empty()) continue;
    auto p = pool(c.range);
    EXPECT_EQ(drain(p, now), c.addresses) << c.range;
    EXPECT_EQ(p.in_use(), c.addresses.size()) << c.range;
  }
  auto p = pool("10.254.255.0/24");
  auto all = drain(p, now, 300);
  ASSERT_EQ(all.size(), 254u);
  EXPECT_EQ(all.front(), "10.254.255.1");
  EXPECT_EQ(all.back(), "10.254.255.254");
}

TEST(AddressPool, CarriesAcrossBytes) {
  auto p = pool("10.1.0.0/23");
  auto now = Clock::time_point{};
  for (int i = 0; i < 255; ++i) ASSERT_TRUE(p.assign("k" + std::to_string(i), now));
  EXPECT_EQ(p.assign("x", now)->to_string(), "10.1.1.0");  // .0 of the second /24 is a host here
  auto v6 = pool("fd00::/112");
  for (int i = 0; i < 0xff; ++i) ASSERT_TRUE(v6.assign("k" + std::to_string(i), now));
  EXPECT_EQ(v6.assign("x", now)->to_string(), "fd00::100");
}

TEST(AddressPool, StickyAcrossReconnectWithinGrace) {
  auto p = pool("10.255.0.0/29", 10min);
  auto t0 = Clock::time_point{} + 1h;
  auto alice = p.assign("alice/laptop-alice", t0);
  auto bob = p.assign("bob/laptop-bob", t0);
  ASSERT_TRUE(alice && bob);
  EXPECT_EQ(alice->to_string(), "10.255.0.1");
  EXPECT_EQ(bob->to_string(), "10.255.0.2");
  EXPECT_EQ(*p.assign("alice/laptop-alice", t0 + 1s), *alice);  // idempotent while live

  p.release("alice/laptop-alice", t0 + 1min);
  EXPECT_EQ(p.in_use(), 2u);  // still held in grace
  auto carol = p.assign("carol/laptop-carol", t0 + 2min);  // does not get alice's
  ASSERT_TRUE(carol);
  EXPECT_EQ(carol->to_string(), "10.255.0.3");
  p.expire(t0 + 10min);  // 9 minutes after release: kept
  EXPECT_EQ(p.address_of("alice/laptop-alice"), alice.value());
  EXPECT_EQ(*p.assign("alice/laptop-alice", t0 + 10min), *alice);  // roamed back in
}

TEST(AddressPool, AfterGraceAnotherKeyMayTakeIt) {
  auto p = pool("10.255.0.0/29", 10min);
  auto t0 = Clock::time_point{} + 1h;
  auto alice = *p.assign("alice", t0);
  (void)*p.assign("bob", t0);
  p.release("alice", t0);
  p.release("alice", t0 + 9min);  // a second release does not extend the grace
  EXPECT_EQ(p.assign("dave", t0 + 10min - 1s)->to_string(), "10.255.0.3");
  // Grace over: the lowest free address is alice's again, reclaimed lazily.
  EXPECT_EQ(*p.assign("erin", t0 + 10min), alice);
  EXPECT_FALSE(p.address_of("alice"));
  EXPECT_EQ(p.assign("alice", t0 + 11min)->to_string(), "10.255.0.4");
}

TEST(AddressPool, StickyPastGraceWhileNobodyTookIt) {
  auto p = pool("10.255.0.0/29", 10min);
  auto t0 = Clock::time_point{};
  auto a = *p.assign("alice", t0);
  p.release("alice", t0);
  EXPECT_EQ(*p.assign("alice", t0 + 5h), a);  // not expired yet: still hers
  p.release("alice", t0 + 5h);
  p.expire(t0 + 6h);
  EXPECT_EQ(p.in_use(), 0u);
  EXPECT_FALSE(p.address_of("alice"));
}

TEST(AddressPool, ExpireReturnsOnlyGraceRunOut) {
  auto p = pool("10.255.0.0/28", 10min);
  auto t0 = Clock::time_point{} + 1h;
  for (const char* k : {"a", "b", "c", "d"}) ASSERT_TRUE(p.assign(k, t0));
  p.release("a", t0);
  p.release("c", t0 + 5min);
  p.release("unknown", t0);  // no-op
  p.expire(t0 + 12min);
  EXPECT_EQ(p.in_use(), 3u);
  EXPECT_FALSE(p.address_of("a"));
  EXPECT_TRUE(p.address_of("c"));
  EXPECT_EQ(p.assign("e", t0 + 12min)->to_string(), "10.255.0.1");  // lowest free
  p.expire(t0 + 15min);
  EXPECT_EQ(p.in_use(), 3u);
  EXPECT_EQ(p.assign("f", t0 + 15min)->to_string(), "10.255.0.3");
}

TEST(AddressPool, ExhaustedUntilGraceEnds) {
  auto p = pool("10.255.0.0/30", 1min);
  auto t0 = Clock::time_point{} + 1h;
  ASSERT_TRUE(p.assign("a", t0));
  ASSERT_TRUE(p.assign("b", t0));
  auto none = p.assign("c", t0);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error(), PoolError::Exhausted);
  EXPECT_STREQ(to_string(none.error()), "address pool exhausted");
  p.release("b", t0);
  EXPECT_FALSE(p.assign("c", t0 + 59s));
  EXPECT_EQ(p.assign("c", t0 + 1min)->to_string(), "10.255.0.2");
}

TEST(AddressPool, Exclude) {
  auto p = pool("10.2.0.0/29");
  auto now = Clock::time_point{};
  EXPECT_TRUE(p.exclude(A("10.2.0.1")));  // the HQ gateway's own
  EXPECT_TRUE(p.exclude(A("10.2.0.1")));  // twice is fine
  EXPECT_TRUE(p.exclude(A("10.2.0.3")));
  EXPECT_TRUE(p.exclude(A("10.2.0.0")));  // never handed out anyway
  EXPECT_TRUE(p.exclude(A("10.2.0.7")));
  EXPECT_EQ(p.exclude(A("10.2.0.8")).error(), PoolError::OutOfRange);
  EXPECT_EQ(p.exclude(A("fd00::1")).error(), PoolError::OutOfRange);
  EXPECT_EQ(drain(p, now), (std::vector<std::string>{"10.2.0.2", "10.2.0.4", "10.2.0.5", "10.2.0.6"}));
  EXPECT_EQ(p.in_use(), 4u);  // excluded addresses do not count
  EXPECT_EQ(p.exclude(A("10.2.0.5")).error(), PoolError::InUse);
}

TEST(AddressPool, Ipv6FromTheBottomWithoutScanning) {
  auto p = pool("fd00:ff::/64");
  auto now = Clock::time_point{};
  EXPECT_TRUE(p.exclude(A("fd00:ff::1")));
  EXPECT_EQ(p.assign("a", now)->to_string(), "fd00:ff::2");
  EXPECT_EQ(p.assign("b", now)->to_string(), "fd00:ff::3");
  p.release("a", now);
  p.expire(now + 10min);
  EXPECT_EQ(p.assign("c", now + 10min)->to_string(), "fd00:ff::2");
  EXPECT_EQ(p.range(), P("fd00:ff::/64"));
}

TEST(AddressPool, LeasesPerOwnerAreCapped) {
  auto made = AddressPool::make(P("10.255.0.0/24"), 1min, 2);
  ASSERT_TRUE(made);
  AddressPool& p = *made;
  auto t0 = Clock::time_point{} + 1h;
  ASSERT_TRUE(p.assign("rogue/laptop-rogue-1", t0, "rogue"));
  ASSERT_TRUE(p.assign("rogue/laptop-rogue-2", t0, "rogue"));
  EXPECT_EQ(p.held_by("rogue", t0), 2u);
  // A third name is refused; the owner's own keys and other owners are not.
  auto third = p.assign("rogue/laptop-rogue-3", t0, "rogue");
  ASSERT_FALSE(third);
  EXPECT_EQ(third.error(), PoolError::OwnerLimit);
  EXPECT_TRUE(p.assign("rogue/laptop-rogue-1", t0, "rogue")) << "a held key is not a new lease";
  EXPECT_TRUE(p.assign("alice/laptop-alice", t0, "alice"));
  EXPECT_EQ(p.in_use(), 3u);
  // Released leases count while in grace (else looping over names with
  // reconnects would still drain the pool), not after.
  p.release("rogue/laptop-rogue-1", t0);
  EXPECT_FALSE(p.assign("rogue/laptop-rogue-3", t0 + 59s, "rogue"));
  EXPECT_EQ(p.held_by("rogue", t0 + 59s), 2u);
  EXPECT_EQ(p.held_by("rogue", t0 + 1min), 1u);
  EXPECT_TRUE(p.assign("rogue/laptop-rogue-3", t0 + 1min, "rogue"));
  // Expiry forgets the owner's bookkeeping with the lease.
  p.release("rogue/laptop-rogue-2", t0 + 1min);
  p.release("rogue/laptop-rogue-3", t0 + 1min);
  p.expire(t0 + 2min);
  EXPECT_EQ(p.held_by("rogue", t0 + 2min), 0u);
  EXPECT_EQ(p.held_by("nobody", t0), 0u);
  EXPECT_STREQ(to_string(PoolError::OwnerLimit),
               "this identity holds the most addresses it may (live or kept for reconnects)");
}

TEST(AddressPool, RevertUndoesAnAssignExactly) {
  auto p = pool("10.255.0.0/29", 1min);
  auto t0 = Clock::time_point{} + 1h;
  // A new lease: gone at once, no grace; the address is the next one's.
  auto before = p.lease("a");
  EXPECT_FALSE(before.has_value());
  auto a = p.assign("a", t0, "x");
  ASSERT_TRUE(a);
  EXPECT_EQ(p.in_use(), 1u);
  p.revert("a", before);
  EXPECT_EQ(p.in_use(), 0u);
  EXPECT_EQ(p.address_of("a"), std::nullopt);
  EXPECT_EQ(p.held_by("x", t0), 0u);
  EXPECT_EQ(*p.assign("b", t0, "x"), *a);
  // A live lease (another session holds it) stays live.
  before = p.lease("b");
  ASSERT_TRUE(before && before->live);
  ASSERT_TRUE(p.assign("b", t0, "x"));
  p.revert("b", before);
  EXPECT_TRUE(p.lease("b")->live);
  // A lease revived from grace goes back to grace with its old release time.
  p.release("b", t0);
  before = p.lease("b");
  ASSERT_TRUE(before && !before->live);
  ASSERT_TRUE(p.assign("b", t0 + 30s, "x"));
  p.revert("b", before);
  EXPECT_FALSE(p.lease("b")->live);
  EXPECT_EQ(p.lease("b")->released, t0);
  EXPECT_NE(*p.assign("c", t0 + 59s, "x"), *a) << "still in b's grace";
  EXPECT_EQ(*p.assign("d", t0 + 1min, "x"), *a) << "grace counted from the first release";
  p.revert("unknown", std::nullopt);  // harmless
  EXPECT_EQ(p.in_use(), 2u);
}

TEST(AddressPool, MakeRefusesRangesWithoutHosts) {
  const char* bad[] = {"127.0.0.0/8", "127.0.0.1/32", "0.0.0.0/0",   "0.0.0.0/8",  "224.0.0.0/24",
                       "240.0.0.0/4", "::/0",         "::1/128",     "fe80::/64",  "ff02::/16"};
  for (const char* r : bad) {
    auto p = AddressPool::make(P(r));
    ASSERT_FALSE(p) << r;
    EXPECT_NE(p.error().find("holds no host addresses"), std::string::npos) << p.error();
  }
  auto neg = AddressPool::make(P("10.0.0.0/24"), -1s);
  ASSERT_FALSE(neg);
  EXPECT_NE(neg.error().find("negative"), std::string::npos);
  auto ok = AddressPool::make(P("100.64.0.0/10"));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->grace(), AddressPool::Clock::duration(10min));  // the default
}

}  // namespace
}  // namespace dialout
