#include "tund/pmtu_search.hpp"

#include <algorithm>

namespace dialout {

PmtuSearch::PmtuSearch(const PmtuSettings& settings) : settings_(settings) {
  // Nonsense settings become a fixed size rather than a search that cannot end.
  settings_.max_mtu = std::max(settings_.max_mtu, settings_.min_mtu);
  settings_.overhead = std::min(settings_.overhead, settings_.min_mtu);
  settings_.max_probes = std::max(settings_.max_probes, 1u);
  confirmed_ = settings_.min_mtu;
  ceiling_ = settings_.max_mtu;
}

void PmtuSearch::start(Clock::time_point now) { search_from(settings_.min_mtu, settings_.max_mtu, now); }

void PmtuSearch::stop() {
  state_ = State::Idle;
  confirmed_ = settings_.min_mtu;
  outstanding_ = false;
  send_now_ = false;
}

void PmtuSearch::search_from(size_t confirmed, size_t ceiling, Clock::time_point now) {
  state_ = State::Searching;
  confirmed_ = confirmed;
  ceiling_ = std::max(ceiling, confirmed);
  failures_ = 0;
  outstanding_ = false;
  if (ceiling_ == confirmed_) {
    settle(now);
    return;
  }
  candidate_ = ceiling_;  // optimistic: the full MTU usually works
  send_now_ = true;
}

PmtuSearch::Change PmtuSearch::settle(Clock::time_point now) {
  failures_ = 0;
  outstanding_ = false;
  if (confirmed_ >= ceiling_) {
    state_ = State::Complete;
    candidate_ = confirmed_;
    send_now_ = false;
    next_confirm_ = now + settings_.confirm_interval;
    next_raise_ = now + settings_.raise_interval;
    return Change::Completed;
  }
  candidate_ = confirmed_ + (ceiling_ - confirmed_ + 1) / 2;  // upper middle: always > confirmed
  send_now_ = true;
  return Change::None;
}

PmtuSearch::Change PmtuSearch::probe_failed(Clock::time_point now) {
  outstanding_ = false;
  if (++failures_ < settings_.max_probes) {
    send_now_ = true;  // the same size once more: one lost probe proves nothing
    return Change::None;
  }
  if (state_ == State::Searching) {
    ceiling_ = candidate_ - 1;
    return settle(now);
  }
  // The confirmed size stopped getting through: start over from the base.
  size_t too_big = candidate_;
  search_from(settings_.min_mtu, too_big - 1, now);
  return Change::BlackHole;
}

PmtuSearch::Change PmtuSearch::on_ack(size_t mtu, Clock::time_point now) {
  if (state_ == State::Idle || mtu < settings_.min_mtu || mtu > settings_.max_mtu) return Change::None;
  bool grew = mtu > confirmed_;
  if (grew) {
    confirmed_ = mtu;
    ceiling_ = std::max(ceiling_, mtu);
  }
  if (outstanding_ && mtu >= candidate_) {
    if (state_ == State::Complete) {
      outstanding_ = false;
      failures_ = 0;
      next_confirm_ = now + settings_.confirm_interval;
      return grew ? Change::Raised : Change::None;
    }
    Change c = settle(now);
    return c == Change::Completed ? c : Change::Raised;
  }
  if (grew && state_ == State::Searching && confirmed_ >= ceiling_) return settle(now);
  return grew ? Change::Raised : Change::None;
}

PmtuSearch::Change PmtuSearch::tick(Clock::time_point now) {
  if (state_ == State::Idle) return Change::None;
  if (outstanding_ && now >= sent_at_ + settings_.probe_timeout) return probe_failed(now);
  if (state_ == State::Complete && !outstanding_ && !send_now_) {
    if (confirmed_ < settings_.max_mtu && now >= next_raise_) {
      search_from(confirmed_, settings_.max_mtu, now);
    } else if (now >= next_confirm_) {
      candidate_ = confirmed_;
      send_now_ = true;
    }
  }
  return Change::None;
}

std::optional<size_t> PmtuSearch::take_probe(Clock::time_point now) {
  if (state_ == State::Idle || !send_now_) return std::nullopt;
  send_now_ = false;
  outstanding_ = true;
  sent_at_ = now;
  return candidate_;
}

PmtuSearch::Clock::time_point PmtuSearch::deadline() const {
  if (state_ == State::Idle) return Clock::time_point::max();
  if (send_now_) return Clock::time_point::min();
  if (outstanding_) return sent_at_ + settings_.probe_timeout;
  if (state_ == State::Complete) {
    auto d = next_confirm_;
    if (confirmed_ < settings_.max_mtu) d = std::min(d, next_raise_);
    return d;
  }
  return Clock::time_point::max();
}

}  // namespace dialout
