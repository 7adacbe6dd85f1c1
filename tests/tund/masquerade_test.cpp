// Masquerade against the kernel. Namespace A is the one-armed proxy client:
// a TUN device (the tunnel side; the test writes what the intermediary
// would deliver) and lan0 on the LAN. Namespace B is a LAN host that is
// not told about the remote prefixes: it can only answer A itself.
//
//   remote 10.200.0.5 / fd99::5 --(TUN dlmq0)--[A: lan0 10.60.0.1 fd60::1] ==veth== [B: lan1 10.60.0.2 fd60::2]
#include "tund/masquerade.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <cstring>
#include <thread>

#include <gtest/gtest.h>

#include "netlib/ip_packet.hpp"
#include "tund/subprocess.hpp"
#include "tund/sysctl.hpp"
#include "tests/support/netns.hpp"
#include "tests/support/packets.hpp"
#include "tund/tun_device.hpp"

namespace dialout {
namespace {

using testing::in_fresh_netns;
using testing::NetnsPair;
using testing::run;

IpAddr A(const char* text) { return *IpAddr::parse(text); }

uint16_t fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}
uint32_t add16(const uint8_t* p, size_t n, uint32_t sum) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += uint32_t(p[i] << 8 | p[i + 1]);
  if (n & 1) sum += uint32_t(p[n - 1] << 8);
  return sum;
}

// tests/support/packets has IPv4 only; the IPv6/UDP twin, checksummed.
std::vector<uint8_t> ipv6_udp(const IpAddr& s, const IpAddr& d, uint16_t sport, uint16_t dport,
                              std::string_view payload) {
  const size_t udp_len = 8 + payload.size();
  std::vector<uint8_t> p(40 + udp_len, 0);
  p[0] = 0x60;
  p[4] = uint8_t(udp_len >> 8);
  p[5] = uint8_t(udp_len);
  p[6] = 17;
  p[7] = 64;
  std::copy(s.bytes.begin(), s.bytes.end(), p.begin() + 8);
  std::copy(d.bytes.begin(), d.bytes.end(), p.begin() + 24);
  uint8_t* u = p.data() + 40;
  u[0] = uint8_t(sport >> 8), u[1] = uint8_t(sport), u[2] = uint8_t(dport >> 8), u[3] = uint8_t(dport);
  u[4] = uint8_t(udp_len >> 8), u[5] = uint8_t(udp_len);
  std::copy(payload.begin(), payload.end(), u + 8);
  uint32_t sum = add16(p.data() + 8, 32, 17 + uint32_t(udp_len));
  uint16_t c = static_cast<uint16_t>(~fold(add16(u, udp_len, sum)));
  if (c == 0) c = 0xffff;
  u[6] = uint8_t(c >> 8), u[7] = uint8_t(c);
  return p;
}

struct Lab {
  NetnsPair ns;
  std::optional<TunDevice> tun;
  UniqueFd b_sock4, b_sock6;  // B's UDP port 5000, made in B
};

void build(Lab& lab) {
  ASSERT_TRUE(lab.ns.valid());
  for (int side = 0; side < 2; ++side) {
    side == 0 ? lab.ns.enter_a() : lab.ns.enter_b();
    ASSERT_TRUE(write_sysctl("net/ipv6/conf/default/accept_dad", "0"));
  }
  lab.ns.enter_a();
  ASSERT_TRUE(write_sysctl("net/ipv4/ip_forward", "1"));
  ASSERT_TRUE(write_sysctl("net/ipv6/conf/all/forwarding", "1"));
  auto tun = TunDevice::open({.name = "dlmq0"});
  ASSERT_TRUE(tun) << tun.error();
  lab.tun.emplace(std::move(*tun));
  for (const auto& cmd : std::vector<std::vector<std::string>>{
           {"ip", "link", "set", "dlmq0", "up"},
           {"ip", "route", "add", "10.200.0.0/16", "dev", "dlmq0"},
           {"ip", "route", "add", "fd99::/64", "dev", "dlmq0"},
           {"ip", "link", "add", "lan0", "type", "veth", "peer", "name", "lan1"},
           {"ip", "link", "set", "lan1", "netns", lab.ns.b_path()},
           {"ip", "addr", "add", "10.60.0.1/24", "dev", "lan0"},
           {"ip", "addr", "add", "fd60::1/64", "dev", "lan0"},
           {"ip", "link", "set", "lan0", "up"}}) {
    ASSERT_TRUE(run(cmd));
  }
  lab.ns.enter_b();
  ASSERT_TRUE(run({"ip", "addr", "add", "10.60.0.2/24", "dev", "lan1"}));
  ASSERT_TRUE(run({"ip", "addr", "add", "fd60::2/64", "dev", "lan1"}));
  ASSERT_TRUE(run({"ip", "link", "set", "lan1", "up"}));
  for (int family : {AF_INET, AF_INET6}) {
    UniqueFd s(::socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_in6 a6{};
    sockaddr_in a4{};
    a4.sin_family = AF_INET, a4.sin_port = htons(5000);
    a6.sin6_family = AF_INET6, a6.sin6_port = htons(5000);
    int v6only = 1;
    (void)::setsockopt(s.get(), IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
    int rc = family == AF_INET ? ::bind(s.get(), reinterpret_cast<sockaddr*>(&a4), sizeof a4)
                               : ::bind(s.get(), reinterpret_cast<sockaddr*>(&a6), sizeof a6);
    ASSERT_EQ(rc, 0) << std::strerror(errno);
    (family == AF_INET ? lab.b_sock4 : lab.b_sock6) = std::move(s);
  }
  lab.ns.enter_a();
}

// Writes a datagram from the tunnel into A, and returns the source B sees
// (nullopt if nothing arrives within 2 s). B then answers that source if
// it has a route to it (without masquerade it has none).
std::optional<IpAddr> deliver(Lab& lab, const IpAddr& remote, uint16_t sport) {
  const bool v4 = remote.family == Family::V4;
  auto packet = v4 ? test::ipv4_udp(remote.to_string(), "10.60.0.2", sport, 5000, "hello")
                   : ipv6_udp(remote, A("fd60::2"), sport, 5000, "hello");
  EXPECT_TRUE(lab.tun->write(packet));
  const int fd = v4 ? lab.b_sock4.get() : lab.b_sock6.get();
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 2000) != 1) return std::nullopt;
  sockaddr_storage from{};
  socklen_t len = sizeof from;
  char buf[64];
  if (::recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len) != 5) return std::nullopt;
  (void)::sendto(fd, "reply", 5, 0, reinterpret_cast<sockaddr*>(&from), len);
  if (v4) {
    const auto* a = reinterpret_cast<const uint8_t*>(&reinterpret_cast<sockaddr_in*>(&from)->sin_addr);
    return IpAddr::v4(std::span<const uint8_t, 4>(a, 4));
  }
  const auto* a = reinterpret_cast<const uint8_t*>(&reinterpret_cast<sockaddr_in6*>(&from)->sin6_addr);
  return IpAddr::v6(std::span<const uint8_t, 16>(a, 16));
}

// B's answer must come back out of the TUN device addressed to the remote
// sender: conntrack undid the masquerade.
void expect_reply_in_tunnel(Lab& lab, const IpAddr& remote, uint16_t sport) {
  std::vector<uint8_t> buf(2048);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{lab.tun->fd(), POLLIN, 0};
    if (::poll(&p, 1, 100) != 1) continue;
    auto n = lab.tun->read(buf);
    if (!n) continue;
    auto info = parse_ip_packet(std::span<const uint8_t>(buf.data(), *n));
    if (!info || info->protocol != 17) continue;  // e.g. IPv6 router solicitations
    EXPECT_EQ(info->dst, remote);
    EXPECT_EQ(info->dst_port, sport);
    EXPECT_EQ(info->src_port, 5000);
    return;
  }
  ADD_FAILURE() << "no reply for " << remote.to_string() << " came back into the tunnel";
}

bool table_exists(const char* family) {
  auto r = run_process({"nft", "list", "table", family, "dialout_dlmq0"}, "", std::chrono::seconds(10));
  return r && r->exit_code == 0;
}

TEST(Masquerade, ScriptsAndNames) {
  EXPECT_TRUE(Masquerade::valid_device_name("dl0"));
  EXPECT_TRUE(Masquerade::valid_device_name("tun-a.1_x"));
  for (const char* bad : {"", "a b", "a\"b", "dl0;flush", "a\nb", "sixteen-chars-xx"}) {
    EXPECT_FALSE(Masquerade::valid_device_name(bad)) << bad;
    auto m = Masquerade::install(bad);
    ASSERT_FALSE(m);
    EXPECT_NE(m.error().find("must be 1..15 of"), std::string::npos) << m.error();
  }
  auto script = Masquerade::install_script("dl0");
  EXPECT_NE(script.find("table ip dialout_dl0 {}\ndelete table ip dialout_dl0\n"), std::string::npos);
  EXPECT_NE(script.find("table ip6 dialout_dl0 {\n"), std::string::npos);
  EXPECT_NE(script.find("iifname \"dl0\" oifname != \"dl0\" masquerade"), std::string::npos);
  EXPECT_EQ(Masquerade::remove_script("dl0"),
            "table ip dialout_dl0 {}\ndelete table ip dialout_dl0\n"
            "table ip6 dialout_dl0 {}\ndelete table ip6 dialout_dl0\n");
}

TEST(Masquerade, RepeatedDatagramsLeaveWithOurAddressAndRepliesReturn) {
  REQUIRE_NETNS_CAPS();
  in_fresh_netns([] {
    Lab lab;
    build(lab);
    const IpAddr remote4 = A("10.200.0.5"), remote6 = A("fd99::5");
    // Without masquerade B sees the remote source (and could not answer it).
    EXPECT_EQ(deliver(lab, remote4, 4000), remote4);
    EXPECT_EQ(deliver(lab, remote6, 4000), remote6);

    // A stale table from a crashed run is replaced, not an error.
    auto stale = run_process({"nft", "-f", "-"}, Masquerade::install_script("dlmq0"), std::chrono::seconds(10));
    ASSERT_TRUE(stale && stale->exit_code == 0);
    {
      auto m = Masquerade::install("dlmq0");
      ASSERT_TRUE(m) << m.error();
      EXPECT_EQ(m->table_name(), "dialout_dlmq0");
      EXPECT_TRUE(table_exists("ip"));
      EXPECT_TRUE(table_exists("ip6"));
      auto listed = run_process({"nft", "list", "table", "ip", "dialout_dlmq0"}, "", std::chrono::seconds(10));
      ASSERT_TRUE(listed);
      EXPECT_EQ(listed->output.find("masquerade"), listed->output.rfind("masquerade"));  // one rule

      EXPECT_EQ(deliver(lab, remote4, 4001), A("10.60.0.1"));
      expect_reply_in_tunnel(lab, remote4, 4001);
      EXPECT_EQ(deliver(lab, remote6, 4001), A("fd60::1"));
      expect_reply_in_tunnel(lab, remote6, 4001);

      // Moving keeps one owner: the table stays until the last one goes.
      Masquerade moved = std::move(*m);
      EXPECT_TRUE(table_exists("ip"));
    }
    EXPECT_FALSE(table_exists("ip"));
    EXPECT_FALSE(table_exists("ip6"));
    EXPECT_EQ(deliver(lab, remote4, 4002), remote4);
    EXPECT_EQ(deliver(lab, remote6, 4002), remote6);
  });
}

// nft runs with CAP_NET_ADMIN: it is the configured absolute path, never
// whatever PATH finds first.
TEST(Masquerade, NftIsRunByItsAbsolutePathNotFoundThroughPath) {
  char tmpl[] = "/tmp/dialout-fake-nft-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl, marker = dir + "/ran";
  {
    std::ofstream fake(dir + "/nft");
    fake << "#!/bin/sh\ntouch " << marker << "\n";
  }
  ASSERT_EQ(::chmod((dir + "/nft").c_str(), 0755), 0);
  const char* old = std::getenv("PATH");
  const std::string saved = old ? old : "";
  ::setenv("PATH", dir.c_str(), 1);
  auto m = Masquerade::install("dl0", "/nonexistent-dialout/nft");
  auto relative = Masquerade::install("dl0", "nft");
  ::setenv("PATH", saved.c_str(), 1);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error(),
            "masquerade dl0: install: /nonexistent-dialout/nft: no such file (is the nftables package installed, at "
            "nft-path?)");
  ASSERT_FALSE(relative);
  EXPECT_EQ(relative.error(), "masquerade dl0: install: nft path \"nft\" is not absolute");
  EXPECT_FALSE(std::filesystem::exists(marker)) << "the nft in PATH ran";
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace dialout
