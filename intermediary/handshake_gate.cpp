#include "intermediary/handshake_gate.hpp"

namespace dialout {

void HandshakeGate::start(uint64_t turn) {
  if (turn == turn_) return;
  turn_ = turn;
  used_ = 0;
}

bool HandshakeGate::admit(SessionId id, uint64_t turn) {
  start(turn);
  if (waiting_.count(id) != 0) return false;
  // Nobody waits and the turn has room: the common case, no storm.
  if (waiting_.empty() && used_ < per_turn_) {
    ++used_;
    return true;
  }
  waiting_.insert(id);
  order_.push_back(id);
  return false;
}

void HandshakeGate::release(uint64_t turn, std::vector<SessionId>& out) {
  start(turn);
  while (used_ < per_turn_ && !order_.empty()) {
    SessionId id = order_.front();
    order_.pop_front();
    if (waiting_.erase(id) == 0) continue;  // forgotten meanwhile
    ++used_;
    out.push_back(id);
  }
  if (waiting_.empty()) order_.clear();  // only forgotten ids were left
}

}  // namespace dialout
