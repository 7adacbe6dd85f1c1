#include "tund/path_choice.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <utility>

namespace dialout {
namespace {

long long ms(std::chrono::steady_clock::duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

}  // namespace

const char* to_string(Carrier p) { return p == Carrier::Datagram ? "datagram" : "stream"; }

PathChoice::PathChoice(const PathSettings& settings)
    : settings_(settings),
      pmtu_(settings.pmtu),
      backoff_(settings.reprobe_min, settings.reprobe_max, settings.seed),
      reason_("datagram path not offered") {}

void PathChoice::start(Clock::time_point now) {
  if (state_ != State::Off) return;
  forget_probes();
  backoff_.reset();
  state_ = State::Probing;
  next_validate_ = now;
  reason_ = "probing the datagram path";
  tick(now);
}

void PathChoice::stop(Clock::time_point, std::string_view why) {
  if (state_ == State::Off) return;
  bool was_datagram = state_ == State::Datagram;
  state_ = State::Off;
  pmtu_.stop();
  forget_probes();
  reason_ = fmt::format("datagram path off: {}", why);
  if (was_datagram) note(PathEvent::Kind::Switched, reason_);
}

void PathChoice::roam(Clock::time_point now, std::string_view why) {
  if (state_ == State::Off) return;
  bool was_datagram = state_ == State::Datagram;
  state_ = State::Probing;
  pmtu_.stop();
  forget_probes();
  backoff_.reset();
  next_validate_ = now;
  reason_ = fmt::format("address changed ({}): validating the datagram path again", why);
  if (was_datagram) note(PathEvent::Kind::Switched, reason_);
  tick(now);
}

void PathChoice::on_probe_reply(Clock::time_point now, const ProbeReply& reply) {
  auto it = std::find_if(outstanding_.begin(), outstanding_.end(),
                         [&](const Outstanding& o) { return o.token != 0 && o.token == reply.token; });
  if (state_ == State::Off || it == outstanding_.end() || it->record_size != reply.probe_size) {
    ++stats_.stale_replies;
    return;
  }
  Outstanding probe = *it;
  *it = Outstanding{};
  ++stats_.replies;
  if (state_ == State::Probing) {
    if (probe.kind == ProbeKind::Validate) enter_datagram(now, probe);
    return;
  }
  last_reply_ = now;
  if (probe.kind == ProbeKind::Mtu) pump_pmtu(now, pmtu_.on_ack(probe.mtu, now));
}

void PathChoice::tick(Clock::time_point now) {
  if (state_ == State::Probing) {
    if (now >= next_validate_) {
      size_t base = pmtu_.settings().min_mtu;
      send_probe(ProbeKind::Validate, base, pmtu_.record_size(base), now);
      next_validate_ = now + backoff_.next();
    }
    return;
  }
  if (state_ != State::Datagram) return;
  if (now - last_reply_ >= settings_.fallback_after) {
    leave_datagram(now, fmt::format("no authenticated probe reply for {} ms", ms(now - last_reply_)));
    return;
  }
  if (!backoff_reset_ && now - entered_ >= settings_.stable_after) {
    backoff_.reset();
    backoff_reset_ = true;
  }
  if (now >= live_due()) {
    send_probe(ProbeKind::Live, 0, kRecordOverhead + kMinProbeBody, now);
    last_live_sent_ = now;
  }
  pump_pmtu(now, pmtu_.tick(now));
}

PathChoice::Clock::time_point PathChoice::live_due() const {
  bool answered = last_reply_ >= last_live_sent_;
  return last_live_sent_ + (answered ? settings_.keepalive : settings_.retry);
}

PathChoice::Clock::time_point PathChoice::deadline() const {
  switch (state_) {
    case State::Off: return Clock::time_point::max();
    case State::Probing: return next_validate_;
    case State::Datagram: break;
  }
  auto d = std::min({last_reply_ + settings_.fallback_after, live_due(), pmtu_.deadline()});
  if (!backoff_reset_) d = std::min(d, entered_ + settings_.stable_after);
  return d;
}

void PathChoice::enter_datagram(Clock::time_point now, const Outstanding& probe) {
  state_ = State::Datagram;
  entered_ = now;
  last_reply_ = now;
  last_live_sent_ = now;
  backoff_reset_ = false;
  ++stats_.switches_to_datagram;
  pmtu_.start(now);
  reason_ = fmt::format("authenticated probe answered in {} ms: datagram path works (records up to {} bytes)",
                        ms(now - probe.sent_at), pmtu_.max_record());
  note(PathEvent::Kind::Switched, reason_);
  pump_pmtu(now, PmtuSearch::Change::None);
}

void PathChoice::leave_datagram(Clock::time_point now, std::string why) {
  state_ = State::Probing;
  pmtu_.stop();
  forget_probes();
  ++stats_.fallbacks;
  auto delay = backoff_.next();
  next_validate_ = now + delay;
  reason_ = fmt::format("{}: back to the stream, probing again in {} ms", why, ms(delay));
  note(PathEvent::Kind::Switched, reason_);
}

void PathChoice::pump_pmtu(Clock::time_point now, PmtuSearch::Change change) {
  switch (change) {
    case PmtuSearch::Change::None: break;
    case PmtuSearch::Change::Raised:
      note(PathEvent::Kind::MtuChanged, fmt::format("path MTU {} confirmed, searching on (records up to {} bytes)",
                                                    pmtu_.mtu(), pmtu_.max_record()));
      break;
    case PmtuSearch::Change::Completed:
      note(PathEvent::Kind::MtuChanged,
           fmt::format("path MTU {} (records up to {} bytes)", pmtu_.mtu(), pmtu_.max_record()));
      break;
    case PmtuSearch::Change::BlackHole:
      note(PathEvent::Kind::MtuChanged,
           fmt::format("probes at the confirmed size went unanswered: path MTU back to {}, searching again",
                       pmtu_.mtu()));
      break;
  }
  while (auto size = pmtu_.take_probe(now)) send_probe(ProbeKind::Mtu, *size, pmtu_.record_size(*size), now);
}

void PathChoice::send_probe(ProbeKind kind, size_t mtu, size_t record_size, Clock::time_point now) {
  uint64_t token = next_token_++;
  // A ring: the oldest outstanding probe is forgotten first (its reply then counts as stale).
  outstanding_[next_slot_] = Outstanding{token, kind, record_size, mtu, now};
  next_slot_ = (next_slot_ + 1) % kOutstanding;
  if (outbox_count_ == kOutbox) {  // the driver did not take them: the oldest is moot now
    outbox_head_ = (outbox_head_ + 1) % kOutbox;
    --outbox_count_;
  }
  outbox_[(outbox_head_ + outbox_count_) % kOutbox] = ProbeRequest{token, record_size};
  ++outbox_count_;
  ++stats_.probes_sent;
}

std::optional<ProbeRequest> PathChoice::take_probe() {
  if (outbox_count_ == 0) return std::nullopt;
  ProbeRequest p = outbox_[outbox_head_];
  outbox_head_ = (outbox_head_ + 1) % kOutbox;
  --outbox_count_;
  return p;
}

std::vector<PathEvent> PathChoice::take_events() { return std::exchange(events_, {}); }

void PathChoice::note(PathEvent::Kind kind, std::string why) {
  size_t mtu = state_ == State::Datagram ? pmtu_.mtu() : 0;
  events_.push_back(PathEvent{kind, path(), mtu, std::move(why)});
}

void PathChoice::forget_probes() {
  outstanding_.fill(Outstanding{});
  outbox_count_ = 0;
}

}  // namespace dialout
