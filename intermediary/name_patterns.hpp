// The `register` patterns of one policy section (syntax in policy.hpp),
// indexed at load time so a match costs the same for one pattern or ten
// thousand: the work follows the length of the name asked about (at most 63
// characters for a valid site name), never the number of patterns.
//
// Four kinds, four indexes:
//   literal        "office-a"            exact-name hash set
//   prefix glob    "eng-*"               hash set of heads; a name is probed
//                                        once per head length that exists
//   {user}         "laptop-{user}.x"     hash set of (head, tail) pairs; probed
//                                        at each head length where the CN follows
//   {user} glob    "{user}-*"            as above, once per tail length that exists
#pragma once

#include <bitset>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>

namespace dialout {

class NamePatterns {
 public:
  // head [{user} tail] [*]; the parser checked that head + "u" + tail is a
  // valid site name, so head and tail are each shorter than kMaxPart.
  struct Pattern {
    std::string head, tail;
    bool user = false;
    bool glob = false;
  };
  static constexpr size_t kMaxPart = 64;

  // Throws std::length_error for a head or tail of kMaxPart or more (the
  // parser never produces one; this runs at load time only).
  void add(const Pattern& p);
  // No allocation.
  bool matches(std::string_view name, std::string_view user) const;
  bool empty() const { return count_ == 0; }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    size_t operator()(const std::pair<std::string_view, std::string_view>& p) const {
      size_t h = std::hash<std::string_view>{}(p.first);
      return h ^ (std::hash<std::string_view>{}(p.second) + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2));
    }
    size_t operator()(const std::pair<std::string, std::string>& p) const {
      return (*this)(std::pair<std::string_view, std::string_view>(p.first, p.second));
    }
  };
  struct PairEq {
    using is_transparent = void;
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
      return std::string_view(a.first) == std::string_view(b.first) &&
             std::string_view(a.second) == std::string_view(b.second);
    }
  };
  using Names = std::unordered_set<std::string, Hash, std::equal_to<>>;
  using Pairs = std::unordered_set<std::pair<std::string, std::string>, Hash, PairEq>;

  bool user_match(std::string_view name, std::string_view user) const;

  Names literal_;
  Names glob_heads_;
  Pairs user_exact_;
  Pairs user_glob_;
  std::bitset<kMaxPart> glob_head_lens_;  // lengths present in glob_heads_
  std::bitset<kMaxPart> user_head_lens_;  // head lengths of both {user} sets
  std::bitset<kMaxPart> user_glob_tail_lens_;
  size_t count_ = 0;
};

}  // namespace dialout
