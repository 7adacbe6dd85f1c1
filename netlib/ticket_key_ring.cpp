#include "netlib/ticket_key_ring.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <charconv>

#include "netlib/text_lines.hpp"

namespace dialout {
namespace {

constexpr std::string_view kHex = "0123456789abcdef";

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<TicketKey> parse_key(std::string_view hex) {
  if (hex.size() != 2 * TicketKey::kBytes) return std::nullopt;
  std::array<uint8_t, TicketKey::kBytes> bytes{};
  for (size_t i = 0; i < bytes.size(); ++i) {
    int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    bytes[i] = uint8_t(hi << 4 | lo);
  }
  return TicketKey::from_bytes(bytes);
}

std::string to_hex(const TicketKey& k) {
  std::string out;
  out.reserve(2 * TicketKey::kBytes);
  auto put = [&](std::span<const uint8_t> part) {
    for (uint8_t b : part) {
      out += kHex[b >> 4];
      out += kHex[b & 15];
    }
  };
  put(k.name);
  put(k.hmac);
  put(k.aes);
  return out;
}

}  // namespace

TicketKey TicketKey::from_bytes(std::span<const uint8_t, kBytes> bytes) {
  TicketKey k;
  std::copy_n(bytes.begin(), 16, k.name.begin());
  std::copy_n(bytes.begin() + 16, 32, k.hmac.begin());
  std::copy_n(bytes.begin() + 48, 32, k.aes.begin());
  return k;
}

const TicketKey* TicketKeyRing::find(std::span<const uint8_t> name) const {
  auto same = [&](const TicketKey& k) { return std::equal(name.begin(), name.end(), k.name.begin(), k.name.end()); };
  if (same(current)) return &current;
  if (previous && same(*previous)) return &*previous;
  return nullptr;
}

TicketKeyRing TicketKeyRing::rotated(const TicketKey& fresh, int64_t now) const {
  return TicketKeyRing{fresh, current, now};
}

Expected<TicketKeyRing, std::string> TicketKeyRing::parse(std::string_view text, const std::string& source) {
  std::optional<TicketKey> current, previous;
  std::optional<int64_t> created;
  size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    std::string_view line = take_line(text);
    if (line.empty() || line.front() == '#') continue;
    auto fail = [&](std::string_view why) {
      return unexpected(fmt::format("{}:{}: {}", source, line_no, why));
    };
    auto sp = line.find(' ');
    if (sp == std::string_view::npos) return fail("expected 'KEY VALUE'");
    std::string_view key = line.substr(0, sp), value = line.substr(sp + 1);
    if (key == "created") {
      if (created) return fail("'created' given twice");
      int64_t v = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
      if (ec != std::errc{} || end != value.data() + value.size() || v < 0) return fail("'created' is not Unix seconds");
      created = v;
    } else if (key == "current" || key == "previous") {
      auto& slot = key == "current" ? current : previous;
      if (slot) return fail(fmt::format("'{}' given twice", key));
      slot = parse_key(value);
      if (!slot) return fail(fmt::format("'{}' must be {} hex digits", key, 2 * TicketKey::kBytes));
    } else {
      return fail(fmt::format("unknown key '{}'", key));
    }
  }
  if (!current) return unexpected(source + ": no 'current' key");
  if (!created) return unexpected(source + ": no 'created' time");
  if (previous && previous->name == current->name) return unexpected(source + ": 'previous' has the current key's name");
  return TicketKeyRing{*current, previous, *created};
}

std::string TicketKeyRing::to_text() const {
  std::string out = "# dialout session-ticket keys: secret (mode 0600), rotated by the intermediary\n";
  out += fmt::format("created {}\ncurrent {}\n", created, to_hex(current));
  if (previous) out += fmt::format("previous {}\n", to_hex(*previous));
  return out;
}

}  // namespace dialout
