// The registration decision: may this identity register this name with
// these prefixes, which pool addresses does it get, and which older
// sessions does a roamed registration replace? Registry, address pools and
// the pool keys of the sites holding addresses, changed together or not at
// all.
//
// Pure: no I/O, no clock reads (time is a parameter), no logging. The
// relay's control plane owns one Registrar; the refusal text is what the
// peer is told and what the relay logs.
#pragma once

#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "intermediary/address_pool.hpp"
#include "intermediary/peer_identity.hpp"
#include "intermediary/policy.hpp"
#include "intermediary/registry.hpp"
#include "netlib/expected.hpp"
#include "netlib/wire.hpp"

namespace dialout {

struct Refusal {
  RefuseReason reason = RefuseReason::Internal;
  std::string text;
};

struct RegistrationRequest {
  SessionId session = 0;
  const PeerIdentity* who = nullptr;
  std::string_view peer_host;  // the connection's remote address, without the port
  const Register* message = nullptr;
};

struct Registered {
  SiteId site = 0;
  std::vector<Prefix> assigned;  // pool addresses (REGISTER with kRegisterWantAddress)
  // kRegisterRoamed: the site's other sessions from another address. Their
  // connections are dead (the site's address changed); the caller closes them.
  std::vector<SessionId> retire;
};

// The rights part of the decision: may `who` register `name` and advertise
// every one of `advertised` under `policy`? The refusal REGISTER answers,
// or none. Also what a reload re-checks live registrations with
// (registration_recheck.hpp).
std::optional<Refusal> check_rights(const Policy& policy, const PeerIdentity& who, std::string_view name,
                                    std::span<const Prefix> advertised);

class Registrar {
 public:
  using Clock = std::chrono::steady_clock;

  Registrar() = default;
  explicit Registrar(std::vector<AddressPool> pools) : pools_(std::move(pools)) {}

  // Accepts the registration (the session now carries the returned site) or
  // refuses it, leaving every table as it was.
  Expected<Registered, Refusal> admit(const Policy& policy, const RegistrationRequest& req, Clock::time_point now);
  // The session is gone: the site id when it was its site's last. A site
  // gone keeps its pool addresses for the pools' grace period, so a roaming
  // laptop that comes back gets the same ones.
  std::optional<SiteId> remove_session(SessionId session, Clock::time_point now);
  // Forgets pool leases whose grace has run out.
  void expire(Clock::time_point now);

  const Registry& registry() const { return registry_; }
  // Live sites holding pool addresses.
  size_t assigned_sites() const { return pool_keys_.size(); }
  // Pool addresses held, live or kept for reconnects (every pool together).
  size_t pool_leases() const;

 private:
  // One lease per pool as it stood before a REGISTER: what revert_addresses() restores.
  using PriorLeases = std::vector<std::optional<AddressPool::Lease>>;
  Expected<std::vector<Prefix>, Refusal> assign_addresses(const std::string& key, const std::string& owner,
                                                          Clock::time_point now, PriorLeases& before);
  void revert_addresses(const std::string& key, const PriorLeases& before);

  Registry registry_;
  std::vector<AddressPool> pools_;
  std::unordered_map<SiteId, std::string> pool_keys_;      // sites holding pool addresses
  std::unordered_map<SessionId, std::string> peer_hosts_;  // registered sessions' remote addresses
};

}  // namespace dialout
