// Pure conversions of one setting's text into a value, shared by both daemons.
//
// Each returns the value or a message that names the offending text but not the
// key: LayeredOptions (option_parsing.hpp) prefixes where the text came from
// ("tund: --mtu: " or "site-a.conf:7: mtu: "), so messages read the same for a
// flag and for a config file line.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "netlib/expected.hpp"
#include "netlib/ip_address.hpp"
#include "netlib/log.hpp"

namespace dialout {

// The text in single quotes, made safe for a log line: control and non-ASCII
// bytes become \xNN and long text is cut, since it may come from any file.
std::string quote(std::string_view text);

// Decimal digits only (no sign, no spaces, no 0x), then min..max inclusive:
// "70000 is out of range (576..65535)", "'12k' is not a number".
Expected<uint64_t, std::string> parse_bounded_uint(std::string_view text, uint64_t min,
                                                   uint64_t max);

// "on" or "off", nothing else, so a typo is never read as either.
Expected<bool, std::string> parse_on_off(std::string_view text);

// A canonical prefix "10.1.0.0/24", "fd00:1::/64" (a bare address is the host
// prefix). Host bits set is refused, naming the prefix that was probably meant.
Expected<Prefix, std::string> parse_canonical_prefix(std::string_view text);

// An interface address with its prefix length, "10.255.1.1/24": host bits are
// the point here, so the returned Prefix keeps the full address in `addr`
// (it is NOT canonical; do not insert it into a PrefixTable). A bare address
// gets the full length (/32 or /128).
Expected<Prefix, std::string> parse_interface_address(std::string_view text);

// A Linux interface name as the kernel accepts it (dev_valid_name): 1..15
// bytes, not "." or "..", no '/', ':' or whitespace.
Expected<std::string, std::string> parse_interface_name(std::string_view text);

// The spelling a config file uses for a level ("info"), for --help defaults.
const char* log_level_key(LogLevel level);

}  // namespace dialout
