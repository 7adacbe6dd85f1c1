#include "intermediary/pending_limits.hpp"

#include <algorithm>

#include "netlib/ip_address.hpp"

namespace dialout {

std::string limit_source(std::string_view peer_host) {
  auto ip = IpAddr::parse(peer_host);
  if (!ip || ip->family != Family::V6) return std::string(peer_host);
  return Prefix::make(*ip, 64)->to_string();
}

PendingLimits::PendingLimits(PendingLimitsConfig config) : config_(config) {
  config_.max_total = std::max<size_t>(config_.max_total, 1);
  config_.max_per_source = std::clamp<size_t>(config_.max_per_source, 1, config_.max_total);
  config_.burst_per_source = std::max(config_.burst_per_source, 1.0);
  // Sources with something pending are at most max_total, so this always
  // leaves room for idle ones to be forgotten.
  if (config_.max_sources <= config_.max_total) config_.max_sources = std::max<size_t>(4 * config_.max_total, 1024);
}

bool PendingLimits::take_token(Source& src, Clock::time_point now) const {
  if (config_.rate_per_source <= 0) return true;
  if (now > src.refilled) {
    double elapsed = std::chrono::duration<double>(now - src.refilled).count();
    src.tokens = std::min(config_.burst_per_source, src.tokens + elapsed * config_.rate_per_source);
    src.refilled = now;
  }
  if (src.tokens < 1.0) return false;
  src.tokens -= 1.0;
  return true;
}

void PendingLimits::trim_sources(Clock::time_point now) {
  if (sources_.size() < config_.max_sources) return;
  // First the idle sources whose bucket has refilled (forgetting them loses
  // nothing), then any idle one (it may start over with a full bucket).
  for (int pass = 0; pass < 2 && sources_.size() >= config_.max_sources; ++pass) {
    for (auto it = sources_.begin(); it != sources_.end();) {
      const Source& s = it->second;
      bool refilled = config_.rate_per_source <= 0 ||
                      s.tokens + std::chrono::duration<double>(now - s.refilled).count() * config_.rate_per_source >=
                          config_.burst_per_source;
      if (s.pending.empty() && (pass == 1 || refilled)) {
        it = sources_.erase(it);
      } else {
        ++it;
      }
    }
  }
}

PendingLimits::Decision PendingLimits::admit(Id id, std::string_view source, Clock::time_point now) {
  Decision d;
  std::string key(source);
  auto it = sources_.find(key);
  if (it == sources_.end()) {
    trim_sources(now);
    Source fresh;
    fresh.tokens = config_.burst_per_source;
    fresh.refilled = now;
    it = sources_.emplace(key, std::move(fresh)).first;
  }
  if (!take_token(it->second, now)) return d;
  d.admitted = true;
  if (it->second.pending.size() >= config_.max_per_source) {
    Id oldest = *it->second.pending.begin();
    d.evicted.push_back(oldest);
    forget(oldest);
  }
  if (by_age_.size() >= config_.max_total) {
    Id oldest = by_age_.begin()->first;
    d.evicted.push_back(oldest);
    forget(oldest);
  }
  // `it` stays valid: forget() never erases a source entry.
  it->second.pending.insert(id);
  by_age_.emplace(id, std::move(key));
  return d;
}

void PendingLimits::forget(Id id) {
  auto it = by_age_.find(id);
  if (it == by_age_.end()) return;
  if (auto src = sources_.find(it->second); src != sources_.end()) src->second.pending.erase(id);
  by_age_.erase(it);
}

void PendingLimits::done(Id id) { forget(id); }

size_t PendingLimits::pending_from(std::string_view source) const {
  auto it = sources_.find(std::string(source));
  return it == sources_.end() ? 0 : it->second.pending.size();
}

}  // namespace dialout
