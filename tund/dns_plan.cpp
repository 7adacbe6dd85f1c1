#include "tund/dns_plan.hpp"

namespace dialout {
namespace {

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : " ") + i;
  return out;
}

std::vector<std::string> server_texts(const DnsConfig& c) {
  std::vector<std::string> out;
  for (const auto& s : c.servers) out.push_back(s.to_string());
  return out;
}

DnsCommand hook_call(const DnsPlanSettings& s, const char* verb, const DnsConfig& c) {
  return {{s.hook, verb, s.ifname},
          {"DIALOUT_DNS_SERVERS=" + joined(server_texts(c)), "DIALOUT_DNS_DOMAINS=" + joined(c.domains),
           "DIALOUT_INTERFACE=" + s.ifname}};
}

}  // namespace

const char* to_string(DnsMode m) {
  switch (m) {
    case DnsMode::Auto: return "auto";
    case DnsMode::Resolvectl: return "resolvectl";
    case DnsMode::Hook: return "hook";
    case DnsMode::Off: return "off";
  }
  return "unknown";
}

const char* to_string(DnsMethod m) {
  switch (m) {
    case DnsMethod::None: return "none";
    case DnsMethod::Resolvectl: return "resolvectl";
    case DnsMethod::Hook: return "hook";
  }
  return "unknown";
}

DnsMethod choose_dns_method(DnsMode mode, bool have_hook, bool resolved_running) {
  switch (mode) {
    case DnsMode::Off: return DnsMethod::None;
    case DnsMode::Resolvectl: return DnsMethod::Resolvectl;
    case DnsMode::Hook: return have_hook ? DnsMethod::Hook : DnsMethod::None;
    case DnsMode::Auto:
      if (have_hook) return DnsMethod::Hook;
      return resolved_running ? DnsMethod::Resolvectl : DnsMethod::None;
  }
  return DnsMethod::None;
}

std::vector<DnsCommand> plan_dns(const DnsPlanSettings& s, const DnsConfig& applied, const DnsConfig& wanted) {
  std::vector<DnsCommand> out;
  if (applied == wanted) return out;
  switch (s.method) {
    case DnsMethod::None: break;
    case DnsMethod::Resolvectl: {
      if (wanted.empty()) {
        out.push_back({{s.resolvectl, "revert", s.ifname}, {}});
        break;
      }
      DnsCommand dns{{s.resolvectl, "dns", s.ifname}, {}};
      for (auto& t : server_texts(wanted)) dns.argv.push_back(std::move(t));
      DnsCommand domain{{s.resolvectl, "domain", s.ifname}, {}};
      domain.argv.insert(domain.argv.end(), wanted.domains.begin(), wanted.domains.end());
      out.push_back(std::move(dns));
      out.push_back(std::move(domain));
      out.push_back({{s.resolvectl, "default-route", s.ifname, "false"}, {}});
      break;
    }
    case DnsMethod::Hook:
      if (!applied.empty()) out.push_back(hook_call(s, "down", applied));
      if (!wanted.empty()) out.push_back(hook_call(s, "up", wanted));
      break;
  }
  return out;
}

}  // namespace dialout
