// Bounds on connections that have not finished TLS + REGISTER yet
// ("pending"): in total, per source address, and a handshake rate per
// source address (token bucket). Without them a flood of silent TCP
// connections holds ~47 KB of relay memory each until the handshake
// timeout (issue 14).
//
// Pure bookkeeping: no I/O, no clock. The relay asks admit() at accept
// (with the accept time) and tells done() when a connection registers or
// closes; registered sessions are never in here, so never evicted. When a
// bound is reached the OLDEST pending connection (of that source, or
// overall) is evicted to make room: an attacker's old silent connections
// go before a site that just connected gets its turn. Over the rate, the
// new connection is refused at accept.
//
// Memory is bounded: at most max_total pending ids, and the per-source
// table holds at most max_sources entries (sources with nothing pending
// are forgotten first, those whose bucket is full before the others).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace dialout {

struct PendingLimitsConfig {
  size_t max_total = 1024;       // pending connections at once, overall
  size_t max_per_source = 32;    // ... from one source address
  double rate_per_source = 20;   // handshakes per second per source (0: no rate limit)
  double burst_per_source = 40;  // bucket size
  size_t max_sources = 0;        // per-source table bound (0: 4 * max_total, at least 1024)
};

// The "source" the per-source bounds count: an IPv4 address as it is, an
// IPv6 address as its /64 ("2001:db8:1:2::/64"). One IPv6 host usually
// holds a whole /64 and picks new addresses from it at will (privacy
// addresses), so per-address bounds alone would not bind it. Anything
// else (e.g. "unknown peer") is its own source.
std::string limit_source(std::string_view peer_host);

class PendingLimits {
 public:
  using Clock = std::chrono::steady_clock;
  using Id = uint64_t;

  struct Decision {
    bool admitted = false;    // false: over the source's rate, close it now
    std::vector<Id> evicted;  // oldest pending connections to close to make room
  };

  explicit PendingLimits(PendingLimitsConfig config);

  // A new connection `id` (ids increase with time) from `source`. Admitted
  // ones are pending until done(); evicted ones are already forgotten.
  Decision admit(Id id, std::string_view source, Clock::time_point now);
  // It registered, failed or closed: no longer pending (unknown ids: no-op).
  void done(Id id);

  bool contains(Id id) const { return by_age_.contains(id); }
  size_t pending() const { return by_age_.size(); }
  size_t pending_from(std::string_view source) const;
  size_t sources() const { return sources_.size(); }
  const PendingLimitsConfig& config() const { return config_; }

 private:
  struct Source {
    std::set<Id> pending;  // oldest first
    double tokens = 0;
    Clock::time_point refilled{};
  };
  // Takes a token from `src`'s bucket; false if it is empty.
  bool take_token(Source& src, Clock::time_point now) const;
  // Makes room for one more source entry (forgets idle ones).
  void trim_sources(Clock::time_point now);
  void forget(Id id);

  PendingLimitsConfig config_;
  std::map<Id, std::string> by_age_;  // every pending id, oldest first, and its source
  std::unordered_map<std::string, Source> sources_;
};

}  // namespace dialout
