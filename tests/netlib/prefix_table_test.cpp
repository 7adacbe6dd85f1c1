#include "netlib/prefix_table.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace dialout {
namespace {

Prefix P(const char* s) {
  auto p = Prefix::parse(s);
  EXPECT_TRUE(p.has_value()) << s;
  return p.value_or(Prefix{});
}
IpAddr A(const char* s) {
  auto a = IpAddr::parse(s);
  EXPECT_TRUE(a.has_value()) << s;
  return a.value_or(IpAddr{});
}

TEST(PrefixTable, InsertEraseFindExact) {
  PrefixTable<int> t;
  EXPECT_TRUE(t.empty());
  EXPECT_TRUE(t.insert(P("10.1.0.0/24"), 1));
  EXPECT_FALSE(t.insert(P("10.1.0.0/24"), 2));  // exact duplicate refused, value kept
  ASSERT_NE(t.find_exact(P("10.1.0.0/24")), nullptr);
  EXPECT_EQ(*t.find_exact(P("10.1.0.0/24")), 1);
  EXPECT_EQ(t.find_exact(P("10.1.0.0/25")), nullptr);
  EXPECT_EQ(t.find_exact(P("10.1.0.0/23")), nullptr);
  EXPECT_TRUE(t.insert(P("10.1.0.0/25"), 3));
  EXPECT_EQ(t.size(), 2u);
  EXPECT_TRUE(t.erase(P("10.1.0.0/24")));
  EXPECT_FALSE(t.erase(P("10.1.0.0/24")));
  EXPECT_EQ(t.find_exact(P("10.1.0.0/24")), nullptr);
  EXPECT_EQ(t.size(), 1u);
  t.clear();
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.lookup(A("10.1.0.1")), nullptr);
}

TEST(PrefixTable, FamiliesKeptApart) {
  PrefixTable<int> t;
  EXPECT_TRUE(t.insert(P("0.0.0.0/0"), 4));
  EXPECT_TRUE(t.insert(P("::/0"), 6));
  // ::a01:1 has the same leading bytes pattern as nothing in V4, but the
  // all-zero V6 address and 0.0.0.0 share their byte array: only family separates them.
  EXPECT_TRUE(t.insert(P("::/32"), 60));
  EXPECT_EQ(*t.lookup(A("0.0.0.0")), 4);
  EXPECT_EQ(*t.lookup(A("::")), 60);
  EXPECT_EQ(*t.lookup(A("fd00::1")), 6);
  EXPECT_EQ(*t.lookup(A("10.0.0.1")), 4);
  EXPECT_TRUE(t.erase(P("0.0.0.0/0")));
  EXPECT_EQ(t.lookup(A("10.0.0.1")), nullptr);
  EXPECT_EQ(*t.lookup(A("fd00::1")), 6);
}

struct LookupCase {
  const char* addr;
  int want;  // -1 = no match
};

TEST(PrefixTable, LongestMatchTable) {
  PrefixTable<int> t;
  t.insert(P("10.0.0.0/8"), 8);
  t.insert(P("10.1.0.0/16"), 16);
  t.insert(P("10.1.2.0/24"), 24);
  t.insert(P("10.1.2.128/25"), 25);
  t.insert(P("10.1.2.3/32"), 32);
  t.insert(P("fd00::/8"), 108);
  t.insert(P("fd00:1::/64"), 164);
  t.insert(P("fd00:1::1/128"), 228);
  const LookupCase cases[] = {
      {"10.1.2.3", 32},   {"10.1.2.4", 24},   {"10.1.2.200", 25}, {"10.1.3.1", 16},
      {"10.2.0.0", 8},    {"11.0.0.0", -1},   {"9.255.255.255", -1}, {"fd00:1::1", 228},
      {"fd00:1::2", 164}, {"fd00:2::1", 108}, {"fe80::1", -1},
  };
  for (const auto& c : cases) {
    const int* v = t.lookup(A(c.addr));
    if (c.want < 0) {
      EXPECT_EQ(v, nullptr) << c.addr;
    } else {
      ASSERT_NE(v, nullptr) << c.addr;
      EXPECT_EQ(*v, c.want) << c.addr;
    }
  }
}

TEST(PrefixTable, ForEachVisitsEverything) {
  PrefixTable<int> t;
  t.insert(P("10.0.0.0/8"), 1);
  t.insert(P("192.168.0.0/16"), 2);
  t.insert(P("fd00::/8"), 3);
  std::map<std::string, int> seen;
  t.for_each([&](const Prefix& p, const int& v) { seen[p.to_string()] = v; });
  std::map<std::string, int> want{{"10.0.0.0/8", 1}, {"192.168.0.0/16", 2}, {"fd00::/8", 3}};
  EXPECT_EQ(seen, want);
}

// What any_covering / any_within visit, as sorted prefix texts.
std::vector<std::string> covering(const PrefixTable<int>& t, const char* p) {
  std::vector<std::string> out;
  EXPECT_FALSE(t.any_covering(P(p), [&](const Prefix& q, const int&) {
    out.push_back(q.to_string());
    return false;
  }));
  std::sort(out.begin(), out.end());
  return out;
}
std::vector<std::string> within(const PrefixTable<int>& t, const char* p) {
  std::vector<std::string> out;
  EXPECT_FALSE(t.any_within(P(p), [&](const Prefix& q, const int&) {
    out.push_back(q.to_string());
    return false;
  }));
  std::sort(out.begin(), out.end());
  return out;
}

TEST(PrefixTable, CoveringAndWithinTable) {
  PrefixTable<int> t;
  for (const char* p : {"10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "10.1.2.128/25", "10.1.2.3/32", "10.2.0.0/24",
                        "11.0.0.0/8", "fd00::/8", "fd00:1::/64", "fd00:1::1/128", "::/0"})
    ASSERT_TRUE(t.insert(P(p), 0)) << p;
  using V = std::vector<std::string>;
  struct Case {
    const char* prefix;
    V covering, within;
  };
  const Case cases[] = {
      {"10.1.2.0/24", V{"10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24"}, V{"10.1.2.0/24", "10.1.2.128/25", "10.1.2.3/32"}},
      {"10.1.2.0/25", V{"10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24"}, V{"10.1.2.3/32"}},
      {"10.1.2.128/26", V{"10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "10.1.2.128/25"}, V{}},
      {"10.0.0.0/7", V{}, V{"10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "10.1.2.128/25", "10.1.2.3/32", "10.2.0.0/24",
                            "11.0.0.0/8"}},
      {"10.0.0.0/15", V{"10.0.0.0/8"}, V{"10.1.0.0/16", "10.1.2.0/24", "10.1.2.128/25", "10.1.2.3/32"}},
      {"10.3.0.0/16", V{"10.0.0.0/8"}, V{}},
      {"12.0.0.0/8", V{}, V{}},
      {"0.0.0.0/0", V{}, V{"10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "10.1.2.128/25", "10.1.2.3/32", "10.2.0.0/24",
                           "11.0.0.0/8"}},
      {"10.1.2.3/32", V{"10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "10.1.2.3/32"}, V{"10.1.2.3/32"}},
      {"fd00:1::/48", V{"::/0", "fd00::/8"}, V{"fd00:1::/64", "fd00:1::1/128"}},
      {"fd00:1::1/128", V{"::/0", "fd00:1::/64", "fd00:1::1/128", "fd00::/8"}, V{"fd00:1::1/128"}},
      {"fe80::/10", V{"::/0"}, V{}},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(covering(t, c.prefix), c.covering) << c.prefix;
    EXPECT_EQ(within(t, c.prefix), c.within) << c.prefix;
  }
  // Stops at the first prefix f accepts, and says so.
  int calls = 0;
  EXPECT_TRUE(t.any_within(P("10.0.0.0/8"), [&](const Prefix&, const int&) { return ++calls == 2; }));
  EXPECT_EQ(calls, 2);
  // Erased prefixes leave the index too.
  ASSERT_TRUE(t.erase(P("10.1.2.128/25")));
  EXPECT_EQ(within(t, "10.1.2.0/24"), (V{"10.1.2.0/24", "10.1.2.3/32"}));
  EXPECT_EQ(covering(t, "10.1.2.128/26"), (V{"10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24"}));
  t.clear();
  EXPECT_EQ(within(t, "0.0.0.0/0"), V{});
}

// The naive reference: scan every prefix, keep the longest that contains the address.
struct NaiveTable {
  std::vector<std::pair<Prefix, int>> entries;
  const int* lookup(const IpAddr& a) const {
    const std::pair<Prefix, int>* best = nullptr;
    for (const auto& e : entries) {
      if (e.first.contains(a) && (!best || e.first.len > best->first.len)) best = &e;
    }
    return best ? &best->second : nullptr;
  }
};

IpAddr random_addr(std::mt19937_64& rng, Family f) {
  IpAddr a;
  a.family = f;
  // A small pool of leading bytes so random prefixes overlap and nest often.
  size_t n = f == Family::V4 ? 4 : 16;
  for (size_t i = 0; i < n; ++i) a.bytes[i] = static_cast<uint8_t>(i < 2 ? rng() % 4 : rng());
  return a;
}

TEST(PrefixTable, DifferentialAgainstNaive) {
  std::mt19937_64 rng(12345);
  PrefixTable<int> t;
  NaiveTable naive;
  for (int i = 0; i < 4000; ++i) {
    Family f = rng() % 2 ? Family::V4 : Family::V6;
    unsigned max = f == Family::V4 ? 32 : 128;
    auto p = *Prefix::make(random_addr(rng, f), static_cast<unsigned>(rng() % (max + 1)));
    bool dup = std::any_of(naive.entries.begin(), naive.entries.end(),
                           [&](const auto& e) { return e.first == p; });
    ASSERT_EQ(t.insert(p, i), !dup) << p.to_string();
    if (!dup) naive.entries.emplace_back(p, i);
  }
  // Erase a third so the table's bookkeeping of populated lengths is exercised.
  for (size_t i = 0; i < naive.entries.size();) {
    if (rng() % 3 == 0) {
      ASSERT_TRUE(t.erase(naive.entries[i].first));
      naive.entries.erase(naive.entries.begin() + static_cast<long>(i));
    } else {
      ++i;
    }
  }
  ASSERT_EQ(t.size(), naive.entries.size());
  int hits = 0;
  for (int i = 0; i < 20000; ++i) {
    IpAddr a = random_addr(rng, rng() % 2 ? Family::V4 : Family::V6);
    const int* got = t.lookup(a);
    const int* want = naive.lookup(a);
    ASSERT_EQ(got == nullptr, want == nullptr) << a.to_string();
    if (got) {
      ASSERT_EQ(*got, *want) << a.to_string();
      ++hits;
    }
  }
  EXPECT_GT(hits, 1000);  // the test means nothing if nothing matched
  for (const auto& [p, v] : naive.entries) {
    const int* e = t.find_exact(p);
    ASSERT_NE(e, nullptr) << p.to_string();
    EXPECT_EQ(*e, v);
  }
  // Covering and within against a scan, for random prefixes of every length.
  size_t nested = 0;
  for (int i = 0; i < 3000; ++i) {
    Family f = rng() % 2 ? Family::V4 : Family::V6;
    unsigned max = f == Family::V4 ? 32 : 128;
    auto q = *Prefix::make(random_addr(rng, f), static_cast<unsigned>(rng() % (max + 1)));
    std::multiset<int> want_cover, want_within, got_cover, got_within;
    for (const auto& [p, v] : naive.entries) {
      if (p.contains(q)) want_cover.insert(v);
      if (q.contains(p)) want_within.insert(v);
    }
    t.any_covering(q, [&](const Prefix& p, const int& v) {
      EXPECT_TRUE(p.contains(q));
      got_cover.insert(v);
      return false;
    });
    t.any_within(q, [&](const Prefix& p, const int& v) {
      EXPECT_TRUE(q.contains(p));
      got_within.insert(v);
      return false;
    });
    ASSERT_EQ(got_cover, want_cover) << q.to_string();
    ASSERT_EQ(got_within, want_within) << q.to_string();
    nested += want_within.size();
  }
  EXPECT_GT(nested, 1000u);  // random prefixes did contain stored ones
}

}  // namespace
}  // namespace dialout
