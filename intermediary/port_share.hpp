// The port-sharing front: with share-port-backend set, every connection the
// relay accepts comes here first. Its first bytes are peeked (recv
// MSG_PEEK: nothing is consumed, so whoever gets the connection next sees
// it from its first byte) until decide_share() has a verdict; then a site's
// connection goes to the relay (Relay::adopt_connection), anything else to
// the Splicer (web server), and a bad or silent one is closed and counted.
//
// Runs on the relay's main loop, never on a worker. The peek needs no
// buffer per connection (one scratch buffer re-reads what the kernel
// holds), and the epoll registration is edge-triggered: bytes that stay in
// the socket would otherwise make it readable on every turn. Bounded:
// share-port-max-connections waiting for a verdict (and as many spliced);
// beyond, new connections are closed and counted.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "intermediary/port_share_counters.hpp"
#include "intermediary/relay_config.hpp"
#include "intermediary/share_decision.hpp"
#include "intermediary/splicer.hpp"
#include "netlib/event_loop.hpp"
#include "netlib/log.hpp"
#include "netlib/unique_fd.hpp"

namespace dialout {

class PortShare {
 public:
  using ToRelay = std::function<void(UniqueFd)>;
  // config.share_port_backend must be set. `to_relay` runs on `loop`.
  PortShare(EventLoop& loop, const RelayConfig& config, ToRelay to_relay, Logger& log);
  ~PortShare();
  PortShare(const PortShare&) = delete;
  PortShare& operator=(const PortShare&) = delete;

  // Starts the splice thread.
  void start();
  // The loop's thread: a connection just accepted.
  void take(UniqueFd fd);

  // Any thread: both sets summed; status-file rows (kShareCounters order).
  ShareCounterSet::Values counters() const;
  void append_status(std::vector<std::pair<std::string_view, uint64_t>>& rows) const;
  // The loop's thread: connections waiting for a verdict.
  size_t waiting() const { return waiting_.size(); }
  unsigned spliced() const { return splicer_.live(); }

 private:
  struct Waiting {
    UniqueFd fd;
    std::string peer;
    EventLoop::TimerId timer = 0;
  };
  void on_event(int fd, uint32_t events, bool timed_out);
  void settle(int fd, ShareDecision d);

  EventLoop& loop_;
  ToRelay to_relay_;
  std::chrono::milliseconds timeout_;
  unsigned max_waiting_;
  ShareCounterSet counters_;  // the loop's thread writes
  RateLimitedLog drop_log_;
  std::vector<uint8_t> scratch_;  // kMaxClientHelloPeek, for every peek
  std::unordered_map<int, Waiting> waiting_;
  Splicer splicer_;
};

}  // namespace dialout
