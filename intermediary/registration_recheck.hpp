// Reload diffing: which live registrations a new policy still allows.
//
// On SIGHUP (or `dialoutctl reload`) the relay re-checks every registered
// session against the new policy with the same rights check REGISTER uses
// (check_rights(): may this identity register this name and advertise
// these prefixes). Pure: the caller copies what it needs from its tables
// under its lock, and closes the withdrawn sessions with the refusal (the
// site logs why; NameNotAllowed and PrefixNotAllowed are permanent, so it
// does not come back).
#pragma once

#include <span>
#include <string_view>
#include <vector>

#include "intermediary/peer_identity.hpp"
#include "intermediary/policy.hpp"
#include "intermediary/registrar.hpp"
#include "intermediary/registry.hpp"

namespace dialout {

struct LiveRegistration {
  SessionId session = 0;
  const PeerIdentity* who = nullptr;  // the session's verified identity
  std::string_view name;              // the site name it registered
  std::span<const Prefix> advertised; // its advertised prefixes (not pool addresses)
};

struct Withdrawn {
  SessionId session = 0;
  Refusal refusal;  // what REGISTER would answer now
};

// The registrations `policy` no longer allows, in the order given.
std::vector<Withdrawn> withdrawn_registrations(const Policy& policy, std::span<const LiveRegistration> live);

// A site's advertised prefixes: its prefixes without the pool addresses.
std::vector<Prefix> advertised_prefixes(const Site& site);

}  // namespace dialout
