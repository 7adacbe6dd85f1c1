#include "tund/connect_race.hpp"

#include <gtest/gtest.h>

#include <string>

namespace dialout {
namespace {

using namespace std::chrono_literals;
using TP = ConnectRace::TimePoint;

std::vector<IpAddr> addrs(std::initializer_list<const char*> texts) {
  std::vector<IpAddr> out;
  for (const char* t : texts) out.push_back(*IpAddr::parse(t));
  return out;
}

std::string join(const std::vector<IpAddr>& v) {
  std::string s;
  for (const auto& a : v) s += (s.empty() ? "" : " ") + a.to_string();
  return s;
}

TEST(InterleaveFamilies, Table) {
  struct Case {
    std::vector<IpAddr> in;
    const char* out;
  };
  const Case cases[] = {
      {addrs({}), ""},
      {addrs({"192.0.2.1"}), "192.0.2.1"},
      {addrs({"2001:db8::1", "192.0.2.1"}), "2001:db8::1 192.0.2.1"},
      // getaddrinfo put v6 first (RFC 6724): v6 leads, families alternate.
      {addrs({"2001:db8::1", "2001:db8::2", "2001:db8::3", "192.0.2.1", "192.0.2.2"}),
       "2001:db8::1 192.0.2.1 2001:db8::2 192.0.2.2 2001:db8::3"},
      // No usable v6 source on this host: getaddrinfo sorted v4 first; kept.
      {addrs({"192.0.2.1", "192.0.2.2", "2001:db8::1"}), "192.0.2.1 2001:db8::1 192.0.2.2"},
      {addrs({"192.0.2.1", "192.0.2.2"}), "192.0.2.1 192.0.2.2"},
  };
  for (const auto& c : cases) EXPECT_EQ(join(interleave_families(c.in)), c.out) << join(c.in);
}

TEST(ConnectRace, StartsTheFirstAtOnceAndTheNextAfterTheDelay) {
  TP t0{};
  ConnectRace race(addrs({"2001:db8::1", "192.0.2.1"}), t0);
  auto a = race.next(t0);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->attempt, 0u);
  EXPECT_EQ(a->address.to_string(), "2001:db8::1");
  EXPECT_FALSE(race.next(t0)) << "one attempt at a time until the delay passes";
  EXPECT_FALSE(race.next(t0 + 249ms));
  ASSERT_TRUE(race.next_due());
  EXPECT_EQ(*race.next_due(), t0 + 250ms);
  auto b = race.next(t0 + 250ms);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->attempt, 1u);
  EXPECT_EQ(b->address.to_string(), "192.0.2.1");
  EXPECT_EQ(race.running(), 2u) << "the slow v6 attempt keeps running beside v4";
  EXPECT_FALSE(race.next_due()) << "all started";
  EXPECT_FALSE(race.lost());
}

TEST(ConnectRace, AFailureStartsTheNextAtOnce) {
  TP t0{};
  ConnectRace race(addrs({"2001:db8::1", "192.0.2.1", "2001:db8::2"}), t0);
  ASSERT_TRUE(race.next(t0));
  race.failed(0, t0 + 10ms);  // e.g. ENETUNREACH or a refusal
  auto b = race.next(t0 + 10ms);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->attempt, 1u);
  EXPECT_FALSE(race.next(t0 + 20ms));
  EXPECT_EQ(*race.next_due(), t0 + 260ms) << "the delay counts from the last start";
}

TEST(ConnectRace, AFailureWhileAnotherRunsStillStartsTheNext) {
  TP t0{};
  ConnectRace race(addrs({"2001:db8::1", "192.0.2.1", "2001:db8::2"}), t0);
  ASSERT_TRUE(race.next(t0));
  ASSERT_TRUE(race.next(t0 + 250ms));
  race.failed(1, t0 + 300ms);
  auto c = race.next(t0 + 300ms);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->attempt, 2u);
  EXPECT_EQ(race.running(), 2u);
}

TEST(ConnectRace, LostOnlyWhenEveryAddressStartedAndFailed) {
  TP t0{};
  ConnectRace race(addrs({"2001:db8::1", "192.0.2.1"}), t0);
  ASSERT_TRUE(race.next(t0));
  race.failed(0, t0);
  EXPECT_FALSE(race.lost()) << "192.0.2.1 is still to try";
  ASSERT_TRUE(race.next(t0));
  race.failed(1, t0 + 1ms);
  EXPECT_TRUE(race.lost());
  EXPECT_FALSE(race.next(t0 + 1s));
}

TEST(ConnectRace, IgnoresReportsForAttemptsNotStartedOrReportedTwice) {
  TP t0{};
  ConnectRace race(addrs({"2001:db8::1", "192.0.2.1"}), t0);
  ASSERT_TRUE(race.next(t0));
  race.failed(1, t0);  // never started
  EXPECT_EQ(race.running(), 1u);
  race.failed(0, t0);
  race.failed(0, t0);
  EXPECT_EQ(race.running(), 0u);
  EXPECT_FALSE(race.lost());
}

TEST(ConnectRace, OneAddressIsOneAttempt) {
  TP t0{};
  ConnectRace race(addrs({"192.0.2.1"}), t0);
  ASSERT_TRUE(race.next(t0));
  EXPECT_FALSE(race.next_due());
  EXPECT_FALSE(race.lost());
  race.failed(0, t0 + 5s);
  EXPECT_TRUE(race.lost());
}

}  // namespace
}  // namespace dialout
