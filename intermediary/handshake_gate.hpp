// How much TLS handshake work one relay worker does per event-loop turn
// (issue 17: a reconnect storm must not starve established sessions).
//
// Why: a full handshake costs the relay a signature and a certificate-chain
// verification. After a restart thousands arrive within seconds; driven as
// their bytes come in, they would hold the worker while its established
// sessions' DATA waits. The gate lets at most `per_turn` handshake steps run
// in one turn of the worker's loop; the others wait in arrival order (the
// relay mutes their sockets) and run at the end of later turns, after every
// ready established session has had its turn. So forwarding latency during a
// storm is bounded by `per_turn` handshake steps, and without a storm the
// gate costs nothing: a handshake step runs at once while nobody waits.
//
// Pure: the caller passes the loop's turn number and does the I/O.
#pragma once

#include <cstdint>
#include <deque>
#include <unordered_set>
#include <vector>

#include "intermediary/registry.hpp"

namespace dialout {

class HandshakeGate {
 public:
  static constexpr unsigned kDefaultPerTurn = 8;

  explicit HandshakeGate(unsigned per_turn = kDefaultPerTurn) : per_turn_(per_turn == 0 ? 1 : per_turn) {}

  // Session `id`, still in its handshake, has input during `turn`. true:
  // drive it now (counted against the turn). false: it waits behind the
  // others (also when it was already waiting).
  bool admit(SessionId id, uint64_t turn);
  // Appends the waiting sessions that may run now, oldest first, as many as
  // `turn` has steps left.
  void release(uint64_t turn, std::vector<SessionId>& out);
  // A session that closed (or finished) while waiting: it will not be released.
  void forget(SessionId id) { waiting_.erase(id); }

  bool is_waiting(SessionId id) const { return waiting_.count(id) != 0; }
  size_t waiting() const { return waiting_.size(); }
  unsigned per_turn() const { return per_turn_; }

 private:
  void start(uint64_t turn);

  unsigned per_turn_;
  uint64_t turn_ = 0;
  unsigned used_ = 0;  // steps run in turn_
  // Arrival order; ids forgotten meanwhile stay here until they reach the
  // front (no search on close), `waiting_` says who still waits.
  std::deque<SessionId> order_;
  std::unordered_set<SessionId> waiting_;
};

}  // namespace dialout
