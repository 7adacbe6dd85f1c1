#include "intermediary/name_patterns.hpp"

#include <stdexcept>

namespace dialout {

void NamePatterns::add(const Pattern& p) {
  if (p.head.size() >= kMaxPart || p.tail.size() >= kMaxPart) {
    throw std::length_error("register pattern part longer than a site name");
  }
  ++count_;
  if (!p.user) {
    if (!p.glob) {
      literal_.insert(p.head);
      return;
    }
    glob_heads_.insert(p.head);
    glob_head_lens_.set(p.head.size());
    return;
  }
  user_head_lens_.set(p.head.size());
  if (p.glob) {
    user_glob_.emplace(p.head, p.tail);
    user_glob_tail_lens_.set(p.tail.size());
  } else {
    user_exact_.emplace(p.head, p.tail);
  }
}

bool NamePatterns::matches(std::string_view name, std::string_view user) const {
  if (literal_.contains(name)) return true;
  // `head*` matches every name starting with head, head alone included.
  for (size_t len = 0; len < kMaxPart && len <= name.size(); ++len) {
    if (glob_head_lens_.test(len) && glob_heads_.contains(name.substr(0, len))) return true;
  }
  return user_match(name, user);
}

bool NamePatterns::user_match(std::string_view name, std::string_view user) const {
  if (user_exact_.empty() && user_glob_.empty()) return false;
  using View = std::pair<std::string_view, std::string_view>;
  for (size_t i = 0; i < kMaxPart && i <= name.size(); ++i) {
    if (!user_head_lens_.test(i)) continue;
    auto rest = name.substr(i);
    if (!rest.starts_with(user)) continue;
    auto after = rest.substr(user.size());
    auto head = name.substr(0, i);
    if (user_exact_.contains(View(head, after))) return true;
    for (size_t j = 0; j < kMaxPart && j <= after.size(); ++j) {
      if (user_glob_tail_lens_.test(j) && user_glob_.contains(View(head, after.substr(0, j)))) return true;
    }
  }
  return false;
}

}  // namespace dialout
