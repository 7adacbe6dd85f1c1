#include "tund/tun_device.hpp"

#include <arpa/inet.h>
#include <linux/capability.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tund/netlink.hpp"
#include "netlib/unique_fd.hpp"
#include "netlib/vnet_header.hpp"

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

// The kernel side of the framing, end to end: inside a private network
// namespace (a thread that unshared CLONE_NEWNET) a vnet TUN is up with
// 10.9.0.1/24 and the test plays the remote host 10.9.0.2.
bool have_sys_admin() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (::syscall(SYS_capget, &header, data) != 0) return false;
  return (data[CAP_SYS_ADMIN / 32].effective >> (CAP_SYS_ADMIN % 32)) & 1u;
}

void with_vnet_tun_in_netns(const std::function<void(TunDevice&)>& body) {
  std::thread worker([&] {
    ASSERT_EQ(::unshare(CLONE_NEWNET), 0) << std::strerror(errno);
    auto tun = TunDevice::open({.name = "dlns0", .vnet_hdr = true});
    ASSERT_TRUE(tun) << tun.error();
    auto nl = Netlink::open();
    ASSERT_TRUE(nl) << nl.error();
    auto index = nl->ifindex(tun->name());
    ASSERT_TRUE(index) << index.error();
    auto up = nl->set_link(*index, true, 1500u);
    ASSERT_TRUE(up) << up.error();
    auto addr = nl->add_address(*index, *IpAddr::parse("10.9.0.1"), 24);
    ASSERT_TRUE(addr) << addr.error();
    body(*tun);
  });
  worker.join();
}

// Reads one packet, waiting up to a second; empty on timeout.
std::vector<uint8_t> read_one(Tun& tun) {
  std::vector<uint8_t> buf(65536 + kVnetHeaderSize);
  struct pollfd p {};
  p.fd = tun.fd();
  p.events = POLLIN;
  for (int i = 0; i < 10; ++i) {  // skip unrelated packets (e.g. IPv6 router solicitations)
    if (::poll(&p, 1, 1000) != 1) return {};
    auto n = tun.read(buf);
    if (!n) return {};
    if (*n > kVnetHeaderSize && buf[kVnetHeaderSize] >> 4 == 4) {
      buf.resize(*n);
      return buf;
    }
  }
  return {};
}

uint16_t ones_complement(const uint8_t* p, size_t n) {
  uint32_t acc = 0;
  for (size_t i = 0; i < n; ++i) acc += (i % 2 == 0) ? uint32_t{p[i]} << 8 : p[i];
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return static_cast<uint16_t>(acc);
}

TEST(TunDevice, VnetFramingRoundTripInNamespace) {
  REQUIRE_NET_ADMIN();
  if (!have_sys_admin()) GTEST_SKIP() << "needs CAP_SYS_ADMIN for a network namespace";
  with_vnet_tun_in_netns([](TunDevice& tun) {
    // ICMP echo request 10.9.0.2 -> 10.9.0.1 behind a plain (all-zero) header.
    std::vector<uint8_t> frame(kVnetHeaderSize + 28);
    uint8_t* ip = &frame[kVnetHeaderSize];
    const uint8_t hdr[] = {0x45, 0, 0, 28, 0, 1, 0x40, 0, 64, 1, 0, 0, 10, 9, 0, 2, 10, 9, 0, 1};
    std::memcpy(ip, hdr, sizeof hdr);
    uint16_t c = static_cast<uint16_t>(~ones_complement(ip, 20));
    ip[10] = static_cast<uint8_t>(c >> 8), ip[11] = static_cast<uint8_t>(c);
    uint8_t* icmp = ip + 20;
    icmp[0] = 8, icmp[4] = 0x12, icmp[5] = 0x34, icmp[7] = 1;
    c = static_cast<uint16_t>(~ones_complement(icmp, 8));
    icmp[2] = static_cast<uint8_t>(c >> 8), icmp[3] = static_cast<uint8_t>(c);
    auto w = tun.write(frame);
    ASSERT_TRUE(w) << std::strerror(w.error());

    auto reply = read_one(tun);
    ASSERT_GE(reply.size(), kVnetHeaderSize + 28);
    auto vh = VnetHeader::decode(reply);
    ASSERT_TRUE(vh);
    EXPECT_FALSE(vh->gso());
    const uint8_t* r = &reply[kVnetHeaderSize];
    EXPECT_EQ(r[9], 1);  // ICMP
    EXPECT_EQ(std::memcmp(r + 12, "\x0a\x09\x00\x01", 4), 0);
    EXPECT_EQ(r[20], 0);  // echo reply
  });
}

TEST(TunDevice, KernelUdpSuperpacketValidatesAndSegments) {
  REQUIRE_NET_ADMIN();
  if (!have_sys_admin()) GTEST_SKIP() << "needs CAP_SYS_ADMIN for a network namespace";
  with_vnet_tun_in_netns([](TunDevice& tun) {
    if (!(tun.offloads() & kTunOffloadUso4)) GTEST_SKIP() << "kernel without TUN UDP segmentation offload";
    UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ASSERT_TRUE(s.valid());
    int gso_size = 1000;
    ASSERT_EQ(::setsockopt(s.get(), SOL_UDP, UDP_SEGMENT, &gso_size, sizeof gso_size), 0) << std::strerror(errno);
    struct sockaddr_in to {};
    to.sin_family = AF_INET;
    to.sin_port = htons(9999);
    ::inet_pton(AF_INET, "10.9.0.2", &to.sin_addr);
    std::vector<uint8_t> payload(4500);
    for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<uint8_t>(i);
    ASSERT_EQ(::sendto(s.get(), payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to),
              static_cast<ssize_t>(payload.size()))
        << std::strerror(errno);

    auto frame = read_one(tun);
    ASSERT_EQ(frame.size(), kVnetHeaderSize + 20 + 8 + payload.size());
    auto vh = VnetHeader::decode(frame);
    ASSERT_TRUE(vh);
    EXPECT_EQ(vh->gso_type, kVnetGsoUdpL4);
    EXPECT_EQ(vh->gso_size, 1000);
    auto packet = std::span<const uint8_t>(frame).subspan(kVnetHeaderSize);
    auto layout = vh->validate(packet);
    ASSERT_TRUE(layout) << to_string(layout.error());
    EXPECT_EQ(layout->header_len(), 28u);

    std::vector<uint8_t> storage(8192);
    std::array<std::span<uint8_t>, 8> out{};
    auto n = segment(*vh, packet, 1500, storage, out);
    ASSERT_TRUE(n) << to_string(n.error());
    ASSERT_EQ(*n, 5u);
    for (size_t i = 0; i < *n; ++i) {
      auto seg = out[i];
      EXPECT_EQ(ones_complement(seg.data(), 20), 0xffff) << i;
      std::vector<uint8_t> pseudo = {seg[12], seg[13], seg[14], seg[15], seg[16], seg[17], seg[18], seg[19], 0, 17,
                                     static_cast<uint8_t>((seg.size() - 20) >> 8), static_cast<uint8_t>(seg.size() - 20)};
      pseudo.insert(pseudo.end(), seg.begin() + 20, seg.end());
      EXPECT_EQ(ones_complement(pseudo.data(), pseudo.size()), 0xffff) << i;
    }
  });
}

}  // namespace
}  // namespace dialout
