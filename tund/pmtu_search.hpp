// Path MTU search for the datagram path (RFC 8899, datagram PLPMTUD):
// outer datagrams are sent with DF and never fragmented, so the largest
// record that gets through is found by probing, not by ICMP (which tunnels
// and firewalls often eat). Pure: sizes, acknowledgements and `now` in,
// probe sizes out; PathChoice owns it and turns sizes into PROBE records.
//
// Sizes are outer IP packet sizes (the path MTU); a record may be
// mtu - overhead bytes (the outer IP and UDP headers).
//
//   start: the caller has confirmed min_mtu (BASE_PLPMTU, its validation
//          probe) -> Searching, first probe at max_mtu (most paths carry
//          the full interface MTU: one round trip and done).
//   Searching: one probe outstanding; acknowledged -> it becomes the
//          confirmed size (PLPMTU); max_probes probes of a size unanswered,
//          each after probe_timeout -> that size is too big. Binary search
//          between the confirmed size and the smallest size known too big,
//          to the byte -> Complete.
//   Complete: every confirm_interval a probe at the confirmed size; if
//          max_probes go unanswered the path shrank (a black hole: large
//          records vanish while small ones pass) -> back to min_mtu and
//          search again. Every raise_interval, if below max_mtu, search
//          upwards again (PMTU_RAISE_TIMER).
// RFC 8899 constants: BASE_PLPMTU 1200, MAX_PROBES 3, PMTU_RAISE_TIMER
// 600 s. PROBE_TIMER: 1 s, the RFC's floor (it suggests 15 s for unknown
// peers; ours answers every probe at once, so 1 s is already many RTTs).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace dialout {

struct PmtuSettings {
  size_t min_mtu = 1200;  // BASE_PLPMTU
  size_t max_mtu = 1500;  // the interface MTU
  size_t overhead = 28;   // outer IP + UDP header bytes: 28 over IPv4, 48 over IPv6
  unsigned max_probes = 3;
  std::chrono::milliseconds probe_timeout{1000};
  std::chrono::milliseconds confirm_interval{15000};
  std::chrono::milliseconds raise_interval{600000};
};

class PmtuSearch {
 public:
  using Clock = std::chrono::steady_clock;
  enum class State : uint8_t { Idle, Searching, Complete };
  // What the last change was, for the owner's log line.
  enum class Change : uint8_t { None, Raised, Completed, BlackHole };

  explicit PmtuSearch(const PmtuSettings& settings);

  // min_mtu has just been confirmed: search from there.
  void start(Clock::time_point now);
  // Stop probing (path down); the confirmed size falls back to min_mtu.
  void stop();

  // An authenticated reply to a probe of `mtu` bytes.
  Change on_ack(size_t mtu, Clock::time_point now);
  // Timeouts. Call at deadline() (earlier calls are harmless).
  Change tick(Clock::time_point now);
  // A probe size to send now, if one is due; the probe counts as sent.
  std::optional<size_t> take_probe(Clock::time_point now);

  Clock::time_point deadline() const;
  State state() const { return state_; }
  // The confirmed path MTU, and the largest record it carries.
  size_t mtu() const { return confirmed_; }
  size_t max_record() const { return confirmed_ - settings_.overhead; }
  size_t record_size(size_t mtu) const { return mtu - settings_.overhead; }
  const PmtuSettings& settings() const { return settings_; }

 private:
  void search_from(size_t confirmed, size_t ceiling, Clock::time_point now);
  Change settle(Clock::time_point now);  // picks the next candidate, or completes
  Change probe_failed(Clock::time_point now);

  PmtuSettings settings_;
  State state_ = State::Idle;
  size_t confirmed_;  // PLPMTU
  size_t ceiling_;    // the largest size not yet known to be too big
  size_t candidate_ = 0;  // PROBED_SIZE (Searching) or the size being confirmed (Complete)
  unsigned failures_ = 0;  // PROBE_COUNT
  bool outstanding_ = false;
  bool send_now_ = false;
  Clock::time_point sent_at_{};
  Clock::time_point next_confirm_{};
  Clock::time_point next_raise_{};
};

}  // namespace dialout
