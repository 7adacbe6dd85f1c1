// The intermediary's TLS session-ticket keys: the key new tickets are
// sealed with and the one before it, which still opens the tickets it
// sealed (a site that resumes with one gets a fresh ticket). Kept in a file
// so tickets survive a restart: after a restart sites resume instead of
// all making full handshakes at once.
//
// File format (text, strict; written 0600 by the intermediary):
//   created UNIX-SECONDS          when `current` became current
//   current HEX(160)              name 16 | HMAC key 32 | AES key 32 bytes
//   previous HEX(160)             optional: the key before it
// Lines starting with '#' and blank lines are ignored; anything else, a
// repeated or missing key, or a wrong length is an error naming the line.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "netlib/expected.hpp"

namespace dialout {

struct TicketKey {
  static constexpr size_t kBytes = 80;
  std::array<uint8_t, 16> name{};
  std::array<uint8_t, 32> hmac{};
  std::array<uint8_t, 32> aes{};

  static TicketKey from_bytes(std::span<const uint8_t, kBytes> bytes);
  bool operator==(const TicketKey&) const = default;
};

struct TicketKeyRing {
  TicketKey current;
  std::optional<TicketKey> previous;
  int64_t created = 0;  // Unix seconds `current` was made

  // The key whose name a ticket carries; null when neither matches (the
  // ticket is refused: a full handshake).
  const TicketKey* find(std::span<const uint8_t> name) const;
  // `fresh` becomes current, current becomes previous.
  TicketKeyRing rotated(const TicketKey& fresh, int64_t now) const;
  bool rotation_due(int64_t now, int64_t period_s) const { return now - created >= period_s || now < created; }

  static Expected<TicketKeyRing, std::string> parse(std::string_view text, const std::string& source);
  std::string to_text() const;
  bool operator==(const TicketKeyRing&) const = default;
};

}  // namespace dialout
