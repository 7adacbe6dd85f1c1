#include "tests/support/fake_tun.hpp"

#include <poll.h>

#include <cerrno>
#include <chrono>
#include <numeric>
#include <vector>

#include <gtest/gtest.h>

namespace dialout {
namespace {

using namespace std::chrono_literals;

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  std::iota(v.begin(), v.end(), seed);
  return v;
}

bool readable(int fd) {
  struct pollfd p {};
  p.fd = fd;
  p.events = POLLIN;
  return ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

TEST(FakeTun, EmptyReadIsEagain) {
  auto tun = FakeTun::create();
  ASSERT_TRUE(tun) << tun.error();
  EXPECT_FALSE(tun->vnet_hdr());
  EXPECT_FALSE(readable(tun->fd()));
  std::vector<uint8_t> buf(1500);
  auto r = tun->read(buf);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), EAGAIN);
}

TEST(FakeTun, InjectedPacketsKeepBoundariesAndOrder) {
  auto tun = FakeTun::create(true);
  ASSERT_TRUE(tun) << tun.error();
  EXPECT_TRUE(tun->vnet_hdr());
  const std::vector<std::vector<uint8_t>> packets = {pattern(1, 1), pattern(1500, 2), pattern(65546, 3), pattern(40, 4)};
  for (const auto& p : packets) ASSERT_TRUE(tun->inject(p));
  EXPECT_TRUE(readable(tun->fd()));
  std::vector<uint8_t> buf(65546);
  for (const auto& p : packets) {
    auto n = tun->read(buf);
    ASSERT_TRUE(n) << n.error();
    ASSERT_EQ(*n, p.size());
    EXPECT_TRUE(std::equal(p.begin(), p.end(), buf.begin()));
  }
  EXPECT_FALSE(readable(tun->fd()));
}

TEST(FakeTun, WrittenPacketsReachThePeer) {
  auto tun = FakeTun::create();
  ASSERT_TRUE(tun) << tun.error();
  auto a = pattern(60, 7), b = pattern(1280, 9);
  ASSERT_TRUE(tun->write(a));
  ASSERT_TRUE(tun->write(b));
  auto ra = tun->receive(1s);
  ASSERT_TRUE(ra) << ra.error();
  EXPECT_EQ(*ra, a);
  auto rb = tun->receive(1s);
  ASSERT_TRUE(rb) << rb.error();
  EXPECT_EQ(*rb, b);
}

TEST(FakeTun, ReceiveTimesOut) {
  auto tun = FakeTun::create();
  ASSERT_TRUE(tun) << tun.error();
  auto start = std::chrono::steady_clock::now();
  auto r = tun->receive(20ms);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), ETIMEDOUT);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 15ms);
}

TEST(FakeTun, ShortBufferIsReportedNotTruncated) {
  auto tun = FakeTun::create();
  ASSERT_TRUE(tun) << tun.error();
  ASSERT_TRUE(tun->inject(pattern(100, 0)));
  std::vector<uint8_t> buf(99);
  auto r = tun->read(buf);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), EMSGSIZE);
}

TEST(FakeTun, FullQueueIsEagainNotBlocking) {
  auto tun = FakeTun::create();
  ASSERT_TRUE(tun) << tun.error();
  auto p = pattern(65536, 0);
  int sent = 0;
  Expected<void, int> r;
  // Bounded: the socket buffer holds a few MB at most.
  for (int i = 0; i < 10000 && r; ++i) {
    r = tun->write(p);
    if (r) ++sent;
  }
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), EAGAIN);
  EXPECT_GT(sent, 0);
}

TEST(FakeTun, MovedFromKeepsWorking) {
  auto made = FakeTun::create();
  ASSERT_TRUE(made) << made.error();
  FakeTun tun = std::move(*made);
  auto p = pattern(10, 0);
  ASSERT_TRUE(tun.inject(p));
  std::vector<uint8_t> buf(10);
  auto n = tun.read(buf);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 10u);
}

}  // namespace
}  // namespace dialout
