#include "netlib/prefix_table.hpp"

#include <gtest/gtest.h>

#include <map>
#include <random>
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
}

}  // namespace
}  // namespace dialout
