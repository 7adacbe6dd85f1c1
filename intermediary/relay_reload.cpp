// Reloads (SIGHUP, `dialoutctl reload`, a changed CRL file): the new
// policy or CRL, and the re-check of the sessions already up. A new policy
// withdraws the registrations it no longer allows (registration_recheck.hpp)
// through their owners' inboxes and re-sends routes; a new CRL is loaded by
// every worker into its own context, after which each closes its own
// sessions whose certificate it now lists. Only a session's owner touches it.
#include <fmt/format.h>

#include <algorithm>
#include <ctime>

#include "intermediary/registration_recheck.hpp"
#include "intermediary/relay.hpp"
#include "intermediary/revocation.hpp"

namespace dialout {

Expected<void, std::string> Relay::reload_crl(bool certificate) {
  FlushLog log_flush{deferred_};
  // Our own certificate first: worker 0's result (checked before anything
  // changes) stands for all, as the files are the same.
  if (certificate)
    if (auto ok = tls_.try_reload_certificate(); !ok) return ok;
  // A fresh ticket key with every reload and no previous one, so a revoked
  // client cannot skip the check by resuming; the same ring for every
  // worker, so resumption keeps working across them.
  auto key = TlsContext::random_ticket_key();
  if (!key) return unexpected(key.error());
  TicketKeyRing ring{*key, std::nullopt, std::time(nullptr)};
  // Worker 0's context is this thread's; its result stands for all (same files).
  if (auto ok = tls_.try_reload_crl(ring); !ok) return ok;
  {
    Lock lk(mu_);
    ticket_keys_ = ring;
    share_ticket_keys(lk, true, certificate);
  }
  save_ticket_keys();
  if (!workers_.empty()) close_revoked(*workers_[0]);
  return {};
}

void Relay::apply_crl_reload(RelayWorker& w, const TicketKeyRing& keys, bool certificate) {
  FlushLog log_flush{deferred_};
  if (certificate)
    if (auto ok = w.tls->try_reload_certificate(); !ok)
      dlog().error("worker {}: certificate reload failed, keeping the old one: {}", w.index, ok.error());
  if (auto ok = w.tls->try_reload_crl(keys); !ok) {
    dlog().error("worker {}: CRL reload failed, keeping the old CRL: {}", w.index, ok.error());
    (void)w.tls->set_ticket_keys(keys);  // resumption across workers needs the same keys
    return;
  }
  close_revoked(w);
}

void Relay::close_revoked(RelayWorker& w) {
  // Collected first: closing moves a session out of w.owned.
  std::vector<SessionId> revoked;
  for (const auto& [id, s] : w.owned) {
    if (s->retired || s->core.state() == RelaySession::State::Handshake) continue;
    if (certificate_revoked(w.tls->native(), s->tls->peer_certificate())) revoked.push_back(id);
  }
  for (SessionId id : revoked) {
    Session* s = owned(w, id);
    if (s == nullptr) continue;
    w.counters.add(RelayCounter::ClosedByReload);
    refuse(w, *s, RefuseReason::Closed, fmt::format("certificate of '{}' revoked (CRL reloaded)", s->who.name));
  }
  finish(w);
}

void Relay::replace_policy(Policy policy) {
  FlushLog log_flush{deferred_};
  if (workers_.empty()) {  // not started: nothing registered to re-check
    Lock lk(mu_);
    policy_ = std::make_shared<const Policy>(std::move(policy));
    return;
  }
  RelayWorker& main = *workers_[0];
  LocalWork local;
  size_t dns_changed = 0;
  {
    Lock lk(mu_);
    policy_ = std::make_shared<const Policy>(std::move(policy));
    publish_view();  // new rules bite per datagram from now on
    // Every live registration is re-checked as REGISTER would check it now.
    std::vector<std::vector<Prefix>> advertised;  // storage the LiveRegistrations point into
    std::vector<LiveRegistration> live;
    advertised.reserve(directory_.size());
    for (const auto& [id, entry] : directory_) {
      if (entry.site == 0) continue;
      const Site* site = registrar_.registry().site(entry.site);
      if (site == nullptr) continue;
      advertised.push_back(advertised_prefixes(*site));
      live.push_back({id, &entry.who, site->name, advertised.back()});
    }
    std::vector<uint8_t> bytes;
    const auto withdrawn = withdrawn_registrations(*policy_, live);
    for (const auto& gone : withdrawn) {
      // The owner refuses it: [reason][text] (apply_control, InboxKind::Withdraw).
      bytes.assign(1, uint8_t(gone.refusal.reason));
      bytes.insert(bytes.end(), gone.refusal.text.begin(), gone.refusal.text.end());
      post_control(main, gone.session, InboxKind::Withdraw, bytes, local);
    }
    // DNS for live sessions: only to those whose config the reload changed.
    for (auto& [id, entry] : directory_) {
      if (entry.site == 0 || !(entry.capabilities & kCapDnsConfig)) continue;
      // A session refused just above is closing: no config for it.
      const SessionId session = id;  // a structured binding cannot be captured before C++20's P1091 (clang 14)
      if (std::any_of(withdrawn.begin(), withdrawn.end(), [&](const auto& g) { return g.session == session; }))
        continue;
      const DnsConfig& now = policy_->dns_for(entry.who);
      if (now == entry.dns) continue;
      entry.dns = now;
      bytes.clear();
      if (!encode(now, bytes)) continue;  // the parser admits only valid configs
      post_control(main, id, InboxKind::Control, bytes, local);
      ++dns_changed;
    }
    push_routes();  // reach rules may have changed what each site sees
  }
  if (dns_changed != 0) dlog().info("policy reload: new DNS config sent to {} session(s)", dns_changed);
  apply_local(main, local);
  finish(main);
}

}  // namespace dialout
