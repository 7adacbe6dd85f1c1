// The datagram path's key schedule: per-direction AEAD keys and IVs
// exported from an authenticated TLS 1.3 session (layout in netlib/wire.hpp,
// DATAGRAM RECORDS), the cipher both ends use, and key epochs.
//
// The keys are bound to the one TLS session they were exported from
// (RFC 8446 7.5: the exporter secret depends on the whole handshake, so a
// resumed or new connection exports different keys), so the datagram path
// inherits that session's certificate authentication and needs no
// handshake of its own. The context names the epoch and the cipher, so no
// two epochs, and no two ciphers, ever share a key.
#pragma once

#include <openssl/types.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "netlib/aead_context.hpp"
#include "netlib/expected.hpp"
#include "netlib/wire.hpp"

namespace dialout {

inline constexpr std::string_view kDatagramExporterLabel = "EXPORTER-dialout-datagram";
inline constexpr size_t kDatagramExportSize = 2 * (kDatagramKeySize + kDatagramNonceSize);  // 88
inline constexpr size_t kDatagramContextSize = 5;  // u32 epoch | u8 cipher

// One direction's secret: the AEAD key and the IV its nonces are made from.
// Wiped when destroyed.
struct DirectionKey {
  std::array<uint8_t, kDatagramKeySize> key{};
  std::array<uint8_t, kDatagramNonceSize> iv{};
  DirectionKey() = default;
  DirectionKey(const DirectionKey&) = default;
  DirectionKey& operator=(const DirectionKey&) = default;
  ~DirectionKey();
  bool operator==(const DirectionKey&) const = default;
};

// This end's view: `send` seals what it sends, `receive` opens what the
// peer sends (the peer's `send`).
struct DatagramKeys {
  DatagramCipher cipher = DatagramCipher::Aes256Gcm;
  uint32_t epoch = 0;
  DirectionKey send;
  DirectionKey receive;
};

// The site is the TLS client, the intermediary the server.
enum class TlsRole : uint8_t { Client, Server };

std::array<uint8_t, kDatagramContextSize> datagram_exporter_context(uint32_t epoch, DatagramCipher cipher);
// Pure: splits exported material (layout in wire.hpp) into this end's keys.
DatagramKeys datagram_keys_from_export(std::span<const uint8_t, kDatagramExportSize> material, TlsRole role,
                                       uint32_t epoch, DatagramCipher cipher);
// Exports from a TLS 1.3 session whose handshake is done; the role is the
// SSL's own. Fails on TLS before 1.3 (no exporter independent of resumption).
Expected<DatagramKeys, std::string> export_datagram_keys(SSL* ssl, uint32_t epoch, DatagramCipher cipher);

// Which ciphers an end can use and whether AES is fast on it; announced in
// the control frame that offers the datagram path.
struct CipherOffer {
  uint8_t ciphers = kCipherBitsAll;  // cipher_bit() of each supported cipher
  bool aes_accelerated = false;
  bool operator==(const CipherOffer&) const = default;
};
// The negotiation rule; symmetric, so both ends compute the same answer from
// the two offers without another round trip:
//   AES-256-GCM       if both support it and both have AES in hardware;
//   ChaCha20-Poly1305 else, if both support it (fast in software everywhere,
//                     and constant-time without AES instructions);
//   AES-256-GCM       else, if both support it;
//   none              else (the datagram path stays off).
std::optional<DatagramCipher> choose_datagram_cipher(CipherOffer a, CipherOffer b);
// Whether this CPU has AES and carry-less multiply instructions (AES-NI +
// PCLMULQDQ on x86-64, the AES and PMULL extensions on AArch64).
bool cpu_has_aes_acceleration();
CipherOffer local_cipher_offer();

// Epochs: u32 in the key schedule, the low 8 bits in each record. A receiver
// keeps the keys of its current epoch and the ones next to it (the overlap
// while a rekey takes effect), so 8 bits name a record's epoch unambiguously.
constexpr uint8_t epoch_on_wire(uint32_t epoch) { return static_cast<uint8_t>(epoch); }
// The full epoch among current - 1, current, current + 1 whose low bits are
// `wire`; nullopt for any other.
std::optional<uint32_t> epoch_from_wire(uint8_t wire, uint32_t current);

}  // namespace dialout
