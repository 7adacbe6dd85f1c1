// One datagram-path AEAD key, ready to seal or open records: the OpenSSL
// cipher context is created and keyed once (the AES key schedule or the
// ChaCha20 key set-up happens here), and each record only sets its nonce on
// the same context, so sealing and opening allocate nothing.
//
// One direction per object: a key seals on one end and opens on the other.
// Not thread-safe: one owner (the worker holding the session).
#pragma once

#include <openssl/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>

#include "netlib/expected.hpp"
#include "netlib/wire.hpp"  // DatagramCipher, kRecordTagSize

namespace dialout {

inline constexpr size_t kDatagramKeySize = 32;    // both ciphers
inline constexpr size_t kDatagramNonceSize = 12;  // both ciphers

class AeadContext {
 public:
  enum class Mode : uint8_t { Seal, Open };

  static Expected<AeadContext, std::string> make(DatagramCipher cipher, std::span<const uint8_t, kDatagramKeySize> key,
                                                 Mode mode);

  // `out` has in.size() bytes and either is `in` itself (in place) or does
  // not overlap it. false only if OpenSSL fails (not expected once keyed).
  bool seal(std::span<const uint8_t, kDatagramNonceSize> nonce, std::span<const uint8_t> aad,
            std::span<const uint8_t> in, std::span<uint8_t> out, std::span<uint8_t, kRecordTagSize> tag);
  // false: the tag does not authenticate (forged, corrupted, wrong key or
  // nonce). `out` then holds garbage the caller must not use.
  bool open(std::span<const uint8_t, kDatagramNonceSize> nonce, std::span<const uint8_t> aad,
            std::span<const uint8_t> in, std::span<uint8_t> out, std::span<const uint8_t, kRecordTagSize> tag);

  DatagramCipher cipher() const { return cipher_; }
  Mode mode() const { return mode_; }

 private:
  struct CtxFree {
    void operator()(EVP_CIPHER_CTX* p) const;
  };
  AeadContext(std::unique_ptr<EVP_CIPHER_CTX, CtxFree> ctx, DatagramCipher cipher, Mode mode)
      : ctx_(std::move(ctx)), cipher_(cipher), mode_(mode) {}
  // Sets the nonce and feeds the associated data.
  bool begin(std::span<const uint8_t, kDatagramNonceSize> nonce, std::span<const uint8_t> aad);

  std::unique_ptr<EVP_CIPHER_CTX, CtxFree> ctx_;
  DatagramCipher cipher_;
  Mode mode_;
};

}  // namespace dialout
