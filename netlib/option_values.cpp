#include "netlib/option_values.hpp"

#include <fmt/core.h>

#include <optional>

namespace dialout {

namespace {

constexpr size_t kMaxQuoted = 80;

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

struct AddrLen {
  IpAddr addr;
  unsigned len;
};

// "addr/len" or a bare address; the length is strict decimal within the family.
std::optional<AddrLen> split_addr_len(std::string_view text) {
  size_t slash = text.find('/');
  auto addr = IpAddr::parse(text.substr(0, slash));
  if (!addr) return std::nullopt;
  if (slash == std::string_view::npos) return AddrLen{*addr, addr->max_prefix_len()};
  std::string_view len_text = text.substr(slash + 1);
  // At most three digits keeps the conversion far from overflow.
  if (!all_digits(len_text) || len_text.size() > 3) return std::nullopt;
  unsigned len = 0;
  for (char c : len_text) len = len * 10 + static_cast<unsigned>(c - '0');
  if (len > addr->max_prefix_len()) return std::nullopt;
  return AddrLen{*addr, len};
}

}  // namespace

std::string quote(std::string_view text) {
  std::string out = "'";
  size_t shown = 0;
  for (unsigned char c : text) {
    if (shown == kMaxQuoted) {
      out += "...";
      break;
    }
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
    ++shown;
  }
  out += "'";
  return out;
}

Expected<uint64_t, std::string> parse_bounded_uint(std::string_view text, uint64_t min,
                                                   uint64_t max) {
  if (!all_digits(text)) return unexpected(fmt::format("{} is not a number", quote(text)));
  // 19 digits always fit in uint64_t; anything longer is out of every range we use.
  uint64_t v = 0;
  bool huge = text.size() > 19;
  if (!huge) {
    for (char c : text) v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (huge || v < min || v > max) {
    return unexpected(fmt::format("{} is out of range ({}..{})",
                                  huge ? quote(text) : std::to_string(v), min, max));
  }
  return v;
}

Expected<bool, std::string> parse_on_off(std::string_view text) {
  if (text == "on") return true;
  if (text == "off") return false;
  return unexpected(fmt::format("{} is neither 'on' nor 'off'", quote(text)));
}

Expected<Prefix, std::string> parse_canonical_prefix(std::string_view text) {
  auto al = split_addr_len(text);
  if (!al) {
    return unexpected(
        fmt::format("{} is not a prefix (address/length, e.g. 10.1.0.0/24)", quote(text)));
  }
  auto p = Prefix::make(al->addr, al->len);
  if (!p) return unexpected(fmt::format("{} is not a prefix", quote(text)));
  if (p->addr != al->addr) {
    return unexpected(
        fmt::format("{} has host bits set (did you mean {}?)", quote(text), p->to_string()));
  }
  return *p;
}

Expected<Prefix, std::string> parse_interface_address(std::string_view text) {
  auto al = split_addr_len(text);
  if (!al) {
    return unexpected(
        fmt::format("{} is not an address with a prefix length (e.g. 10.255.1.1/24)", quote(text)));
  }
  // Deliberately not Prefix::make: the host part is the interface's address.
  Prefix p;
  p.addr = al->addr;
  p.len = static_cast<uint8_t>(al->len);
  return p;
}

Expected<std::string, std::string> parse_interface_name(std::string_view text) {
  constexpr size_t kMaxName = 15;  // IFNAMSIZ - 1
  if (text.empty()) return unexpected(std::string("interface name is empty"));
  if (text.size() > kMaxName) {
    return unexpected(fmt::format("{} is longer than {} characters", quote(text), kMaxName));
  }
  if (text == "." || text == "..") {
    return unexpected(fmt::format("{} is not a valid interface name", quote(text)));
  }
  for (unsigned char c : text) {
    if (c == '/' || c == ':' || c <= ' ' || c == 0x7f) {
      return unexpected(fmt::format(
          "{} is not a valid interface name (no '/', ':', spaces or control characters)",
          quote(text)));
    }
  }
  return std::string(text);
}

const char* log_level_key(LogLevel level) {
  switch (level) {
    case LogLevel::Debug:
      return "debug";
    case LogLevel::Info:
      return "info";
    case LogLevel::Warn:
      return "warn";
    case LogLevel::Error:
      return "error";
  }
  return "info";
}

}  // namespace dialout
