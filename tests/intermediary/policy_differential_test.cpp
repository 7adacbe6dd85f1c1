// The compiled Policy (indexes built at load time) against the plain scan it
// replaced (policy_reference.hpp): random policies over a tiny alphabet, so
// names, CNs, heads and tails collide often, and thousands of random
// questions each; any disagreement prints the policy text and the question.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "intermediary/policy.hpp"
#include "tests/intermediary/policy_reference.hpp"

namespace dialout {
namespace {

class Generator {
 public:
  explicit Generator(uint32_t seed) : rng_(seed) {}

  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  bool coin(int percent) { return pick(100) < percent; }

  // [ab-] words; `lead` forces a letter first (site names start with [a-z0-9]).
  std::string word(int max_len, bool lead) {
    std::string s;
    int len = pick(max_len + 1);
    for (int i = 0; i < len; ++i) s += "ab-"[pick(lead && i == 0 ? 2 : 3)];
    return s;
  }
  std::string cn() { return std::vector<std::string>{"a", "b", "ab", "ba", "aa", "a-b", "bab"}[pick(7)]; }
  std::string group() { return "g" + std::to_string(pick(4)); }
  std::string site() {
    auto s = word(4, true);
    return s.empty() ? "a" : s;
  }

  NamePatterns::Pattern pattern() {
    NamePatterns::Pattern p;
    p.user = coin(50);
    p.glob = coin(50);
    p.head = word(3, true);
    if (p.user) p.tail = word(2, false);
    if (!p.user && p.head.empty()) p.head = "a";  // a bare '*' is refused
    if (!p.user && !p.glob && p.head.empty()) p.head = "b";
    return p;
  }
  static std::string render(const NamePatterns::Pattern& p) {
    return p.head + (p.user ? "{user}" + p.tail : "") + (p.glob ? "*" : "");
  }

  Prefix prefix() {
    if (coin(20)) {
      unsigned len = static_cast<unsigned>(pick(3)) * 16 + 16;  // /16, /32, /48 v6
      IpAddr a = *IpAddr::parse("fd00::");
      a.bytes[1] = static_cast<uint8_t>(pick(2));
      a.bytes[2] = static_cast<uint8_t>(pick(2));
      return *Prefix::make(a, len);
    }
    IpAddr a = *IpAddr::parse("10.0.0.0");
    a.bytes[1] = static_cast<uint8_t>(pick(2));
    a.bytes[2] = static_cast<uint8_t>(pick(4));
    a.bytes[3] = static_cast<uint8_t>(pick(4) * 64);
    unsigned len = static_cast<unsigned>(8 + pick(25));
    return *Prefix::make(a, len);
  }
  AccessRule rule() {
    AccessRule r;
    r.dst = prefix();
    constexpr uint8_t protos[] = {AccessRule::kAny, AccessRule::kTcp, AccessRule::kUdp, AccessRule::kIcmp};
    r.protocol = protos[pick(4)];
    if (r.protocol == AccessRule::kIcmp && r.dst.addr.family == Family::V6) r.protocol = AccessRule::kIcmpV6;
    if ((r.protocol == AccessRule::kTcp || r.protocol == AccessRule::kUdp) && coin(50)) {
      r.port_lo = static_cast<uint16_t>(pick(4) * 100 + 1);
      r.port_hi = static_cast<uint16_t>(r.port_lo + pick(3) * 100);
    }
    return r;
  }

  reference::Section section() {
    reference::Section s;
    for (int i = pick(4); i > 0; --i) s.names.push_back(pattern());
    for (int i = pick(3); i > 0; --i) s.prefixes.push_back(prefix());
    for (int i = pick(2); i > 0; --i) s.nest.push_back(prefix());
    for (int i = pick(4); i > 0; --i) s.reach.push_back(site());
    s.reach_any = coin(10);
    if (coin(40)) {
      for (int i = pick(4) + 1; i > 0; --i) s.allow.push_back(rule());
    }
    return s;
  }

  static void render(std::string& out, const std::string& header, const reference::Section& s) {
    out += header + "\n";
    for (const auto& p : s.names) out += "register = " + render(p) + "\n";
    for (const auto& p : s.prefixes) out += "advertise = " + p.to_string() + "\n";
    for (const auto& p : s.nest) out += "nest = " + p.to_string() + "\n";
    for (const auto& r : s.reach) out += "reach = " + r + "\n";
    if (s.reach_any) out += "reach = *\n";
    for (const auto& r : s.allow) out += "allow = " + r.to_string() + "\n";
  }

  // Returns the text; fills `ref` with the same policy.
  std::string policy(reference::ScanPolicy& ref) {
    std::string text;
    for (int i = pick(5); i > 0; --i) ref.users.try_emplace(cn(), section());
    for (int i = pick(4); i > 0; --i) ref.groups.try_emplace(group(), section());
    if (coin(50)) ref.fallback = section();
    for (const auto& [n, s] : ref.users) render(text, (coin(50) ? "[user " : "[identity ") + n + "]", s);
    for (const auto& [n, s] : ref.groups) render(text, "[group " + n + "]", s);
    if (ref.fallback) render(text, "[identity *]", *ref.fallback);
    return text;
  }

  PeerIdentity peer() {
    PeerIdentity p{cn(), {}};
    for (int i = pick(3); i > 0; --i) p.groups.push_back(group());
    return p;
  }
  // Often built from the same pieces as the patterns, so matches happen.
  std::string name(const PeerIdentity& who) {
    switch (pick(3)) {
      case 0: return word(6, false);
      case 1: return word(3, true) + who.name + word(3, false);
      default: return word(2, true) + cn() + word(2, false);
    }
  }
  PacketInfo packet() {
    PacketInfo pkt;
    Prefix p = prefix();
    pkt.dst = p.addr;
    pkt.dst.bytes[p.addr.family == Family::V4 ? 3 : 15] = static_cast<uint8_t>(pick(256));
    constexpr uint8_t protos[] = {1, 6, 17};
    pkt.protocol = protos[pick(3)];
    if (pkt.protocol == 1 && pkt.dst.family == Family::V6) pkt.protocol = 58;
    if (pkt.protocol != 1 && pkt.protocol != 58) pkt.dst_port = static_cast<uint16_t>(pick(700));
    pkt.fragment = coin(10);
    return pkt;
  }

 private:
  std::mt19937 rng_;
};

TEST(PolicyDifferential, CompiledAnswersLikeTheScan) {
  Generator gen(17);
  int asked = 0, yes = 0;
  for (int round = 0; round < 300; ++round) {
    reference::ScanPolicy ref;
    std::string text = gen.policy(ref);
    auto parsed = Policy::parse(text, "random");
    ASSERT_TRUE(parsed) << parsed.error().to_string() << "\n" << text;
    const Policy& compiled = *parsed;
    for (int q = 0; q < 60; ++q) {
      PeerIdentity who = gen.peer();
      std::string name = gen.name(who);
      std::string site = gen.site();
      Prefix prefix = gen.prefix();
      PacketInfo pkt = gen.packet();
      auto where = [&] {
        return "policy:\n" + text + "peer " + who.name + " groups " + std::to_string(who.groups.size()) + " name " +
               name + " site " + site + " prefix " + prefix.to_string() + " dst " + pkt.dst.to_string();
      };
      bool r = ref.may_register(who, name);
      ASSERT_EQ(compiled.may_register(who, name), r) << where();
      ASSERT_EQ(compiled.may_reach(who, site), ref.may_reach(who, site)) << where();
      ASSERT_EQ(compiled.may_advertise(who, prefix), ref.may_advertise(who, prefix)) << where();
      ASSERT_EQ(compiled.may_nest(who, prefix), ref.may_nest(who, prefix)) << where();
      ASSERT_EQ(compiled.has_allow_rules(who), ref.has_allow_rules(who)) << where();
      bool a = ref.allows_packet(who, pkt);
      ASSERT_EQ(compiled.allows_packet(who, pkt), a) << where();
      asked += 6;
      yes += r + a;
    }
  }
  // The generator must produce both answers often, or the comparison proves little.
  EXPECT_GT(yes, asked / 20);
  EXPECT_LT(yes, asked / 2);
}

// A section with many names: the compiled answer does not depend on how many
// there are (checked by answers, not time: benchmarks live in bench/).
TEST(PolicyDifferential, ManyNamesAndPatterns) {
  std::string text = "[identity hq]\nregister = hq\n";
  for (int i = 0; i < 5000; ++i) text += "reach = laptop-" + std::to_string(i) + "\n";
  text += "[group eng]\n";
  for (int i = 0; i < 2000; ++i) text += "register = team" + std::to_string(i) + "-{user}, pool" + std::to_string(i) + "-*\n";
  auto p = Policy::parse(text, "big");
  ASSERT_TRUE(p) << p.error().to_string();
  EXPECT_TRUE(p->may_reach("hq", "laptop-4999"));
  EXPECT_FALSE(p->may_reach("hq", "laptop-5000"));
  PeerIdentity bob{"bob", {"eng"}};
  EXPECT_TRUE(p->may_register(bob, "team1999-bob"));
  EXPECT_FALSE(p->may_register(bob, "team2000-bob"));
  EXPECT_TRUE(p->may_register(bob, "pool7-x"));
  EXPECT_TRUE(p->may_register(bob, "pool7-"));
  EXPECT_FALSE(p->may_register(bob, "pool"));
}

}  // namespace
}  // namespace dialout
