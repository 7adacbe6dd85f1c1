#include "tund/no_proxy.hpp"

#include <fmt/core.h>

#include "netlib/option_values.hpp"
#include "netlib/text_lines.hpp"

namespace dialout {

namespace {

// Generous enough for any no_proxy seen in practice, small enough that the
// per-connection match stays trivial.
constexpr size_t kMaxEntries = 256;

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string_view trim(std::string_view s) { return dialout::trim(s, " \t"); }

std::string_view unbracket(std::string_view s) {
  if (s.size() >= 2 && s.front() == '[' && s.back() == ']') return s.substr(1, s.size() - 2);
  return s;
}

bool valid_name(std::string_view s) {
  if (s.empty() || s.size() > 253 || s.front() == '.' || s.back() == '.') return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return s.find("..") == std::string_view::npos;
}

// "10.0.0.0/8", "fd00::/16", "[fd00::]/16", "::1", "[::1]"; nullopt if the
// entry is not an address at all.
std::optional<Expected<Prefix, std::string>> parse_network(std::string_view entry) {
  std::string_view addr_text = entry;
  std::string_view len_text;
  const size_t slash = entry.find('/');
  if (slash != std::string_view::npos) {
    addr_text = entry.substr(0, slash);
    len_text = entry.substr(slash + 1);
  }
  auto addr = IpAddr::parse(unbracket(addr_text));
  if (!addr) {
    if (slash == std::string_view::npos) return std::nullopt;
    return Expected<Prefix, std::string>(unexpected(fmt::format("{} is not an address/length", quote(entry))));
  }
  unsigned len = addr->max_prefix_len();
  if (slash != std::string_view::npos) {
    auto n = parse_bounded_uint(len_text, 0, addr->max_prefix_len());
    if (!n) return Expected<Prefix, std::string>(unexpected(fmt::format("{}: prefix length {}", quote(entry), n.error())));
    len = static_cast<unsigned>(*n);
  }
  return Expected<Prefix, std::string>(*Prefix::make(*addr, len));
}

}  // namespace

Expected<NoProxyList, std::string> NoProxyList::parse(std::string_view text) {
  NoProxyList list;
  size_t entries = 0;
  while (!text.empty()) {
    const size_t comma = text.find(',');
    const std::string_view entry = trim(text.substr(0, comma));
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    if (entry.empty()) continue;
    if (++entries > kMaxEntries) return unexpected(fmt::format("more than {} entries", kMaxEntries));
    if (entry == "*") {
      list.match_all_ = true;
      continue;
    }
    if (auto network = parse_network(entry)) {
      if (!*network) return unexpected(network->error());
      list.prefixes_.push_back({**network, std::string(entry)});
      continue;
    }
    std::string_view name = entry;
    if (name.starts_with("*.")) {
      name.remove_prefix(2);
    } else if (name.starts_with(".")) {
      name.remove_prefix(1);
    }
    if (name.ends_with(".")) name.remove_suffix(1);
    std::string suffix;
    for (char c : name) suffix += lower(c);
    if (!valid_name(suffix)) {
      return unexpected(fmt::format("{} is neither a host name, a domain, an IP address nor a prefix", quote(entry)));
    }
    list.domains_.push_back({std::move(suffix), std::string(entry)});
  }
  return list;
}

std::optional<std::string> NoProxyList::match(std::string_view host) const {
  if (match_all_) return std::string("*");
  host = unbracket(host);
  if (auto addr = IpAddr::parse(host)) {
    for (const Network& n : prefixes_) {
      if (n.prefix.contains(*addr)) return n.written;
    }
    return std::nullopt;
  }
  std::string name;
  for (char c : host) name += lower(c);
  if (!name.empty() && name.back() == '.') name.pop_back();
  for (const Domain& d : domains_) {
    if (name == d.suffix) return d.written;
    if (name.size() > d.suffix.size() && name.ends_with(d.suffix) && name[name.size() - d.suffix.size() - 1] == '.') {
      return d.written;
    }
  }
  return std::nullopt;
}

}  // namespace dialout
