#include "netlib/dns_config.hpp"

#include <algorithm>

namespace dialout {

bool valid_dns_domain(std::string_view name) {
  if (name.empty() || name.size() > kMaxDnsDomainLength) return false;
  bool all_digits = true;  // of the current label
  size_t label = 0;
  char prev = '.';
  for (char c : name) {
    if (c == '.') {
      if (label == 0 || prev == '-') return false;
      label = 0;
      all_digits = true;
      prev = c;
      continue;
    }
    bool digit = c >= '0' && c <= '9';
    if (!(digit || (c >= 'a' && c <= 'z') || c == '-' || c == '_')) return false;
    if (c == '-' && label == 0) return false;
    if (++label > 63) return false;
    all_digits = all_digits && digit;
    prev = c;
  }
  return label != 0 && prev != '-' && !all_digits;
}

bool usable_dns_server(const IpAddr& a) {
  const auto& b = a.bytes;
  if (a.family == Family::V4) {
    if (b[0] == 0 || b[0] == 127 || b[0] >= 224) return false;  // this network, loopback, multicast and above
    return true;
  }
  if (std::all_of(b.begin(), b.end(), [](uint8_t x) { return x == 0; })) return false;  // ::
  if (std::all_of(b.begin(), b.end() - 1, [](uint8_t x) { return x == 0; }) && b[15] == 1) return false;  // ::1
  if (b[0] == 0xff) return false;                          // multicast
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return false;  // fe80::/10
  return true;
}

bool valid_dns_config(const DnsConfig& c) {
  if (c.servers.size() > kMaxDnsServers || c.domains.size() > kMaxDnsDomains) return false;
  if (c.servers.empty() != c.domains.empty()) return false;
  for (size_t i = 0; i < c.servers.size(); ++i) {
    if (!usable_dns_server(c.servers[i])) return false;
    if (std::find(c.servers.begin(), c.servers.begin() + long(i), c.servers[i]) != c.servers.begin() + long(i))
      return false;
  }
  for (size_t i = 0; i < c.domains.size(); ++i) {
    if (!valid_dns_domain(c.domains[i])) return false;
    if (std::find(c.domains.begin(), c.domains.begin() + long(i), c.domains[i]) != c.domains.begin() + long(i))
      return false;
  }
  return true;
}

}  // namespace dialout
