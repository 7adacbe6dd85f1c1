// The relay's session-ticket keys: one ring (current + previous key) that
// every worker's TLS context holds, so a site resumes on whichever worker
// it lands; kept in --ticket-key-file so it also resumes after a restart,
// and rotated on a schedule. A CRL reload replaces the ring with a single
// fresh key (relay_reload.cpp): a revoked site must not resume.
#include <algorithm>
#include <ctime>

#include "intermediary/relay.hpp"
#include "netlib/ticket_key_file.hpp"

namespace dialout {
namespace {

int64_t wall_now() { return int64_t(std::time(nullptr)); }

}  // namespace

Expected<void, std::string> Relay::load_ticket_keys() {
  auto fresh = TlsContext::random_ticket_key();
  if (!fresh) return unexpected(fresh.error());
  const int64_t now = wall_now();
  if (config_.ticket_key_file.empty()) {
    ticket_keys_ = TicketKeyRing{*fresh, std::nullopt, now};
    return {};
  }
  auto loaded = dialout::load_ticket_keys(config_.ticket_key_file);
  if (!loaded) return unexpected(loaded.error());
  if (!*loaded) {
    ticket_keys_ = TicketKeyRing{*fresh, std::nullopt, now};
    dlog().info("ticket key file {} created", config_.ticket_key_file);
  } else if ((*loaded)->rotation_due(now, config_.ticket_key_rotation.count())) {
    // Tickets of the old current key still resume: it becomes previous.
    ticket_keys_ = (*loaded)->rotated(*fresh, now);
    dlog().info("ticket key file {}: key was due, rotated", config_.ticket_key_file);
  } else {
    ticket_keys_ = **loaded;
    dlog().info("ticket key file {}: resuming tickets from before the restart", config_.ticket_key_file);
    return {};
  }
  return save_ticket_keys_checked();
}

Expected<void, std::string> Relay::save_ticket_keys_checked() {
  if (config_.ticket_key_file.empty()) return {};
  return dialout::save_ticket_keys(config_.ticket_key_file, ticket_keys_);
}

void Relay::save_ticket_keys() {
  if (auto ok = save_ticket_keys_checked(); !ok)
    dlog().error("{}; sites will not resume after a restart until it can be written", ok.error());
}

void Relay::arm_ticket_rotation() {
  int64_t age = wall_now() - ticket_keys_.created;
  int64_t left = config_.ticket_key_rotation.count() - std::max<int64_t>(age, 0);
  // Wall-clock time may jump: wake at least hourly and look again.
  auto wait = std::chrono::seconds(std::clamp<int64_t>(left, 1, 3600));
  ticket_timer_ = loop_.add_timer(wait, [this] {
    ticket_timer_ = 0;
    if (ticket_keys_.rotation_due(wall_now(), config_.ticket_key_rotation.count())) rotate_ticket_keys();
    arm_ticket_rotation();
  });
}

void Relay::rotate_ticket_keys() {
  FlushLog log_flush{deferred_};
  auto fresh = TlsContext::random_ticket_key();
  if (!fresh) {
    dlog().error("ticket key rotation: {}", fresh.error());
    return;
  }
  {
    Lock lk(mu_);
    ticket_keys_ = ticket_keys_.rotated(*fresh, wall_now());
    share_ticket_keys(lk, false, false);
  }
  (void)tls_.set_ticket_keys(ticket_keys_);
  save_ticket_keys();
  dlog().info("ticket keys rotated; tickets of the previous key still resume");
}

void Relay::share_ticket_keys(Lock&, bool crl_reload, bool certificate) {
  for (auto& w : workers_) {
    if (w->index == 0) continue;  // the caller's own
    if (crl_reload) {
      w->reload_crl = ticket_keys_;
      w->reload_certificate = w->reload_certificate || certificate;
      w->new_ticket_keys.reset();
    } else if (w->reload_crl) {
      w->reload_crl = ticket_keys_;  // a CRL reload still pending takes the newer ring
    } else {
      w->new_ticket_keys = ticket_keys_;
    }
    wake(*w);
  }
}

}  // namespace dialout
