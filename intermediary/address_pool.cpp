#include "intermediary/address_pool.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace dialout {

namespace {

// Big-endian +1 over the family's bytes (callers never step past last_).
IpAddr next(IpAddr a) {
  for (size_t i = a.size(); i-- > 0;) {
    if (++a.bytes[i] != 0) break;
  }
  return a;
}

IpAddr last_of(const Prefix& p) {
  IpAddr a = p.addr;
  for (unsigned bit = p.len; bit < a.max_prefix_len(); ++bit) {
    a.bytes[bit / 8] |= static_cast<uint8_t>(0x80u >> (bit % 8));
  }
  return a;
}

// Ranges that can never hold a host's address.
constexpr const char* kUnusable[] = {"0.0.0.0/8",  "127.0.0.0/8", "224.0.0.0/3",
                                     "::1/128",    "fe80::/10",   "ff00::/8"};

}  // namespace

const char* to_string(PoolError e) {
  switch (e) {
    case PoolError::Exhausted: return "address pool exhausted";
    case PoolError::OutOfRange: return "address outside the pool's range";
    case PoolError::InUse: return "address is leased";
    case PoolError::OwnerLimit: return "this identity holds the most addresses it may (live or kept for reconnects)";
  }
  return "unknown pool error";
}

Expected<AddressPool, std::string> AddressPool::make(const Prefix& range, Clock::duration grace,
                                                    size_t max_per_owner) {
  for (const char* text : kUnusable) {
    auto bad = *Prefix::parse(text);
    if (range.contains(bad) || bad.contains(range)) {
      return unexpected(fmt::format("address pool {} overlaps {}, which holds no host addresses",
                                    range.to_string(), text));
    }
  }
  if (grace < Clock::duration::zero()) return unexpected(std::string("negative grace period"));
  IpAddr first = range.addr;
  IpAddr last = last_of(range);
  bool v4 = range.addr.family == Family::V4;
  if (v4 && range.len <= 30) {
    first = next(first);  // network address
    last.bytes[3] -= 1;   // broadcast: the host part is all ones, so no borrow
  } else if (!v4 && range.len <= 126) {
    first = next(first);  // subnet-router anycast
  }
  return AddressPool(range, first, last, grace, max_per_owner);
}

void AddressPool::forget_holder(const IpAddr& addr, const Slot& slot) {
  keys_.erase(slot.key);
  if (auto o = owners_.find(slot.owner); o != owners_.end()) {
    std::erase(o->second, addr);
    if (o->second.empty()) owners_.erase(o);
  }
}

void AddressPool::add_holder(const IpAddr& addr, std::string_view key, std::string_view owner) {
  keys_.emplace(std::string(key), addr);
  auto o = owners_.find(owner);
  if (o == owners_.end()) o = owners_.emplace(std::string(owner), std::vector<IpAddr>{}).first;
  o->second.push_back(addr);
}

size_t AddressPool::held_by(std::string_view owner, Clock::time_point now) const {
  auto o = owners_.find(owner);
  if (o == owners_.end()) return 0;
  size_t n = 0;
  for (const IpAddr& a : o->second) n += reclaimable(slots_.at(a), now) ? 0 : 1;
  return n;
}

Expected<IpAddr, PoolError> AddressPool::assign(std::string_view key, Clock::time_point now, std::string_view owner) {
  if (auto k = keys_.find(key); k != keys_.end()) {
    slots_.at(k->second).live = true;
    return k->second;
  }
  if (held_by(owner, now) >= max_per_owner_) return unexpected(PoolError::OwnerLimit);
  // Walk held addresses in order; the first gap or reclaimable slot wins.
  IpAddr candidate = first_;
  for (auto it = slots_.begin(); it != slots_.end(); ++it) {
    if (candidate < it->first) break;
    Slot& slot = it->second;
    if (reclaimable(slot, now)) {
      forget_holder(candidate, slot);
      slot = Slot{std::string(key), std::string(owner), false, true, {}};
      add_holder(candidate, key, owner);
      return candidate;
    }
    if (candidate == last_) return unexpected(PoolError::Exhausted);
    candidate = next(candidate);
  }
  slots_.emplace(candidate, Slot{std::string(key), std::string(owner), false, true, {}});
  add_holder(candidate, key, owner);
  return candidate;
}

std::optional<AddressPool::Lease> AddressPool::lease(std::string_view key) const {
  auto k = keys_.find(key);
  if (k == keys_.end()) return std::nullopt;
  const Slot& slot = slots_.at(k->second);
  return Lease{k->second, slot.live, slot.released};
}

void AddressPool::revert(std::string_view key, const std::optional<Lease>& before) {
  auto k = keys_.find(key);
  if (k == keys_.end()) return;
  auto slot = slots_.find(k->second);
  if (!before) {
    forget_holder(slot->first, slot->second);
    slots_.erase(slot);
    return;
  }
  slot->second.live = before->live;
  slot->second.released = before->released;
}

void AddressPool::release(std::string_view key, Clock::time_point now) {
  auto k = keys_.find(key);
  if (k == keys_.end()) return;
  Slot& slot = slots_.at(k->second);
  if (!slot.live) return;
  slot.live = false;
  slot.released = now;
}

void AddressPool::expire(Clock::time_point now) {
  for (auto it = slots_.begin(); it != slots_.end();) {
    if (reclaimable(it->second, now)) {
      forget_holder(it->first, it->second);
      it = slots_.erase(it);
    } else {
      ++it;
    }
  }
}

Expected<void, PoolError> AddressPool::exclude(const IpAddr& addr) {
  if (!range_.contains(addr)) return unexpected(PoolError::OutOfRange);
  if (addr < first_ || last_ < addr) return {};  // never handed out anyway
  auto [it, inserted] = slots_.try_emplace(addr, Slot{{}, {}, true, false, {}});
  if (inserted) {
    ++excluded_;
    return {};
  }
  if (it->second.excluded) return {};
  return unexpected(PoolError::InUse);
}

std::optional<IpAddr> AddressPool::address_of(std::string_view key) const {
  auto k = keys_.find(key);
  if (k == keys_.end()) return std::nullopt;
  return k->second;
}

}  // namespace dialout
