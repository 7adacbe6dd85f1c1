#include "tund/dns_link.hpp"

#include <sys/stat.h>

#include <fmt/format.h>

namespace dialout {
namespace {

std::string describe(const DnsConfig& c) {
  std::string servers, domains;
  for (const auto& s : c.servers) servers += (servers.empty() ? "" : " ") + s.to_string();
  for (const auto& d : c.domains) domains += (domains.empty() ? "" : " ") + d;
  return fmt::format("resolvers {} for {}", servers, domains);
}

std::string command_text(const DnsCommand& c) {
  std::string out;
  for (const auto& a : c.argv) out += (out.empty() ? "" : " ") + a;
  return out;
}

}  // namespace

DnsLink::DnsLink(DnsPlanSettings settings, Logger& log, Runner runner, std::chrono::milliseconds timeout)
    : settings_(std::move(settings)), log_(log), runner_(std::move(runner)) {
  if (!runner_)
    runner_ = [timeout](const DnsCommand& c) { return run_process(c.argv, "", timeout, c.env); };
}

void DnsLink::update(const DnsConfig& wanted) {
  if (wanted == applied_) return;
  if (settings_.method == DnsMethod::None) {
    // Said once: a site that cannot apply DNS still works by address.
    if (!wanted.empty() && !warned_unapplied_) {
      warned_unapplied_ = true;
      log_.warn("dns: the intermediary offers {}, but no method applies it here (dns = off, or auto without "
                "systemd-resolved or a dns-hook): those names will not resolve",
                describe(wanted));
    }
    applied_ = wanted;
    return;
  }
  for (const auto& c : plan_dns(settings_, applied_, wanted)) {
    auto r = runner_(c);
    if (!r) {
      ++failures_;
      log_.error("dns: {}: {}", command_text(c), r.error());
    } else if (r->exit_code != 0) {
      ++failures_;
      std::string_view out = r->output;
      while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.remove_suffix(1);
      log_.error("dns: {}: exit {}: {}", command_text(c), r->exit_code, out);
    } else {
      log_.debug("dns: {}", command_text(c));
    }
  }
  // Recorded even after a failure: what may have been set is still taken
  // off at exit (revert, hook down), which is harmless if nothing was.
  if (wanted.empty()) {
    log_.info("dns: {} settings removed from {}", to_string(settings_.method), settings_.ifname);
  } else {
    log_.info("dns: {} on {} via {}", describe(wanted), settings_.ifname, to_string(settings_.method));
  }
  applied_ = wanted;
}

bool resolved_running(const std::string& dir) {
  struct stat st {};
  return ::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace dialout
