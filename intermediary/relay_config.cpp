#include "intermediary/relay_config.hpp"

#include <fmt/core.h>

#include <algorithm>

#include "netlib/ops_options.hpp"
#include "netlib/option_values.hpp"

namespace dialout {

namespace {

constexpr std::string_view kAbout =
    "Usage: intermediary [--config FILE] [--KEY VALUE]...\n"
    "dialout intermediary: the public TLS relay every site dials out to. It maps\n"
    "virtual addresses to the sessions that registered them, applies the policy,\n"
    "and forwards datagrams; it never opens a connection to a site.";

constexpr uint64_t kMaxMillis = 3'600'000;
// More threads than this buys nothing on the relay's data path (they would
// contend on the relay lock) and costs memory per thread.
constexpr unsigned kMaxAutoWorkers = 8;

// clang-format off: one row per setting reads better than wrapped calls.
std::vector<OptionSpec> relay_specs() {
  const RelayConfig d;
  auto ms = [](std::chrono::milliseconds v) { return std::to_string(v.count()); };
  return {
      {"listen", "HOST[:PORT]",
       fmt::format("Address to accept sites on (default {}).", d.listen.to_string())},
      {"cert", "FILE", "PEM certificate chain of the intermediary. Required."},
      {"key", "FILE", "PEM private key of --cert. Required."},
      {"ca", "FILE", "PEM CA every site's client certificate must chain to. Required."},
      {"crl", "FILE", "PEM CRL of that CA, re-read on SIGHUP (default none: no revocation check)."},
      {"policy", "FILE", "Policy file: who may register, advertise and reach what. Required."},
      {"status-file", "FILE",
       "Write counters here ('key value' lines, replaced atomically) (default none)."},
      {"queue-bytes", "BYTES",
       fmt::format("Send queue bound per session, 16384..67108864 (default {}).", d.queue_bytes)},
      {"keepalive-ms", "MS",
       fmt::format("Ping interval on an idle session, >= 100 (default {}).", ms(d.keepalive))},
      {"dead-after-ms", "MS",
       fmt::format("Drop a session silent this long, > keepalive-ms (default {}).",
                   ms(d.dead_after))},
      {"handshake-timeout-ms", "MS",
       fmt::format("Drop a connection that has not registered by then, >= 100 (default {}).",
                   ms(d.handshake_timeout))},
      {"restart-hint-ms", "MS",
       fmt::format("On SIGTERM tell sites to reconnect after this long, 0..600000 (default {}).",
                   ms(d.restart_hint))},
      {"restart-window-ms", "MS",
       fmt::format("Sites spread their reconnects after a restart over this window, on top of "
                   "restart-hint-ms, 0..600000 (default {}).",
                   ms(d.restart_window))},
      {"ticket-key-file", "FILE",
       "Keep the TLS session-ticket keys here (mode 0600, created if missing, rewritten on rotation) so sites "
       "resume after a restart instead of all making full handshakes (default none: keys in memory)."},
      {"ticket-key-rotation-s", "SECONDS",
       fmt::format("Make a new ticket key this often; the one before still resumes, 60..2592000 (default {}).",
                   d.ticket_key_rotation.count())},
      {"handshakes-per-turn", "N",
       fmt::format("TLS handshake steps a worker runs between two passes over its established sessions; "
                   "more wait their turn, so a reconnect storm cannot stall forwarding, 1..4096 (default {}).",
                   d.handshakes_per_turn)},
      {"max-sessions-per-identity", "N",
       fmt::format("Sessions one certificate identity may hold, 1..1048576 (default {}).",
                   d.max_sessions_per_identity)},
      {"max-addresses-per-identity", "N",
       fmt::format("Pool addresses one identity may hold, live or kept for reconnects, 1..4096 (default {}).",
                   d.max_addresses_per_identity)},
      {"workers", "N",
       fmt::format("Threads sessions are spread over, 1..64, or auto: one per CPU, at most {} "
                   "(default {}).",
                   kMaxAutoWorkers, kDaemonWorkers == 0 ? std::string("auto") : std::to_string(kDaemonWorkers))},
      {"user", "NAME",
       "After binding the port, switch to this unprivileged account (default: stay, but drop every "
       "capability)."},
      {"address-pool", "PREFIX",
       "Range laptop addresses are assigned from (to sites that ask for one); repeatable: at most one "
       "IPv4 and one IPv6 range (default none).",
       true},
      {"share-port-backend", "HOST:PORT",
       "Share the listening port with this web server: a connection whose TLS ClientHello does not "
       "offer dialout's ALPN id is passed to it byte for byte (default none: not shared)."},
      {"share-port-max-connections", "N",
       fmt::format("Connections passed to the web server at once, 1..65536; beyond, refused "
                   "(default {}).",
                   d.share_port_max_connections)},
      {"share-port-buffer-bytes", "BYTES",
       fmt::format("Buffer per direction of a connection passed to the web server, 4096..1048576 "
                   "(default {}).",
                   d.share_port_buffer_bytes)},
      {"max-pending", "N",
       fmt::format("Connections that have not finished TLS and REGISTER, at once, 1..1048576; when "
                   "full the oldest is closed (default {}).",
                   d.max_pending)},
      {"max-pending-per-source", "N",
       fmt::format("The same, per source address, 1..1048576 (default {}).", kDaemonMaxPendingPerSource)},
      {"handshake-rate-per-source", "N",
       fmt::format("New connections per second one source address may open, 0..1000000 (0: no limit); "
                   "beyond, closed at accept (default {}).",
                   kDaemonHandshakeRate)},
      {"handshake-burst-per-source", "N",
       fmt::format("Connections a source may open at once before the rate applies, 1..1000000 "
                   "(default {}).",
                   d.handshake_burst_per_source)},
      {"log-level", "LEVEL",
       fmt::format("debug, info, warn or error (default {}).", log_level_key(d.log_level))},
  };
}
// clang-format on

RelayConfig build(const LayeredOptions& o) {
  RelayConfig c;
  if (auto t = o.value("listen")) {
    c.listen =
        o.check<Endpoint>("listen", *t, [](std::string_view s) { return Endpoint::parse(s, 443); });
  }
  c.tls.cert = o.readable_file("cert", true);
  c.tls.key = o.readable_file("key", true);
  c.tls.ca = o.readable_file("ca", true);
  c.tls.crl = o.readable_file("crl", false);
  c.policy_file = o.readable_file("policy", true);
  c.status_file = o.value("status-file").value_or("");
  c.queue_bytes = static_cast<size_t>(o.number("queue-bytes", 16384, 67108864, c.queue_bytes));
  c.keepalive = o.millis("keepalive-ms", 100, kMaxMillis, c.keepalive);
  c.dead_after = o.millis("dead-after-ms", 1, kMaxMillis, c.dead_after);
  if (c.dead_after <= c.keepalive) {
    std::string key = o.given("dead-after-ms") ? "dead-after-ms" : "keepalive-ms";
    o.fail(key, *o.value(key),
           fmt::format("dead-after-ms ({}) must be greater than keepalive-ms ({})",
                       c.dead_after.count(), c.keepalive.count()));
  }
  c.handshake_timeout = o.millis("handshake-timeout-ms", 100, kMaxMillis, c.handshake_timeout);
  c.restart_hint = o.millis("restart-hint-ms", 0, 600000, c.restart_hint);
  c.restart_window = o.millis("restart-window-ms", 0, 600000, c.restart_window);
  c.ticket_key_file = o.value("ticket-key-file").value_or("");
  c.ticket_key_rotation =
      std::chrono::seconds(o.number("ticket-key-rotation-s", 60, 2592000, c.ticket_key_rotation.count()));
  c.handshakes_per_turn = static_cast<unsigned>(o.number("handshakes-per-turn", 1, 4096, c.handshakes_per_turn));
  c.max_sessions_per_identity = static_cast<unsigned>(
      o.number("max-sessions-per-identity", 1, 1048576, c.max_sessions_per_identity));
  c.max_addresses_per_identity = static_cast<unsigned>(
      o.number("max-addresses-per-identity", 1, 4096, c.max_addresses_per_identity));
  c.workers = kDaemonWorkers;
  if (auto t = o.value("workers")) {
    c.workers = *t == "auto" ? 0u
                             : static_cast<unsigned>(o.check<uint64_t>(
                                   "workers", *t, [](std::string_view s) -> Expected<uint64_t, std::string> {
                                     auto n = parse_bounded_uint(s, 0, 64);
                                     if (!n) return unexpected(n.error() + ", or auto");
                                     return n;
                                   }));
  }
  c.user = o.value("user").value_or("");
  for (const auto& t : o.values("address-pool")) {
    Prefix p = o.check<Prefix>("address-pool", t, parse_canonical_prefix);
    for (const auto& prev : c.address_pools) {
      if (prev.addr.family == p.addr.family)
        o.fail("address-pool", t,
               fmt::format("only one {} pool is allowed (already {})",
                           p.addr.family == Family::V4 ? "IPv4" : "IPv6", prev.to_string()));
    }
    c.address_pools.push_back(p);
  }
  if (auto t = o.value("share-port-backend")) {
    c.share_port_backend = o.check<Endpoint>("share-port-backend", *t, [](std::string_view s) -> Expected<Endpoint, std::string> {
      auto ep = Endpoint::parse(s, 0);
      if (ep && ep->port == 0) return unexpected(std::string("needs a port other than 0 (HOST:PORT)"));
      return ep;
    });
  }
  c.share_port_max_connections = static_cast<unsigned>(
      o.number("share-port-max-connections", 1, 65536, c.share_port_max_connections));
  c.share_port_buffer_bytes =
      static_cast<size_t>(o.number("share-port-buffer-bytes", 4096, 1048576, c.share_port_buffer_bytes));
  c.max_pending = static_cast<unsigned>(o.number("max-pending", 1, 1048576, c.max_pending));
  c.max_pending_per_source =
      static_cast<unsigned>(o.number("max-pending-per-source", 1, 1048576, kDaemonMaxPendingPerSource));
  if (c.max_pending_per_source > c.max_pending) {
    std::string key = o.given("max-pending-per-source") ? "max-pending-per-source" : "max-pending";
    o.fail(key, *o.value(key),
           fmt::format("max-pending-per-source ({}) must not exceed max-pending ({})", c.max_pending_per_source,
                       c.max_pending));
  }
  c.handshake_rate_per_source =
      static_cast<unsigned>(o.number("handshake-rate-per-source", 0, 1000000, kDaemonHandshakeRate));
  c.handshake_burst_per_source =
      static_cast<unsigned>(o.number("handshake-burst-per-source", 1, 1000000, c.handshake_burst_per_source));
  c.log_level = o.log_level("log-level", c.log_level);
  c.control_socket = o.value("control-socket").value_or(c.control_socket);
  c.control_group = o.value("control-group").value_or("");
  c.metrics_listen = metrics_endpoint(o);
  return c;
}

}  // namespace

RelayConfigResult parse_relay_config(int argc, const char* const* argv,
                                     const ConfigEnvironment& env) {
  std::vector<OptionSpec> specs = relay_specs();
  for (auto& o : ops_option_specs(RelayConfig{}.control_socket)) specs.push_back(std::move(o));
  return parse_daemon_config<RelayConfigResult>("intermediary", kAbout, specs, build, argc, argv, env);
}

unsigned resolve_workers(unsigned configured, unsigned online_cpus) {
  if (configured != 0) return configured;
  return std::clamp(online_cpus, 1u, kMaxAutoWorkers);
}

RelayConfigResult parse_relay_config(int argc, const char* const* argv) {
  return parse_relay_config(argc, argv, system_environment());
}

}  // namespace dialout
