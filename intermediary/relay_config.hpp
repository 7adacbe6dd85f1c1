// The intermediary's settings: command line layered over the --config file,
// validated in full at start. Keys, defaults and meanings:
// docs/configuration.md (and `intermediary --help`).
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "netlib/log.hpp"
#include "netlib/option_parsing.hpp"
#include "netlib/socket.hpp"
#include "netlib/tls.hpp"

namespace dialout {

// The daemon's default for `workers`: auto.
constexpr unsigned kDaemonWorkers = 0;
// The daemon's defaults for the per-source pre-authentication limits. A
// RelayConfig built in code (tests: many connections from 127.0.0.1) has
// no rate limit and no per-source share below max_pending.
constexpr unsigned kDaemonMaxPendingPerSource = 32;
constexpr unsigned kDaemonHandshakeRate = 20;

struct RelayConfig {
  // --listen HOST[:PORT] (port 0 = ephemeral, for tests). "::" is both
  // families (IPV6_V6ONLY off), IPv4 only on a host without IPv6.
  Endpoint listen{"::", 443};
  TlsFiles tls;                     // --cert --key --ca required and readable; --crl optional
  std::string policy_file;          // --policy, required, readable (parsed by the daemon)
  std::string status_file;          // --status-file, optional
  size_t queue_bytes = 1048576;     // --queue-bytes 16384..67108864, per session
  std::chrono::milliseconds keepalive{5000};          // --keepalive-ms >= 100
  std::chrono::milliseconds dead_after{15000};        // --dead-after-ms > keepalive-ms
  std::chrono::milliseconds handshake_timeout{5000};  // --handshake-timeout-ms >= 100
  std::chrono::milliseconds restart_hint{1000};       // --restart-hint-ms 0..600000
  // Sites that understand it spread their reconnects after a restart over
  // this window (on top of the hint), so they do not all arrive at once.
  std::chrono::milliseconds restart_window{5000};     // --restart-window-ms 0..600000
  // Session-ticket keys kept across restarts (netlib/ticket_key_ring.hpp);
  // empty: random keys in memory, tickets die with the process.
  std::string ticket_key_file;                        // --ticket-key-file PATH
  std::chrono::seconds ticket_key_rotation{43200};    // --ticket-key-rotation-s 60..2592000
  // Handshake steps a worker runs per loop turn before the rest wait
  // (handshake_gate.hpp): bounds what a storm takes from established sessions.
  unsigned handshakes_per_turn = 8;                   // --handshakes-per-turn 1..4096
  unsigned max_sessions_per_identity = 32;            // --max-sessions-per-identity 1..1048576
  unsigned max_addresses_per_identity = 4;            // --max-addresses-per-identity 1..4096 (pool leases)
  // --workers 1..64, or auto (stored as 0): threads sessions are sharded
  // over. A RelayConfig built in code keeps one thread unless it asks; the
  // daemon's default (parse_relay_config) is kDaemonWorkers.
  unsigned workers = 1;
  std::string user;                   // --user: switch to this account once the port is bound
  std::vector<Prefix> address_pools;  // --address-pool, repeatable: at most one IPv4 and one IPv6 range
  LogLevel log_level = LogLevel::Info;                // --log-level debug|info|warn|error
  // Port sharing (intermediary/port_share.hpp): when set, a connection whose
  // ClientHello does not offer our ALPN id is spliced to this web server.
  std::optional<Endpoint> share_port_backend;  // --share-port-backend HOST:PORT (default off)
  unsigned share_port_max_connections = 256;   // --share-port-max-connections 1..65536, spliced at once
  size_t share_port_buffer_bytes = 32768;      // --share-port-buffer-bytes 4096..1048576, per direction
  // --control-socket PATH or none; --control-group NAME (empty: root only)
  std::string control_socket = "/run/dialout/intermediary.sock";
  std::string control_group;
  std::optional<Endpoint> metrics_listen;  // --metrics-listen HOST:PORT, off by default
  // Pre-authentication limits (intermediary/pending_limits.hpp): connections
  // not yet through TLS + REGISTER.
  // In code: 1024 / 1024 / 0 (off) / 40; the daemon: 1024 / 32 / 20 / 40.
  unsigned max_pending = 1024;                 // --max-pending 1..1048576
  unsigned max_pending_per_source = 1024;      // --max-pending-per-source 1..1048576 (at most max-pending)
  unsigned handshake_rate_per_source = 0;      // --handshake-rate-per-source 0..1000000 per second (0: off)
  unsigned handshake_burst_per_source = 40;    // --handshake-burst-per-source 1..1000000
};

// As SiteConfigResult: config only when the daemon should run; otherwise
// text is --help/--version output (exit_code 0) or the refusal (exit_code 64),
// ending with a newline.
struct RelayConfigResult {
  std::optional<RelayConfig> config;
  std::string text;
  int exit_code = 0;
};

RelayConfigResult parse_relay_config(int argc, const char* const* argv);
// Worker threads for `configured` (0 = auto: one per online CPU, at most 8).
unsigned resolve_workers(unsigned configured, unsigned online_cpus);
RelayConfigResult parse_relay_config(int argc, const char* const* argv,
                                     const ConfigEnvironment& env);

}  // namespace dialout
