// Longest-prefix-match table from IP prefixes to values.
//
// One hash map per prefix length and family. A lookup masks the address once
// per populated length, longest first, and stops at the first hit: it costs a
// handful of hash probes (real tables use few distinct lengths), never
// allocates, and erase is as simple as insert, so the registry can churn
// without leaving dead trie nodes behind.
//
// An ordered index (address, length) per family answers "which prefixes lie
// inside this one" (any_within) with one search instead of a scan; it costs
// a tree node per prefix, paid on insert, never on lookup.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <functional>
#include <set>
#include <span>
#include <unordered_map>
#include <vector>

#include "netlib/ip_address.hpp"

namespace dialout {

template <class V>
class PrefixTable {
 public:
  // False if exactly this prefix is already present (the value is left alone).
  bool insert(const Prefix& p, V value) {
    auto fam = family(p.addr.family);
    if (p.len > fam.max_len) return false;
    auto [it, inserted] = fam.by_len[p.len].try_emplace(key_of(p.addr.bytes, p.len), std::move(value));
    (void)it;
    if (!inserted) return false;
    if (fam.by_len[p.len].size() == 1) fam.add_len(p.len);
    fam.ordered.emplace(key_of(p.addr.bytes, p.len), p.len);
    ++size_;
    return true;
  }

  bool erase(const Prefix& p) {
    auto fam = family(p.addr.family);
    if (p.len > fam.max_len) return false;
    auto& map = fam.by_len[p.len];
    Key key = key_of(p.addr.bytes, p.len);
    if (map.erase(key) == 0) return false;
    if (map.empty()) fam.remove_len(p.len);
    fam.ordered.erase({key, p.len});
    --size_;
    return true;
  }

  // Longest-prefix match; nullptr if no prefix contains the address.
  const V* lookup(const IpAddr& a) const {
    const auto fam = family(a.family);
    for (uint8_t len : fam.lens) {  // longest first
      const auto& map = fam.by_len[len];
      auto it = map.find(key_of(a.bytes, len));
      if (it != map.end()) return &it->second;
    }
    return nullptr;
  }

  const V* find_exact(const Prefix& p) const {
    const auto fam = family(p.addr.family);
    if (p.len > fam.max_len) return nullptr;
    const auto& map = fam.by_len[p.len];
    auto it = map.find(key_of(p.addr.bytes, p.len));
    return it == map.end() ? nullptr : &it->second;
  }

  // Calls f(prefix, value) on every prefix that contains `p` (`p` itself
  // included), longest first, until f returns true; returns whether one did.
  // One hash probe per populated length up to p.len; no allocation.
  template <class F>
  bool any_covering(const Prefix& p, F&& f) const {
    const auto fam = family(p.addr.family);
    if (p.len > fam.max_len) return false;
    for (uint8_t len : fam.lens) {  // longest first
      if (len > p.len) continue;
      Prefix covering = prefix_of(p.addr.family, key_of(p.addr.bytes, len), len);
      auto it = fam.by_len[len].find(covering.addr.bytes);
      if (it != fam.by_len[len].end() && f(static_cast<const Prefix&>(covering), it->second)) return true;
    }
    return false;
  }

  // Calls f(prefix, value) on every prefix inside `p` (`p` itself included),
  // in address order, until f returns true; returns whether one did. One
  // search in the ordered index, then one step per prefix inside `p`: the
  // cost follows what lies inside, not the size of the table. No allocation.
  template <class F>
  bool any_within(const Prefix& p, F&& f) const {
    const auto fam = family(p.addr.family);
    if (p.len > fam.max_len) return false;
    const Key outer = key_of(p.addr.bytes, p.len);
    // Ordered by address, then length: a prefix inside `p` starts at or after
    // p's address, and one starting inside p's range is never shorter than p
    // (a shorter one would have to start at p's address, and sorts first).
    for (auto it = fam.ordered.lower_bound({outer, p.len}); it != fam.ordered.end(); ++it) {
      const auto& [key, len] = *it;
      if (key_of(key, p.len) != outer) break;  // past the end of p's range
      auto found = fam.by_len[len].find(key);
      if (found != fam.by_len[len].end() && f(prefix_of(p.addr.family, key, len), found->second)) return true;
    }
    return false;
  }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  void clear() {
    v4_ = Family4{};
    v6_ = Family6{};
    size_ = 0;
  }

  // F(const Prefix&, const V&). Order: V4 then V6, shortest length first;
  // within a length the order is unspecified.
  template <class F>
  void for_each(F&& f) const {
    visit(v4_, Family::V4, f);
    visit(v6_, Family::V6, f);
  }

 private:
  using Key = std::array<uint8_t, 16>;

  struct KeyHash {
    size_t operator()(const Key& k) const {
      uint64_t a, b;
      std::memcpy(&a, k.data(), 8);
      std::memcpy(&b, k.data() + 8, 8);
      // Fixed-key multiply-xorshift mix: keys are attacker-influenced only
      // through registered prefixes, which policy already bounds.
      uint64_t h = (a ^ 0x9e3779b97f4a7c15ull) * 0xbf58476d1ce4e5b9ull;
      h ^= (b + 0x94d049bb133111ebull) * 0xc2b2ae3d27d4eb4full;
      h ^= h >> 31;
      h *= 0xd6e8feb86659fd39ull;
      return static_cast<size_t>(h ^ (h >> 29));
    }
  };
  using Map = std::unordered_map<Key, V, KeyHash>;

  using Ordered = std::set<std::pair<Key, uint8_t>>;  // (masked address, length)

  template <unsigned MaxLen>
  struct FamilyMaps {
    static constexpr unsigned max_len = MaxLen;
    std::array<Map, MaxLen + 1> by_len;
    std::vector<uint8_t> lens;  // populated lengths, descending
    Ordered ordered;            // every prefix, for any_within
  };
  using Family4 = FamilyMaps<32>;
  using Family6 = FamilyMaps<128>;

  // Generic accessors over the two families: one code path for both.
  struct FamilyRef {
    std::span<Map> by_len;
    std::vector<uint8_t>& lens;
    Ordered& ordered;
    unsigned max_len;
    void add_len(uint8_t len) {
      lens.insert(std::upper_bound(lens.begin(), lens.end(), len, std::greater<>()), len);
    }
    void remove_len(uint8_t len) { std::erase(lens, len); }
  };
  struct ConstFamilyRef {
    std::span<const Map> by_len;
    const std::vector<uint8_t>& lens;
    const Ordered& ordered;
    unsigned max_len;
  };

  FamilyRef family(Family f) {
    if (f == Family::V4) return {v4_.by_len, v4_.lens, v4_.ordered, Family4::max_len};
    return {v6_.by_len, v6_.lens, v6_.ordered, Family6::max_len};
  }
  ConstFamilyRef family(Family f) const {
    if (f == Family::V4) return {v4_.by_len, v4_.lens, v4_.ordered, Family4::max_len};
    return {v6_.by_len, v6_.lens, v6_.ordered, Family6::max_len};
  }

  static Prefix prefix_of(Family f, const Key& key, unsigned len) {
    Prefix p;
    p.addr.family = f;
    p.addr.bytes = key;
    p.len = static_cast<uint8_t>(len);
    return p;
  }

  static Key key_of(const std::array<uint8_t, 16>& bytes, unsigned len) {
    Key k{};
    unsigned full = len / 8;
    std::memcpy(k.data(), bytes.data(), full);
    if (len % 8) k[full] = static_cast<uint8_t>(bytes[full] & (0xff00u >> (len % 8)));
    return k;
  }

  template <class Fam, class F>
  static void visit(const Fam& fam, Family f, F& fn) {
    for (unsigned len = 0; len <= Fam::max_len; ++len) {
      for (const auto& [key, value] : fam.by_len[len]) fn(static_cast<const Prefix&>(prefix_of(f, key, len)), value);
    }
  }

  Family4 v4_;
  Family6 v6_;
  size_t size_ = 0;
};

}  // namespace dialout
