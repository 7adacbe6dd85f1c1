// intermediary: the public relay between sites that only dial out.
#include <csignal>
#include <cstdio>
#include <memory>

#include "intermediary/port_share.hpp"
#include "intermediary/relay.hpp"
#include "intermediary/relay_control.hpp"
#include "intermediary/relay_config.hpp"
#include "netlib/alpn.hpp"
#include "netlib/certificate_expiry.hpp"
#include "netlib/control_socket.hpp"
#include "netlib/event_loop.hpp"
#include "netlib/metrics_server.hpp"
#include "netlib/log.hpp"
#include "netlib/option_parsing.hpp"
#include "intermediary/policy.hpp"
#include "netlib/privileges.hpp"
#include "netlib/sd_notify.hpp"
#include "netlib/tls.hpp"

using namespace dialout;

namespace {
// A configuration or file error (bad key, unreadable certificate or policy,
// unknown --user) exits with kExitUsage (64) like a bad flag, so the units
// do not restart it; 78 is only for a refusal by the intermediary (tund).

int run(const RelayConfig& config) {
  Logger log("intermediary", config.log_level);
  auto policy = Policy::load(config.policy_file);
  if (!policy) {
    log.error("policy: {}", policy.error().to_string());
    return kExitUsage;
  }
  auto tls = TlsContext::server(config.tls);
  if (!tls) {
    log.error("TLS: {}", tls.error());
    return kExitUsage;
  }
  // A peer that vanishes mid-write must be an error value, not a signal.
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &ignore, nullptr);

  EventLoop loop;
  Relay relay(loop, *tls, std::move(*policy), config, log);
  if (auto ok = relay.listen(); !ok) {
    log.error("{}", ok.error());
    return 1;
  }
  // Port sharing: accepted connections are peeked first (port_share.hpp).
  // Declared after the relay, so it goes first; the relay calls it only
  // from the loop and write_status(), both done by then.
  std::unique_ptr<PortShare> share;
  if (config.share_port_backend) {
    share = std::make_unique<PortShare>(loop, config, [&relay](UniqueFd fd) { relay.adopt_connection(std::move(fd)); },
                                        log);
    relay.set_accept_front({[&share](UniqueFd fd) { share->take(std::move(fd)); },
                            [&share](auto& rows) { share->append_status(rows); }});
    log.info("sharing the port: connections without the {} ALPN id go to {}", kAlpnProtocol,
             config.share_port_backend->to_string());
  }
  // What SIGHUP and `dialoutctl reload` do: "" or why something was not reloaded.
  auto reload = [&]() -> std::string {
    std::string err;
    if (auto tls = relay.reload_crl(true); !tls) {
      log.error("certificate and CRL reload failed, keeping the old ones: {}", tls.error());
      err = "certificate/CRL: " + tls.error();
    }
    auto fresh = Policy::load(config.policy_file);
    if (!fresh) {
      log.error("policy reload failed, keeping the old one: {}", fresh.error().to_string());
      return err.empty() ? "policy: " + fresh.error().to_string() : err + "; policy: " + fresh.error().to_string();
    }
    relay.replace_policy(std::move(*fresh));
    if (err.empty())
      log.info("reloaded our certificate (expires {}), CRL and policy", format_utc(relay.certificate_not_after()));
    else
      log.info("reloaded the policy");
    return err;
  };
  // Both bind before privileges go (/run/dialout, a low port).
  std::unique_ptr<ControlSocket> control;
  if (config.control_socket != "none") {
    if (auto fd = open_control_socket(config.control_socket, config.control_group)) {
      control = std::make_unique<ControlSocket>(loop, std::move(*fd), config.control_socket,
                                                [&](const ControlRequest& r) { return relay_control(relay, r, reload); });
      log.info("control socket {}", config.control_socket);
    } else {
      // Tunnels matter more than the admin tool: say so and go on.
      log.warn("control socket off: {}", fd.error());
    }
  }
  std::unique_ptr<MetricsServer> metrics;
  if (config.metrics_listen) {
    auto m = MetricsServer::open(loop, *config.metrics_listen, [&] { return relay_metrics(relay); });
    if (!m) {
      log.error("{}", m.error());
      return kExitUsage;
    }
    metrics = std::move(*m);
    log.info("metrics on http://{}/metrics", config.metrics_listen->to_string());
  }
  // The port is bound: nothing below needs privilege. Files read later
  // (policy and CRL reloads) must be readable by --user. Capabilities are
  // per thread: they go before any worker thread exists.
  if (!config.user.empty()) {
    if (auto ok = switch_to_user(config.user); !ok) {
      log.error("--user: {}", ok.error());
      return kExitUsage;
    }
  }
  if (auto ok = keep_only_capabilities({}); !ok) {
    log.error("dropping capabilities: {}", ok.error());
    return 1;
  }
  log.info("running as uid {} with no capabilities", ::getuid());
  // Before the worker threads start, so only this thread takes the signals.
  loop.add_signals({SIGTERM, SIGINT, SIGHUP}, [&](int sig) {
    if (sig == SIGHUP) {
      (void)reload();
      return;
    }
    sd_notify("STOPPING=1");
    relay.announce_restart();
    loop.stop();
  });
  // Threads start with every signal blocked (LoopThread), after the drop.
  if (share) share->start();
  if (auto ok = relay.start(); !ok) {
    log.error("{}", ok.error());
    return 1;
  }
  sd_notify("READY=1\nSTATUS=relaying");
  loop.run();
  relay.write_status();
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  auto parsed = parse_relay_config(argc, argv);
  if (!parsed.config) {
    std::fputs(parsed.text.c_str(), parsed.exit_code == 0 ? stdout : stderr);
    return parsed.exit_code;
  }
  return run(*parsed.config);
}
