// libFuzzer: the policy parser reads operator-written text at startup; it must
// reject garbage with an error, never crash, and answer queries on what it
// accepts — consistently.
//
// Input: policy text, optionally followed by a NUL byte and an IP datagram;
// the datagram (when it parses) is what allows_packet is asked about, beside
// a few fixed ones. The first line is also fed to AccessRule::parse alone,
// whose canonical text must parse back to the same rule.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

#include "intermediary/access_rule.hpp"
#include "netlib/ip_address.hpp"
#include "netlib/ip_packet.hpp"
#include "intermediary/peer_identity.hpp"
#include "intermediary/policy.hpp"

namespace {

using namespace dialout;

PacketInfo fixed_packet(const char* dst, uint8_t proto, uint16_t port, bool fragment) {
  PacketInfo p;
  p.dst = *IpAddr::parse(dst);
  p.src = p.dst;
  p.protocol = proto;
  p.dst_port = fragment ? 0 : port;
  p.fragment = fragment;
  return p;
}

void check_rule_round_trip(std::string_view text) {
  auto line = text.substr(0, text.find('\n'));
  auto rule = AccessRule::parse(line);
  if (!rule) {
    if (rule.error().empty()) __builtin_trap();
    return;
  }
  auto again = AccessRule::parse(rule->to_string());
  if (!again || !(*again == *rule)) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;  // load() caps real files; big inputs only slow the search
  const auto* nul = static_cast<const uint8_t*>(std::memchr(data, 0, size));
  size_t text_size = nul ? static_cast<size_t>(nul - data) : size;
  std::string_view text(reinterpret_cast<const char*>(data), text_size);
  check_rule_round_trip(text);

  auto p = Policy::parse(text, "fuzz");
  if (!p) {
    if (p.error().where.rfind("fuzz:", 0) != 0 || p.error().message.empty()) __builtin_trap();
    (void)p.error().to_string();
    return 0;
  }

  std::vector<PacketInfo> packets = {
      fixed_packet("10.2.0.20", 6, 443, false), fixed_packet("10.2.0.20", 17, 53, true),
      fixed_packet("fd00:2::1", 58, 0, false), fixed_packet("192.168.1.1", 1, 0, false)};
  if (nul) {
    auto parsed = parse_ip_packet(std::span<const uint8_t>(nul + 1, size - text_size - 1));
    if (parsed) packets.push_back(*parsed);
  }

  const PeerIdentity peers[] = {
      {"gw-a", {}}, {"alice", {}}, {"alice", {"eng"}}, {"bob", {"eng", "ops"}}, {"*", {"*"}}, {"", {}}};
  for (const auto& peer : peers) {
    PeerIdentity bare{peer.name, {}};
    for (std::string_view name : {"office-a", "laptop-alice", "alice-laptop", "ops-x", "laptop-bob"}) {
      bool with = p->may_register(peer, name);
      // Groups only ever add grants; the string overload is the bare peer.
      if (p->may_register(bare, name) && !with) __builtin_trap();
      if (p->may_register(peer.name, name) != p->may_register(bare, name)) __builtin_trap();
    }
    for (std::string_view dst : {"office-b", "hq", ""}) {
      if (p->may_reach(bare, dst) && !p->may_reach(peer, dst)) __builtin_trap();
      if (p->may_reach(peer.name, dst) != p->may_reach(bare, dst)) __builtin_trap();
    }
    for (const char* prefix : {"10.1.0.0/24", "::/0", "10.2.0.20/32"}) {
      auto pr = *Prefix::parse(prefix);
      if (p->may_advertise(bare, pr) && !p->may_advertise(peer, pr)) __builtin_trap();
      if (p->may_nest(bare, pr) && !p->may_nest(peer, pr)) __builtin_trap();
    }
    bool restricted = p->has_allow_rules(peer);
    for (const auto& pkt : packets) {
      if (!restricted && !p->allows_packet(peer, pkt)) __builtin_trap();
    }
  }
  return 0;
}
