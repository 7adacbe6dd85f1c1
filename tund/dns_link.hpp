// Keeps the TUN link's DNS settings in step with what the intermediary last
// said (DNS_CONFIG), by running the commands tund/dns_plan.hpp plans:
// resolvectl or the operator's hook. Control thread only (SiteEngine);
// commands block it for at most `timeout` each, like nft for masquerade,
// and never touch the data path (the queue workers go on meanwhile).
//
// A session that drops keeps what was applied: a reconnect is a pause, and
// flapping the resolver with it would only add noise. The next ACCEPT
// brings the config again (unchanged: nothing runs). clear() at exit
// removes everything.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "netlib/dns_config.hpp"
#include "netlib/expected.hpp"
#include "netlib/log.hpp"
#include "tund/dns_plan.hpp"
#include "tund/subprocess.hpp"

namespace dialout {

// What DnsLink has done, for `dialoutctl status` and the status file.
struct DnsStatus {
  std::string method;  // resolvectl, hook, none (auto found neither) or off
  DnsConfig applied;   // what is on the link (empty: nothing, also without a method)
  uint64_t failures = 0;
  // The first failed command of the latest change ("" when all of it ran).
  std::string last_error;
};

// The status file's lines for it (netlib/status_file.hpp): dns_method,
// dns_servers, dns_domains, dns_failures, dns_error; "-" for an empty value, and the
// error on one line.
std::vector<std::pair<std::string_view, std::string>> dns_status_lines(const DnsStatus& status);
// Space-separated, as the tables and the status file show them.
std::string dns_servers_text(const DnsConfig& config);
std::string dns_domains_text(const DnsConfig& config);

class DnsLink {
 public:
  // Runs one command (argv, extra environment); the default is run_process.
  using Runner = std::function<Expected<ProcessResult, std::string>(const DnsCommand&)>;

  DnsLink(DnsPlanSettings settings, Logger& log, Runner runner = {},
          std::chrono::milliseconds timeout = std::chrono::seconds(10));
  DnsLink(const DnsLink&) = delete;
  DnsLink& operator=(const DnsLink&) = delete;

  // The intermediary's latest word (empty: no DNS for this site).
  void update(const DnsConfig& wanted);
  // Removes whatever is applied (tund is stopping).
  void clear() { update(DnsConfig{}); }

  const DnsConfig& applied() const { return applied_; }
  DnsMethod method() const { return settings_.method; }
  // Commands that failed (not found, non-zero exit, timed out) so far.
  uint64_t failures() const { return failures_; }
  DnsStatus status() const;

 private:
  DnsPlanSettings settings_;
  Logger& log_;
  Runner runner_;
  DnsConfig applied_;
  bool warned_unapplied_ = false;
  uint64_t failures_ = 0;
  std::string last_error_;
};

// Whether systemd-resolved runs on this host: its runtime directory exists
// (created when it starts, removed when it stops). `dir` for tests.
bool resolved_running(const std::string& dir = "/run/systemd/resolve");

}  // namespace dialout
