#include "tund/dns_link.hpp"

#include <sys/stat.h>

#include <fmt/format.h>

namespace dialout {
namespace {

std::string describe(const DnsConfig& c) {
  return fmt::format("resolvers {} for {}", dns_servers_text(c), dns_domains_text(c));
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
  last_error_.clear();
  auto failed = [&](std::string what) {
    ++failures_;
    log_.error("dns: {}", what);
    if (last_error_.empty()) last_error_ = std::move(what);
  };
  for (const auto& c : plan_dns(settings_, applied_, wanted)) {
    auto r = runner_(c);
    if (!r) {
      failed(fmt::format("{}: {}", command_text(c), r.error()));
    } else if (r->exit_code != 0) {
      std::string_view out = r->output;
      while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.remove_suffix(1);
      failed(fmt::format("{}: exit {}: {}", command_text(c), r->exit_code, out));
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

DnsStatus DnsLink::status() const {
  std::string method = to_string(settings_.method);
  if (settings_.method == DnsMethod::None && settings_.mode == DnsMode::Off) method = to_string(DnsMode::Off);
  // Without a method nothing is on the link, whatever was offered (the log
  // said so once).
  DnsConfig on_link = settings_.method == DnsMethod::None ? DnsConfig{} : applied_;
  return {std::move(method), std::move(on_link), failures_, last_error_};
}

std::string dns_servers_text(const DnsConfig& c) {
  std::string out;
  for (const auto& s : c.servers) out += (out.empty() ? "" : " ") + s.to_string();
  return out;
}

std::string dns_domains_text(const DnsConfig& c) {
  std::string out;
  for (const auto& d : c.domains) out += (out.empty() ? "" : " ") + d;
  return out;
}

std::vector<std::pair<std::string_view, std::string>> dns_status_lines(const DnsStatus& s) {
  // A hook's output may span lines; the file is one "key value" a line.
  std::string error = s.last_error;
  for (char& ch : error)
    if (ch == '\n' || ch == '\r' || ch == '\t') ch = ' ';
  auto or_dash = [](std::string v) { return v.empty() ? std::string("-") : v; };
  return {{"dns_method", s.method},
          {"dns_servers", or_dash(dns_servers_text(s.applied))},
          {"dns_domains", or_dash(dns_domains_text(s.applied))},
          {"dns_failures", std::to_string(s.failures)},
          {"dns_error", or_dash(std::move(error))}};
}

bool resolved_running(const std::string& dir) {
  struct stat st {};
  return ::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace dialout
