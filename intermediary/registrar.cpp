#include "intermediary/registrar.hpp"

#include <fmt/format.h>

namespace dialout {

std::optional<Refusal> check_rights(const Policy& policy, const PeerIdentity& who, std::string_view name,
                                    std::span<const Prefix> advertised) {
  if (!policy.may_register(who, name))
    return Refusal{RefuseReason::NameNotAllowed, fmt::format("identity '{}' may not register name '{}'", who.name, name)};
  for (const auto& p : advertised) {
    if (!policy.may_advertise(who, p))
      return Refusal{RefuseReason::PrefixNotAllowed,
                     fmt::format("identity '{}' may not advertise {}", who.name, p.to_string())};
  }
  return std::nullopt;
}

Expected<Registered, Refusal> Registrar::admit(const Policy& policy, const RegistrationRequest& req,
                                               Clock::time_point now) {
  const PeerIdentity& who = *req.who;
  const Register& r = *req.message;
  if (auto refused = check_rights(policy, who, r.name, r.prefixes)) return unexpected(std::move(*refused));
  Registered out;
  PriorLeases leases_before;
  std::string pool_key = who.name + "/" + r.name;
  if (r.flags & kRegisterWantAddress) {
    auto got = assign_addresses(pool_key, who.name, now, leases_before);
    if (!got) return unexpected(std::move(got.error()));
    out.assigned = std::move(*got);
  }
  std::vector<Prefix> nestable;
  for (const auto& p : r.prefixes)
    if (policy.may_nest(who, p)) nestable.push_back(p);
  auto site = registry_.add_session(req.session, who.name, r.name, r.prefixes, out.assigned, nestable);
  if (!site) {
    // A refused name must not keep a lease (and its grace) that nobody used.
    revert_addresses(pool_key, leases_before);
    RefuseReason reason = RefuseReason::Malformed;
    switch (site.error().error) {
      case RegistryError::NameTaken: reason = RefuseReason::NameTaken; break;
      case RegistryError::PrefixTaken: reason = RefuseReason::PrefixTaken; break;
      case RegistryError::PrefixOverlaps: reason = RefuseReason::PrefixOverlaps; break;
      default: break;
    }
    return unexpected(Refusal{reason, fmt::format("cannot register '{}': {}", r.name, to_string(site.error()))});
  }
  out.site = *site;
  if (!out.assigned.empty()) pool_keys_[*site] = pool_key;
  peer_hosts_[req.session] = std::string(req.peer_host);
  if (r.flags & kRegisterRoamed) {
    for (SessionId id : registry_.site(*site)->sessions) {
      auto host = peer_hosts_.find(id);
      if (id != req.session && host != peer_hosts_.end() && host->second != req.peer_host) out.retire.push_back(id);
    }
  }
  return out;
}

std::optional<SiteId> Registrar::remove_session(SessionId session, Clock::time_point now) {
  peer_hosts_.erase(session);
  auto gone = registry_.remove_session(session);
  if (!gone) return gone;
  if (auto key = pool_keys_.find(*gone); key != pool_keys_.end()) {
    for (auto& pool : pools_) pool.release(key->second, now);
    pool_keys_.erase(key);
  }
  return gone;
}

void Registrar::expire(Clock::time_point now) {
  for (auto& pool : pools_) pool.expire(now);
}

size_t Registrar::pool_leases() const {
  size_t n = 0;
  for (const auto& pool : pools_) n += pool.in_use();
  return n;
}

Expected<std::vector<Prefix>, Refusal> Registrar::assign_addresses(const std::string& key, const std::string& owner,
                                                                   Clock::time_point now, PriorLeases& before) {
  before.clear();
  if (pools_.empty())
    return unexpected(Refusal{RefuseReason::PoolExhausted, "this intermediary has no address pool configured"});
  std::vector<Prefix> out;
  for (auto& pool : pools_) {
    auto prior = pool.lease(key);
    auto a = pool.assign(key, now, owner);
    if (!a) {
      revert_addresses(key, before);  // the pools before this one
      if (a.error() == PoolError::OwnerLimit)
        return unexpected(Refusal{
            RefuseReason::TooManyAddresses,
            fmt::format("identity '{}' already holds {} addresses of pool {} (max-addresses-per-identity), live or "
                        "kept {} s for reconnects",
                        owner, pool.held_by(owner, now), pool.range().to_string(),
                        std::chrono::duration_cast<std::chrono::seconds>(pool.grace()).count())});
      return unexpected(Refusal{RefuseReason::PoolExhausted,
                                fmt::format("pool {}: {}", pool.range().to_string(), to_string(a.error()))});
    }
    before.push_back(prior);
    out.push_back(*Prefix::make(*a, a->max_prefix_len()));
  }
  return out;
}

void Registrar::revert_addresses(const std::string& key, const PriorLeases& before) {
  for (size_t i = 0; i < before.size() && i < pools_.size(); ++i) pools_[i].revert(key, before[i]);
}

}  // namespace dialout
