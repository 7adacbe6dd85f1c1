#include "intermediary/policy.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>

#include "netlib/site_name.hpp"
#include "netlib/text_lines.hpp"

namespace dialout {

namespace {

// A policy is a handful of lines; anything bigger is the wrong file.
constexpr size_t kMaxPolicyBytes = 1 << 20;
// X.509 caps a CN at 64 characters.
constexpr size_t kMaxIdentityLength = 64;

std::string_view trim(std::string_view s) { return dialout::trim(s, " \t\r\f\v"); }

// Explains why Prefix::parse refused `text`, for the error message.
std::string prefix_problem(std::string_view text) {
  auto slash = text.find('/');
  auto addr = IpAddr::parse(text.substr(0, slash));
  if (!addr) return "not an IP address";
  if (slash != std::string_view::npos) {
    auto digits = text.substr(slash + 1);
    unsigned len = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), len);
    if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size() ||
        len > addr->max_prefix_len()) {
      return "bad prefix length";
    }
  }
  return "host bits set";
}

bool valid_identity(std::string_view id) {
  if (id.empty() || id.size() > kMaxIdentityLength) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u >= 0x20 && u != 0x7f && c != '[' && c != ']' && c != '#';
  });
}

}  // namespace

class PolicyParser {
 public:
  explicit PolicyParser(std::string_view source) : source_(source) {}

  Expected<Policy, ConfigError> run(std::string_view text) {
    size_t line_no = 0;
    while (!text.empty()) {
      ++line_no;
      std::string_view line = take_line(text);
      line_ = line_no;
      if (auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
      line = trim(line);
      if (line.empty()) continue;
      auto r = line.front() == '[' ? section(line) : key_value(line);
      if (!r) return unexpected(r.error());
    }
    if (auto r = end_section(); !r) return unexpected(r.error());
    return std::move(policy_);
  }

 private:
  ConfigError error(std::string message) const {
    return {fmt::format("{}:{}", source_, line_), std::move(message)};
  }

  // `dns` and `dns-search` come together; checked when the section ends,
  // named at the line of the first of them.
  Expected<void, ConfigError> end_section() {
    if (current_ == nullptr || current_->dns.servers.empty() == current_->dns.domains.empty()) return {};
    line_ = dns_line_;
    return unexpected(error(current_->dns.servers.empty()
                                ? "dns-search without dns: the domains need a resolver (add 'dns = ADDRESS')"
                                : "dns without dns-search: the resolvers would answer for no name (add "
                                  "'dns-search = DOMAIN')"));
  }

  Expected<void, ConfigError> section(std::string_view line) {
    if (line.back() != ']') return unexpected(error("malformed section header (missing ']')"));
    {
      size_t here = line_;
      if (auto r = end_section(); !r) return r;
      line_ = here;
    }
    auto inner = trim(line.substr(1, line.size() - 2));
    auto space = inner.find_first_of(" \t");
    auto kind = inner.substr(0, space);
    bool group = kind == "group";
    if (kind != "identity" && kind != "user" && !group) {
      return unexpected(error(fmt::format("unknown section kind '{}' (want identity, user or group)", kind)));
    }
    auto id = space == std::string_view::npos ? std::string_view{} : trim(inner.substr(space));
    if (!valid_identity(id)) {
      return unexpected(error(fmt::format("bad {} '{}' in section header", kind, id)));
    }
    if (id == "*") {
      if (group) return unexpected(error("[group *] is not a group; use [identity *] for everyone"));
      if (policy_.has_default_) return unexpected(error(fmt::format("duplicate section [{} *]", kind)));
      policy_.has_default_ = true;
      current_ = &policy_.default_;
      return {};
    }
    auto& sections = group ? policy_.groups_ : policy_.users_;
    auto [it, inserted] = sections.try_emplace(std::string(id));
    if (!inserted) {
      return unexpected(error(fmt::format("duplicate section [{} {}]{}", kind, id,
                                          group ? "" : " ([user X] and [identity X] are the same section)")));
    }
    current_ = &it->second;
    return {};
  }

  Expected<void, ConfigError> key_value(std::string_view line) {
    auto eq = line.find('=');
    if (eq == std::string_view::npos) return unexpected(error("expected 'key = value' or '[identity|user|group NAME]'"));
    auto key = trim(line.substr(0, eq));
    auto value = trim(line.substr(eq + 1));
    if (key != "register" && key != "advertise" && key != "nest" && key != "reach" && key != "allow" &&
        key != "dns" && key != "dns-search") {
      return unexpected(error(fmt::format("unknown key '{}'", key)));
    }
    if (!current_) return unexpected(error(fmt::format("key '{}' outside any [identity ...] section", key)));
    if (value.empty()) return unexpected(error(fmt::format("empty value for '{}'", key)));
    while (true) {
      auto comma = value.find(',');
      auto item = trim(value.substr(0, comma));
      if (item.empty()) return unexpected(error(fmt::format("empty item in list for '{}'", key)));
      auto r = add(key, item);
      if (!r) return r;
      if (comma == std::string_view::npos) break;
      value = value.substr(comma + 1);
    }
    return {};
  }

  Expected<void, ConfigError> add(std::string_view key, std::string_view item) {
    if (key == "advertise" || key == "nest") {
      auto p = Prefix::parse(item);
      if (!p) return unexpected(error(fmt::format("bad prefix '{}': {}", item, prefix_problem(item))));
      (key == "nest" ? current_->nest : current_->prefixes).insert(*p, true);  // a repeat adds nothing
      return {};
    }
    if (key == "dns" || key == "dns-search") return add_dns(key, item);
    if (key == "allow") {
      auto rule = AccessRule::parse(item);
      if (!rule) return unexpected(error(fmt::format("bad allow rule '{}': {}", item, rule.error())));
      current_->add_allow(*rule);
      return {};
    }
    if (key == "reach" && item == "*") {
      current_->reach_any = true;
      return {};
    }
    if (key == "reach") {
      if (!valid_site_name(item)) {
        return unexpected(error(fmt::format("bad name '{}' in '{}': {}", item, key, kNameRule)));
      }
      current_->reach.emplace(item);
      return {};
    }
    if (key == "register") {
      auto pattern = parse_pattern(item);
      if (!pattern) return unexpected(error(fmt::format("bad name '{}' in 'register': {}", item, pattern.error())));
      current_->names.add(*pattern);
      return {};
    }
    return unexpected(error(fmt::format("unknown key '{}'", key)));  // unreachable: key_value checked
  }

  Expected<void, ConfigError> add_dns(std::string_view key, std::string_view item) {
    DnsConfig& dns = current_->dns;
    if (dns.servers.empty() && dns.domains.empty()) dns_line_ = line_;
    if (key == "dns") {
      auto a = IpAddr::parse(item);
      if (!a) return unexpected(error(fmt::format("bad resolver '{}' in 'dns': not an IP address", item)));
      if (!usable_dns_server(*a))
        return unexpected(error(fmt::format(
            "bad resolver '{}' in 'dns': not unicast or not reachable through the tunnel (loopback, "
            "link-local, multicast, unspecified)",
            item)));
      if (std::find(dns.servers.begin(), dns.servers.end(), *a) != dns.servers.end()) return {};
      if (dns.servers.size() == kMaxDnsServers)
        return unexpected(error(fmt::format("more than {} resolvers in 'dns'", kMaxDnsServers)));
      dns.servers.push_back(*a);
      return {};
    }
    std::string name(item);
    std::transform(name.begin(), name.end(), name.begin(), [](char c) {
      return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c;
    });
    if (!valid_dns_domain(name))
      return unexpected(error(fmt::format(
          "bad domain '{}' in 'dns-search': want labels of [a-z0-9_-] (1..63, not starting or ending with "
          "'-') joined by '.', at most {} bytes, no trailing dot",
          item, kMaxDnsDomainLength)));
    if (std::find(dns.domains.begin(), dns.domains.end(), name) != dns.domains.end()) return {};
    if (dns.domains.size() == kMaxDnsDomains)
      return unexpected(error(fmt::format("more than {} domains in 'dns-search'", kMaxDnsDomains)));
    dns.domains.push_back(std::move(name));
    return {};
  }

  // head [{user} tail] [*]; checked by building a sample name from it.
  static Expected<NamePatterns::Pattern, std::string> parse_pattern(std::string_view item) {
    constexpr std::string_view kUser = "{user}";
    NamePatterns::Pattern p;
    std::string_view rest = item;
    if (!rest.empty() && rest.back() == '*') {
      p.glob = true;
      rest.remove_suffix(1);
    }
    if (rest.find('*') != std::string_view::npos) return unexpected(std::string("'*' only as the last character"));
    auto at = rest.find(kUser);
    p.user = at != std::string_view::npos;
    p.head = std::string(rest.substr(0, at));
    if (p.user) {
      p.tail = std::string(rest.substr(at + kUser.size()));
      if (p.tail.find(kUser) != std::string::npos) return unexpected(std::string("{user} at most once"));
    }
    if (p.glob && p.head.empty() && !p.user) {
      return unexpected(std::string("a bare '*' would let anyone claim any name; give a literal prefix"));
    }
    // "u" stands for the CN and "x" for what '*' matches: the literal parts
    // must be able to form a valid name.
    std::string sample = p.head + (p.user ? "u" + p.tail : "") + (p.glob ? "x" : "");
    if (!valid_site_name(sample)) return unexpected(std::string(kNameRule));
    return p;
  }

  static constexpr std::string_view kNameRule = "want 1..63 chars of [a-z0-9._-] starting with [a-z0-9]";

  std::string_view source_;
  size_t line_ = 0;
  size_t dns_line_ = 0;  // the current section's first dns or dns-search line
  Policy policy_;
  Policy::Rules* current_ = nullptr;
};

Expected<Policy, ConfigError> Policy::parse(std::string_view text, std::string_view source) {
  return PolicyParser(source).run(text);
}

Expected<Policy, ConfigError> Policy::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return unexpected(ConfigError{path, fmt::format("cannot open: {}", std::strerror(errno))});
  std::string text;
  text.resize(kMaxPolicyBytes + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) return unexpected(ConfigError{path, "read error"});
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMaxPolicyBytes) {
    return unexpected(ConfigError{path, fmt::format("larger than {} bytes", kMaxPolicyBytes)});
  }
  return parse(text, path);
}

void Policy::Rules::add_allow(const AccessRule& rule) {
  if (const uint32_t* at = allow_by_dst.find_exact(rule.dst)) {
    allow_buckets[*at].push_back(rule);
    return;
  }
  allow_by_dst.insert(rule.dst, static_cast<uint32_t>(allow_buckets.size()));
  allow_buckets.push_back({rule});
}

bool Policy::Rules::allow_matches(const PacketInfo& packet) const {
  Prefix host{packet.dst, static_cast<uint8_t>(packet.dst.max_prefix_len())};
  return allow_by_dst.any_covering(host, [&](const Prefix&, uint32_t at) {
    const auto& bucket = allow_buckets[at];
    return std::any_of(bucket.begin(), bucket.end(), [&](const AccessRule& a) { return a.matches(packet); });
  });
}

template <class F>
bool Policy::any_section(std::string_view name, std::span<const std::string> groups, F&& f) const {
  if (auto it = users_.find(name); it != users_.end() && f(it->second)) return true;
  for (const auto& g : groups) {
    if (auto it = groups_.find(g); it != groups_.end() && f(it->second)) return true;
  }
  return has_default_ && f(default_);
}

bool Policy::register_ok(std::string_view cn, std::span<const std::string> groups, std::string_view name) const {
  return any_section(cn, groups, [&](const Rules& r) { return r.names.matches(name, cn); });
}

bool Policy::advertise_ok(std::string_view cn, std::span<const std::string> groups, const Prefix& prefix) const {
  return any_section(cn, groups, [&](const Rules& r) {
    return r.prefixes.any_covering(prefix, [](const Prefix&, bool) { return true; });
  });
}

bool Policy::nest_ok(std::string_view cn, std::span<const std::string> groups, const Prefix& prefix) const {
  return any_section(cn, groups, [&](const Rules& r) {
    return r.nest.any_covering(prefix, [](const Prefix&, bool) { return true; });
  });
}

bool Policy::reach_ok(std::string_view cn, std::span<const std::string> groups, std::string_view dst_name) const {
  return any_section(cn, groups, [&](const Rules& r) { return r.reach_any || r.reach.contains(dst_name); });
}

Policy::SectionList Policy::sections_of(const PeerIdentity& peer) const {
  SectionList list;
  any_section(peer.name, peer.groups, [&](const Rules& r) {
    list.sections.push_back(&r);
    return false;  // visit them all
  });
  return list;
}

bool Policy::may_reach(const SectionList& list, std::string_view dst_name) const {
  for (const void* p : list.sections) {
    const auto& r = *static_cast<const Rules*>(p);
    if (r.reach_any || r.reach.contains(dst_name)) return true;
  }
  return false;
}

size_t Policy::SectionListHash::operator()(const SectionList& l) const {
  size_t h = l.sections.size();
  for (const void* p : l.sections) h = h * 1000003u ^ std::hash<const void*>{}(p);
  return h;
}

const DnsConfig& Policy::dns_for(const PeerIdentity& peer) const {
  const DnsConfig* found = &no_dns_;
  any_section(peer.name, peer.groups, [&](const Rules& r) {
    if (r.dns.empty()) return false;
    found = &r.dns;
    return true;
  });
  return *found;
}

bool Policy::has_allow_rules(const PeerIdentity& peer) const {
  return any_section(peer.name, peer.groups, [](const Rules& r) { return r.has_allow(); });
}

bool Policy::allows_packet(const PeerIdentity& peer, const PacketInfo& packet) const {
  bool restricted = false;
  bool matched = any_section(peer.name, peer.groups, [&](const Rules& r) {
    restricted = restricted || r.has_allow();
    return r.allow_matches(packet);
  });
  return matched || !restricted;
}

}  // namespace dialout
