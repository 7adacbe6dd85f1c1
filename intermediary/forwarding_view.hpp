// What a relay worker needs to forward a DATA frame without the control
// plane's lock: the registry, the policy and, for every registered session,
// the worker that owns it and what it accepts.
//
// Immutable once published (SharedSnapshot): the control plane builds a
// new one after registrations, departures and policy reloads settle (one
// per burst, not one per change), and the workers pick it up with one
// atomic load per event. A view may lag the control plane by a loop pass:
// a frame for a session that closed meanwhile is dropped by its owner
// (drop_session_gone), and a sender newer than the view makes the worker
// ask for a fresh one (Relay::refresh_view).
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>

#include "intermediary/policy.hpp"
#include "intermediary/registry.hpp"

namespace dialout {

struct SessionRoute {
  unsigned owner = 0;         // index of the RelayWorker driving the session
  uint32_t capabilities = 0;  // from its HELLO (kCapVnetHeader, ...)
};

struct ForwardingView {
  Registry registry;
  std::shared_ptr<const Policy> policy;
  std::unordered_map<SessionId, SessionRoute> sessions;  // registered ones

  const SessionRoute* session(SessionId id) const {
    auto it = sessions.find(id);
    return it == sessions.end() ? nullptr : &it->second;
  }
};

}  // namespace dialout
