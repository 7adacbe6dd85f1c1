// Which path a site's data takes to the intermediary: the TLS stream
// (always there, always carries control) or the datagram path (UDP records,
// netlib/datagram_record.hpp), and the probes that decide it. Pure: the
// driver passes `now`, authenticated probe replies and ticks; it sends the
// probes this asks for, routes data by path(), and logs the events.
//
//   Off       no datagram path (not offered, no keys yet, session down).
//             Data: stream.
//   Probing   after ACCEPT and the key exchange: a validation PROBE padded
//             to the base path MTU (1200), again after each backoff delay
//             (reprobe_min doubling to reprobe_max, jittered). Data: stream.
//   Datagram  an authenticated validation probe came back. Data: datagram
//             (records of up to max_record_size(); larger ones take the
//             stream). Liveness: a small PROBE every `keepalive`, again
//             after `retry` while the last one is unanswered; when no
//             authenticated reply has come for `fallback_after`, back to
//             Probing (data to the stream at once) and re-probe after the
//             next backoff delay. With the defaults (1 s, 0.5 s, 2.5 s) data
//             is back on the stream 2.5 s after the last reply, and the
//             site has sent three probes in that time, so two lost
//             replies are not yet a fallback. The backoff resets after
//             `stable_after` on the datagram path, so a flapping path
//             backs off instead of bouncing every few seconds.
//   The path MTU is searched while on Datagram (tund/pmtu_search.hpp).
//
// Liveness is measured by round trips, not by records arriving: a path that
// works in one direction only must count as broken. Probe replies are
// matched by token to a probe of the current attempt with the same size;
// anything else (late replies from before a fallback or a roam) is stale.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "netlib/backoff.hpp"
#include "netlib/wire.hpp"  // ProbeReply
#include "tund/pmtu_search.hpp"

namespace dialout {

enum class Carrier : uint8_t { Stream, Datagram };
const char* to_string(Carrier);

struct PathSettings {
  std::chrono::milliseconds keepalive{1000};
  std::chrono::milliseconds retry{500};
  std::chrono::milliseconds fallback_after{2500};
  std::chrono::milliseconds reprobe_min{1000};
  std::chrono::milliseconds reprobe_max{60000};
  std::chrono::milliseconds stable_after{30000};
  PmtuSettings pmtu;
  uint64_t seed = 0;  // backoff jitter
};

// A PROBE record to send: this token, the whole record padded to record_size.
struct ProbeRequest {
  uint64_t token = 0;
  size_t record_size = 0;
  bool operator==(const ProbeRequest&) const = default;
};

struct PathEvent {
  enum class Kind : uint8_t { Switched, MtuChanged };
  Kind kind = Kind::Switched;
  Carrier path = Carrier::Stream;  // where data goes from now on
  size_t mtu = 0;                    // the confirmed path MTU (0 off the datagram path)
  std::string why;                   // for the log line and the status file
};

class PathChoice {
 public:
  using Clock = std::chrono::steady_clock;
  enum class State : uint8_t { Off, Probing, Datagram };

  explicit PathChoice(const PathSettings& settings);

  // The datagram path is offered and keyed: start probing now.
  void start(Clock::time_point now);
  // The datagram path is gone (session down, keys dropped): Off.
  void stop(Clock::time_point now, std::string_view why);
  // This host's address changed: whatever was confirmed was for the old
  // path. Probe again at once, backoff reset, MTU searched again.
  void roam(Clock::time_point now, std::string_view why);
  // An authenticated PROBE_REPLY arrived.
  void on_probe_reply(Clock::time_point now, const ProbeReply& reply);
  // Timers. Call at deadline() (earlier is harmless).
  void tick(Clock::time_point now);

  Carrier path() const { return state_ == State::Datagram ? Carrier::Datagram : Carrier::Stream; }
  State state() const { return state_; }
  // The largest record the datagram path carries now; 0 when data is on the stream.
  size_t max_record_size() const { return state_ == State::Datagram ? pmtu_.max_record() : 0; }
  Clock::time_point deadline() const;

  // Probes to send now (oldest first); each call takes one.
  std::optional<ProbeRequest> take_probe();
  // Path switches and MTU changes since the last call.
  std::vector<PathEvent> take_events();
  // Why data is on its current path (the status file shows it).
  const std::string& reason() const { return reason_; }

  struct Stats {
    uint64_t probes_sent = 0;
    uint64_t replies = 0;
    uint64_t stale_replies = 0;
    uint64_t switches_to_datagram = 0;
    uint64_t fallbacks = 0;
  };
  const Stats& stats() const { return stats_; }

 private:
  enum class ProbeKind : uint8_t { Validate, Live, Mtu };
  struct Outstanding {
    uint64_t token = 0;  // 0: free slot
    ProbeKind kind = ProbeKind::Live;
    size_t record_size = 0;
    size_t mtu = 0;
    Clock::time_point sent_at{};
  };
  static constexpr size_t kOutstanding = 8;
  static constexpr size_t kOutbox = 4;

  void send_probe(ProbeKind kind, size_t mtu, size_t record_size, Clock::time_point now);
  void leave_datagram(Clock::time_point now, std::string why);
  void schedule_reprobe(Clock::time_point now);
  void enter_datagram(Clock::time_point now, const Outstanding& probe);
  void pump_pmtu(Clock::time_point now, PmtuSearch::Change change);
  void note(PathEvent::Kind kind, std::string why);
  void forget_probes();
  Clock::time_point live_due() const;

  PathSettings settings_;
  PmtuSearch pmtu_;
  Backoff backoff_;
  State state_ = State::Off;
  std::string reason_;
  uint64_t next_token_ = 1;
  std::array<Outstanding, kOutstanding> outstanding_{};
  size_t next_slot_ = 0;
  std::array<ProbeRequest, kOutbox> outbox_{};
  size_t outbox_head_ = 0, outbox_count_ = 0;
  std::vector<PathEvent> events_;
  Stats stats_;
  // Probing
  Clock::time_point next_validate_{};
  // Datagram
  Clock::time_point last_reply_{};
  Clock::time_point last_live_sent_{};
  Clock::time_point entered_{};
  bool backoff_reset_ = false;
};

}  // namespace dialout
