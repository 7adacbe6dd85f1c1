// Multi-queue TUN as the engine will use it: one TunQueue per worker. The
// kernel picks the queue per flow, so every datagram of a flow must come
// out of one queue (order within a flow is then kept by one worker), and
// the queues together must see every datagram.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "netlib/ip_packet.hpp"
#include "tests/support/netns.hpp"
#include "tund/tun_device.hpp"

namespace dialout {
namespace {

constexpr unsigned kQueues = 4;
constexpr int kFlows = 16;
constexpr int kPerFlow = 5;

TEST(TunQueue, EachFlowStaysOnOneQueueAndNothingIsLost) {
  REQUIRE_NETNS_CAPS();
  testing::in_fresh_netns([] {
    auto tun = TunDevice::open({.name = "dlmq1", .multi_queue = true, .queues = kQueues});
    ASSERT_TRUE(tun) << tun.error();
    ASSERT_TRUE(testing::run({"ip", "link", "set", "dlmq1", "up"}));
    ASSERT_TRUE(testing::run({"ip", "addr", "add", "10.77.0.1/24", "dev", "dlmq1"}));

    std::vector<UniqueFd> sockets;
    sockaddr_in dst{};
    dst.sin_family = AF_INET;
    dst.sin_port = htons(9);
    ASSERT_EQ(::inet_pton(AF_INET, "10.77.0.2", &dst.sin_addr), 1);
    for (int f = 0; f < kFlows; ++f) {
      sockets.emplace_back(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
      for (int i = 0; i < kPerFlow; ++i) {
        ASSERT_EQ(::sendto(sockets.back().get(), "x", 1, 0, reinterpret_cast<sockaddr*>(&dst), sizeof dst), 1);
      }
    }

    std::vector<TunQueue> queues;
    for (unsigned q = 0; q < kQueues; ++q) queues.emplace_back(*tun, q);
    std::map<uint16_t, std::set<unsigned>> queues_of_flow;  // source port -> queues it came out of
    int datagrams = 0;
    std::vector<uint8_t> buf(2048);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    while (datagrams < kFlows * kPerFlow && std::chrono::steady_clock::now() < deadline) {
      std::vector<pollfd> fds;
      for (auto& q : queues) fds.push_back({q.fd(), POLLIN, 0});
      if (::poll(fds.data(), fds.size(), 100) <= 0) continue;
      for (unsigned q = 0; q < kQueues; ++q) {
        while (true) {
          auto n = queues[q].read(buf);
          if (!n) break;
          auto info = parse_ip_packet(std::span<const uint8_t>(buf.data(), *n));
          if (!info || info->protocol != IPPROTO_UDP || info->dst_port != 9) continue;
          queues_of_flow[info->src_port].insert(q);
          ++datagrams;
        }
      }
    }
    EXPECT_EQ(datagrams, kFlows * kPerFlow);
    EXPECT_EQ(queues_of_flow.size(), static_cast<size_t>(kFlows));
    std::set<unsigned> used;
    for (const auto& [port, qs] : queues_of_flow) {
      EXPECT_EQ(qs.size(), 1u) << "flow from port " << port << " was split over queues";
      used.insert(qs.begin(), qs.end());
    }
    // Spreading is the kernel's hash choice, not a contract: report it only.
    RecordProperty("queues_used", static_cast<int>(used.size()));
  });
}

}  // namespace
}  // namespace dialout
