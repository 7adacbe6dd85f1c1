// How much one datagram-path key may do before it must be replaced, and
// what "replaced" means: rekey (announce the next epoch over TLS while the
// key keeps working) or exhausted (the key refuses to seal any more).
//
// Confidentiality: RFC 9001 6.6 and B.1.1 (QUIC, the same AEADs on the
// same kind of packets) limit AES-GCM to 2^23 packets of up to 2^16 bytes,
// or 2^28 packets of up to 2^11 bytes: in both cases about 2^35 16-byte
// blocks under one key (TLS 1.3's 2^24.5 full records, RFC 8446 5.5, is
// the same order). Usage is counted in blocks (body blocks plus one per
// record for the tag), so one rule covers every record size: rekey at half
// the limit, refuse at the limit. ChaCha20-Poly1305 has no practical
// confidentiality limit (beyond 2^62 packets); the same rule applies to it
// anyway, one rule for both ciphers.
// Integrity: RFC 9001 6.6 allows 2^52 forgery attempts for AES-GCM and 2^36
// for ChaCha20-Poly1305; a receiving key asks for a rekey after 2^35
// failed openings and is dropped at 2^36, so a forger can at worst force
// rekeys.
// Records and time: rekey after 2^32 records (small records, far below the
// 64-bit counter) and after 10 minutes even when idle. Keys come from the
// TLS exporter, so a time rekey adds no forward secrecy; it keeps a leaked
// epoch key short-lived and makes the rekey path run every few minutes in
// production rather than once per 256 GiB.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace dialout {

struct AeadLimits {
  uint64_t rekey_records = uint64_t{1} << 32;
  uint64_t max_records = uint64_t{1} << 33;
  uint64_t rekey_blocks = uint64_t{1} << 34;  // 256 GiB of 16-byte blocks
  uint64_t max_blocks = uint64_t{1} << 35;    // RFC 9001 B.1.1
  std::chrono::seconds rekey_after{600};
  uint64_t rekey_auth_failures = uint64_t{1} << 35;
  uint64_t max_auth_failures = uint64_t{1} << 36;  // RFC 9001 6.6, ChaCha20-Poly1305
};

// What one sending key has sealed.
struct AeadUsage {
  uint64_t records = 0;
  uint64_t blocks = 0;
  static constexpr uint64_t blocks_for(size_t body_bytes) { return (uint64_t{body_bytes} + 15) / 16 + 1; }
  void add(size_t body_bytes) {
    ++records;
    blocks += blocks_for(body_bytes);
  }
};

enum class KeyState : uint8_t {
  Fresh,      // keep using it
  RekeyDue,   // announce the next epoch now; this key still works meanwhile
  Exhausted,  // must not be used any more
};
const char* to_string(KeyState);

// A sending key that has done `usage` and was installed `age` ago.
KeyState sending_key_state(const AeadUsage& usage, std::chrono::steady_clock::duration age, const AeadLimits& limits);
// A receiving key that has refused `auth_failures` forged or corrupted records.
KeyState receiving_key_state(uint64_t auth_failures, const AeadLimits& limits);
// Whether one more record with a body of `body_bytes` stays within the hard limits.
bool may_seal(const AeadUsage& usage, size_t body_bytes, const AeadLimits& limits);

}  // namespace dialout
