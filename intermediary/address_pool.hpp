// Virtual addresses for laptops, handed out from one configured range.
//
// Pure bookkeeping (no I/O, time as a parameter). The caller keys a lease by
// "identity/name" and calls assign() when the laptop's site appears and
// release() when its last session is gone.
//
// Per owner (the identity): at most `max_per_owner` leases, live or in grace.
// Each new name is a new key, so without the cap one identity allowed a
// wildcard name (`register = laptop-{user}-*`) could take the whole pool by
// looping over names. A registration refused after assign() hands its
// address back with revert(): a lease nobody used gets no grace.
//
// Sticky: a key gets the same address again while its lease is live, during
// the grace period after release (default 10 minutes), and even later as long
// as no other key has taken the address since — so a roaming laptop keeps
// its address across reconnects and its open TCP connections survive. Only
// after the grace period may the address go to another key.
//
// Deterministic: a new key gets the lowest free address; an address whose
// grace has run out counts as free (reclaimed lazily, so correctness does not
// depend on expire() being called; expire() only returns the memory).
//
// Never handed out: the network and broadcast addresses of an IPv4 range
// (a /31 or /32 hands out its addresses as is), the all-zero host address of
// an IPv6 range (the subnet-router anycast address, RFC 4291; /127 and /128
// as is), and addresses given to exclude() (e.g. the HQ gateway's own).
//
// Bounded: finding a free address walks the held addresses in order (no scan
// over the empty part of a huge IPv6 range), so it costs O(held) and memory is
// O(held); the number of keys is bounded by the authenticated sites.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "netlib/expected.hpp"
#include "netlib/ip_address.hpp"

namespace dialout {

enum class PoolError {
  Exhausted,   // every address is leased, in grace, or excluded
  OutOfRange,  // exclude(): the address is not in the range
  InUse,       // exclude(): the address is leased (live or in grace)
  OwnerLimit,  // the owner already holds max_per_owner leases (live or in grace)
};

const char* to_string(PoolError e);

class AddressPool {
 public:
  using Clock = std::chrono::steady_clock;

  // Refuses ranges overlapping addresses that can never be a host's
  // (IPv4 0/8, loopback, multicast/reserved; IPv6 loopback, link-local, multicast).
  static constexpr Clock::duration kDefaultGrace = std::chrono::minutes(10);

  static Expected<AddressPool, std::string> make(const Prefix& range, Clock::duration grace = kDefaultGrace,
                                                 size_t max_per_owner = SIZE_MAX);

  // Idempotent per key: a second assign for a live key returns its address.
  // A key that holds nothing yet counts against `owner`'s cap.
  Expected<IpAddr, PoolError> assign(std::string_view key, Clock::time_point now, std::string_view owner = {});

  // A key's lease as it stands, to undo an assign() with revert().
  struct Lease {
    IpAddr address;
    bool live = false;
    Clock::time_point released{};
  };
  std::optional<Lease> lease(std::string_view key) const;
  // Puts `key` back as lease() described it before assign(): a lease that
  // assign() created is dropped at once (nothing used it, so it has no grace
  // to keep), one it revived from grace goes back to grace as it was, and a
  // lease that was live stays live (another session holds it).
  void revert(std::string_view key, const std::optional<Lease>& before);
  // Starts the grace period; a no-op for unknown or already released keys
  // (a second release does not extend the grace).
  void release(std::string_view key, Clock::time_point now);
  // Forgets released leases whose grace has run out.
  void expire(Clock::time_point now);
  // Keeps `addr` from ever being handed out. An address of the range that is
  // never handed out anyway (network, broadcast) is accepted as a no-op.
  Expected<void, PoolError> exclude(const IpAddr& addr);

  // Addresses held by keys: live leases plus released ones not yet expired.
  size_t in_use() const { return slots_.size() - excluded_; }
  // Leases `owner` holds at `now`, live or in grace (what its cap counts).
  size_t held_by(std::string_view owner, Clock::time_point now) const;
  std::optional<IpAddr> address_of(std::string_view key) const;
  const Prefix& range() const { return range_; }
  Clock::duration grace() const { return grace_; }

 private:
  struct Slot {
    std::string key;  // empty when excluded
    std::string owner;
    bool excluded = false;
    bool live = false;
    Clock::time_point released{};
  };

  AddressPool(const Prefix& range, const IpAddr& first, const IpAddr& last, Clock::duration grace,
              size_t max_per_owner)
      : range_(range), first_(first), last_(last), grace_(grace), max_per_owner_(max_per_owner) {}
  bool reclaimable(const Slot& s, Clock::time_point now) const {
    return !s.excluded && !s.live && now - s.released >= grace_;
  }
  // Leaves the slot at `addr` without a key (it is about to be reused or erased).
  void forget_holder(const IpAddr& addr, const Slot& slot);
  void add_holder(const IpAddr& addr, std::string_view key, std::string_view owner);

  Prefix range_;
  IpAddr first_, last_;  // usable addresses, inclusive
  Clock::duration grace_;
  size_t max_per_owner_;
  std::map<IpAddr, Slot> slots_;                     // held or excluded, by address
  std::map<std::string, IpAddr, std::less<>> keys_;  // key -> its address
  // owner -> addresses its keys hold (at most max_per_owner_ plus those whose
  // grace ran out and expire() has not collected yet).
  std::map<std::string, std::vector<IpAddr>, std::less<>> owners_;
  size_t excluded_ = 0;
};

}  // namespace dialout
