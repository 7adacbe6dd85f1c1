// Sealing and opening datagram records (layout in netlib/wire.hpp,
// DATAGRAM RECORDS; keys from netlib/datagram_keys.hpp).
//
// A RecordSealer is one direction and one epoch of a session on the
// sending end: it numbers records (the counter is the nonce, so it only
// ever moves forward) and stops at the hard AEAD limits. A RecordOpener is
// the same direction on the receiving end: it authenticates and decrypts,
// and counts what failed (the integrity limit). Replay protection is the
// caller's, after opening (netlib/replay_window.hpp): only an authenticated
// counter may move the window.
//
// Both work in place on the caller's buffer and allocate nothing per record.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "netlib/aead_context.hpp"
#include "netlib/aead_limits.hpp"
#include "netlib/datagram_keys.hpp"
#include "netlib/expected.hpp"
#include "netlib/wire.hpp"

namespace dialout {

// nonce = iv XOR (0^32 || counter, big-endian), as TLS 1.3 (RFC 8446 5.3).
std::array<uint8_t, kDatagramNonceSize> record_nonce(std::span<const uint8_t, kDatagramNonceSize> iv,
                                                     uint64_t counter);

enum class SealError : uint8_t {
  BadBody,       // body length impossible for the type, or beyond kMaxRecordBody
  NoRoom,        // the buffer cannot hold header + body + tag
  KeyExhausted,  // AEAD limit or counter reached: a new epoch is needed
  CipherFailed,  // OpenSSL refused (not expected once keyed)
};
const char* to_string(SealError);

class RecordSealer {
 public:
  // `peer_receiver`: the receiver id the other end announced for itself.
  static Expected<RecordSealer, std::string> make(DatagramCipher cipher, const DirectionKey& key, uint32_t epoch,
                                                  uint32_t peer_receiver, const AeadLimits& limits = {});

  // The body sits at record[kRecordHeaderSize, kRecordHeaderSize + body_size)
  // (the caller wrote it there, e.g. read a packet straight into it). Writes
  // the header in front, encrypts in place, writes the tag behind it, and
  // returns the record's size.
  Expected<size_t, SealError> seal(RecordType type, std::span<uint8_t> record, size_t body_size);

  uint64_t next_counter() const { return next_counter_; }
  const AeadUsage& usage() const { return usage_; }
  uint32_t epoch() const { return epoch_; }

 private:
  RecordSealer(AeadContext aead, const DirectionKey& key, uint32_t epoch, uint32_t receiver, const AeadLimits& limits)
      : aead_(std::move(aead)), iv_(key.iv), epoch_(epoch), receiver_(receiver), limits_(limits) {}

  AeadContext aead_;
  std::array<uint8_t, kDatagramNonceSize> iv_;
  uint32_t epoch_;
  uint32_t receiver_;
  AeadLimits limits_;
  uint64_t next_counter_ = 0;
  AeadUsage usage_;
};

enum class OpenError : uint8_t {
  AuthFailed,  // forged, corrupted, or sealed with another key
  NoRoom,      // `out` is not exactly the body's size
};
const char* to_string(OpenError);

class RecordOpener {
 public:
  static Expected<RecordOpener, std::string> make(DatagramCipher cipher, const DirectionKey& key, uint32_t epoch);

  // Opens a record decode_record() accepted into `out` (body size; the
  // body's own bytes in the receive buffer for in-place) and returns the
  // plaintext body. Nothing in `out` may be used after an error.
  Expected<std::span<uint8_t>, OpenError> open(const RecordView& record, std::span<uint8_t> out);

  uint64_t auth_failures() const { return auth_failures_; }
  uint32_t epoch() const { return epoch_; }

 private:
  RecordOpener(AeadContext aead, const DirectionKey& key, uint32_t epoch)
      : aead_(std::move(aead)), iv_(key.iv), epoch_(epoch) {}

  AeadContext aead_;
  std::array<uint8_t, kDatagramNonceSize> iv_;
  uint32_t epoch_;
  uint64_t auth_failures_ = 0;
};

}  // namespace dialout
