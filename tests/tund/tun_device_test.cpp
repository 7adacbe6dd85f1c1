#include "tund/tun_device.hpp"

#include <linux/capability.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace dialout {
namespace {

bool have_net_admin() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (::syscall(SYS_capget, &header, data) != 0) return false;
  return (data[CAP_NET_ADMIN / 32].effective >> (CAP_NET_ADMIN % 32)) & 1u;
}

// Unique per process (and per test via the tag) so parallel runs never collide.
std::string unique_name(const char* tag) {
  static_assert(IFNAMSIZ == 16);
  return "dlt" + std::string(tag) + std::to_string(::getpid() % 100000);
}

#define REQUIRE_NET_ADMIN() \
  if (!have_net_admin()) GTEST_SKIP() << "needs CAP_NET_ADMIN"

TEST(TunDevice, OpensPlainDevice) {
  REQUIRE_NET_ADMIN();
  auto name = unique_name("p");
  auto tun = TunDevice::open({.name = name});
  ASSERT_TRUE(tun) << tun.error();
  EXPECT_EQ(tun->name(), name);
  EXPECT_NE(::if_nametoindex(name.c_str()), 0u);
  EXPECT_FALSE(tun->vnet_hdr());
  EXPECT_EQ(tun->offloads(), 0u);
  EXPECT_EQ(tun->queue_count(), 1u);

  struct ifreq ifr {};
  ASSERT_EQ(::ioctl(tun->fd(), TUNGETIFF, &ifr), 0);
  EXPECT_EQ(ifr.ifr_flags & (IFF_TUN | IFF_NO_PI | IFF_VNET_HDR), IFF_TUN | IFF_NO_PI);

  std::vector<uint8_t> buf(2048);
  auto r = tun->read(buf);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), EAGAIN);
}

TEST(TunDevice, DeviceDisappearsWhenClosed) {
  REQUIRE_NET_ADMIN();
  auto name = unique_name("c");
  {
    auto tun = TunDevice::open({.name = name});
    ASSERT_TRUE(tun) << tun.error();
    EXPECT_NE(::if_nametoindex(name.c_str()), 0u);
  }
  EXPECT_EQ(::if_nametoindex(name.c_str()), 0u);
}

TEST(TunDevice, VnetHeaderAndOffloads) {
  REQUIRE_NET_ADMIN();
  auto name = unique_name("v");
  auto tun = TunDevice::open({.name = name, .vnet_hdr = true});
  ASSERT_TRUE(tun) << tun.error();
  EXPECT_TRUE(tun->vnet_hdr());
  const unsigned base = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
  EXPECT_EQ(tun->offloads() & base, base);

  struct ifreq ifr {};
  ASSERT_EQ(::ioctl(tun->fd(), TUNGETIFF, &ifr), 0);
  EXPECT_TRUE(ifr.ifr_flags & IFF_VNET_HDR);
  int hdr_size = 0;
  ASSERT_EQ(::ioctl(tun->fd(), TUNGETVNETHDRSZ, &hdr_size), 0);
  EXPECT_EQ(hdr_size, 10);

  std::vector<uint8_t> buf(65536 + 10);
  auto r = tun->read(buf);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), EAGAIN);
}

TEST(TunDevice, MultiQueue) {
  REQUIRE_NET_ADMIN();
  auto name = unique_name("m");
  auto tun = TunDevice::open({.name = name, .vnet_hdr = true, .multi_queue = true, .queues = 3});
  ASSERT_TRUE(tun) << tun.error();
  ASSERT_EQ(tun->queue_count(), 3u);
  EXPECT_NE(tun->queue_fd(0), tun->queue_fd(1));
  EXPECT_NE(tun->queue_fd(1), tun->queue_fd(2));
  EXPECT_EQ(tun->fd(), tun->queue_fd(0));

  TunQueue q2(*tun, 2);
  EXPECT_EQ(q2.fd(), tun->queue_fd(2));
  EXPECT_TRUE(q2.vnet_hdr());
  struct ifreq ifr {};
  ASSERT_EQ(::ioctl(q2.fd(), TUNGETIFF, &ifr), 0);
  EXPECT_EQ(std::string(ifr.ifr_name), name);
  EXPECT_TRUE(ifr.ifr_flags & IFF_MULTI_QUEUE);
  std::vector<uint8_t> buf(2048);
  auto r = q2.read(buf);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), EAGAIN);
}

TEST(TunDevice, KernelPicksNameWhenEmpty) {
  REQUIRE_NET_ADMIN();
  auto tun = TunDevice::open({});
  ASSERT_TRUE(tun) << tun.error();
  EXPECT_FALSE(tun->name().empty());
  EXPECT_NE(::if_nametoindex(tun->name().c_str()), 0u);
}

struct BadOptions {
  TunOptions options;
  const char* expected_substring;
};

TEST(TunDevice, RejectsBadOptionsWithReadableErrors) {
  const BadOptions cases[] = {
      {{.name = "this-name-is-far-too-long"}, "name longer than"},
      {{.name = "dlq", .multi_queue = true, .queues = 0}, "queue count 0"},
      {{.name = "dlq", .multi_queue = true, .queues = 1000}, "queue count 1000"},
  };
  for (const auto& c : cases) {
    auto tun = TunDevice::open(c.options);
    ASSERT_FALSE(tun) << c.expected_substring;
    EXPECT_NE(tun.error().find(c.expected_substring), std::string::npos) << tun.error();
    EXPECT_NE(tun.error().find(c.options.name), std::string::npos) << tun.error();
  }
}

TEST(TunDevice, IoctlFailureNamesDeviceAndIoctl) {
  REQUIRE_NET_ADMIN();
  // A second non-multi-queue open of a busy device fails in TUNSETIFF.
  auto name = unique_name("b");
  auto first = TunDevice::open({.name = name});
  ASSERT_TRUE(first) << first.error();
  auto second = TunDevice::open({.name = name});
  ASSERT_FALSE(second);
  EXPECT_NE(second.error().find(name), std::string::npos) << second.error();
  EXPECT_NE(second.error().find("TUNSETIFF"), std::string::npos) << second.error();
}

}  // namespace
}  // namespace dialout
