// Which commands put the intermediary's DNS config (DNS_CONFIG) on the TUN
// link, and take it off again: pure, no I/O (tund/dns_link.hpp runs them).
//
// resolvectl (systemd-resolved), split DNS for this link only:
//   resolvectl dns IF S1 S2 ...        the tunnel's resolvers
//   resolvectl domain IF D1 D2 ...     names in these go to them (and are
//                                      the link's search domains)
//   resolvectl default-route IF false  and no other name does
//   resolvectl revert IF               all of it gone (also when the TUN
//                                      device goes: resolved forgets it)
// Each `dns`/`domain` replaces the link's list, so a change is the same
// three commands with the new lists.
//
// hook (any other resolver set-up), argv without a shell:
//   HOOK up IF     with DIALOUT_DNS_SERVERS="S1 S2", DIALOUT_DNS_DOMAINS="D1 D2",
//                  DIALOUT_INTERFACE=IF in its environment
//   HOOK down IF   same variables, describing what `up` set
// A change is `down` with the old config, then `up` with the new one.
#pragma once

#include <string>
#include <vector>

#include "netlib/dns_config.hpp"

namespace dialout {

// The `dns` setting (tund/site_config.hpp).
enum class DnsMode { Auto, Resolvectl, Hook, Off };
// What a mode comes to on this host.
enum class DnsMethod { None, Resolvectl, Hook };
const char* to_string(DnsMode);
const char* to_string(DnsMethod);

// auto: the hook when one is configured, else resolvectl when
// systemd-resolved runs, else nothing (the site logs that names in the
// domains will not resolve).
DnsMethod choose_dns_method(DnsMode mode, bool have_hook, bool resolved_running);

struct DnsCommand {
  std::vector<std::string> argv;
  std::vector<std::string> env;  // "NAME=value", on top of tund's own
  bool operator==(const DnsCommand&) const = default;
};

struct DnsPlanSettings {
  DnsMethod method = DnsMethod::None;
  std::string ifname;
  std::string resolvectl = "resolvectl";  // a name is looked up in PATH
  std::string hook;                       // absolute path
  // The setting the method came from: status says "off" for a site that
  // turned DNS off, "none" for auto that found no way to apply it.
  DnsMode mode = DnsMode::Auto;
};

// From `applied` (what is on the link now; empty: nothing) to `wanted`.
// Nothing when they are equal or the method is None.
std::vector<DnsCommand> plan_dns(const DnsPlanSettings& settings, const DnsConfig& applied, const DnsConfig& wanted);

}  // namespace dialout
