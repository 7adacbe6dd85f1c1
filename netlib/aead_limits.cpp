#include "netlib/aead_limits.hpp"

namespace dialout {

const char* to_string(KeyState s) {
  switch (s) {
    case KeyState::Fresh: return "fresh";
    case KeyState::RekeyDue: return "rekey due";
    case KeyState::Exhausted: return "exhausted";
  }
  return "?";
}

KeyState sending_key_state(const AeadUsage& usage, std::chrono::steady_clock::duration age, const AeadLimits& limits) {
  if (usage.records >= limits.max_records || usage.blocks >= limits.max_blocks) return KeyState::Exhausted;
  if (usage.records >= limits.rekey_records || usage.blocks >= limits.rekey_blocks || age >= limits.rekey_after)
    return KeyState::RekeyDue;
  return KeyState::Fresh;
}

KeyState receiving_key_state(uint64_t auth_failures, const AeadLimits& limits) {
  if (auth_failures >= limits.max_auth_failures) return KeyState::Exhausted;
  if (auth_failures >= limits.rekey_auth_failures) return KeyState::RekeyDue;
  return KeyState::Fresh;
}

bool may_seal(const AeadUsage& usage, size_t body_bytes, const AeadLimits& limits) {
  // Subtractions, not sums: a limit near 2^64 cannot overflow the check.
  return usage.records < limits.max_records && usage.blocks <= limits.max_blocks &&
         AeadUsage::blocks_for(body_bytes) <= limits.max_blocks - usage.blocks;
}

}  // namespace dialout
