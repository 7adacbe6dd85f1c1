// The thread that runs the port-sharing splices (SplicePair): the front
// (PortShare, on the relay's main loop) hands it each connection meant for
// the web server; it connects to the backend and copies bytes both ways on
// its own LoopThread, so neither the relay's workers nor its main loop ever
// wait on a web client.
//
// Bounded: at most `max_pairs` connections are live or waiting to start
// (take() refuses beyond, the caller counts it), each with two buffers of
// `buffer_bytes`. The handoff is a Mailbox of the same bound, so it cannot
// overflow. Backend names are resolved (getaddrinfo) on this thread, per
// connection: a numeric address avoids the lookup.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <unordered_map>

#include "intermediary/port_share_counters.hpp"
#include "intermediary/splice_pair.hpp"
#include "netlib/log.hpp"
#include "netlib/loop_thread.hpp"
#include "netlib/mailbox.hpp"
#include "netlib/socket.hpp"

namespace dialout {

class Splicer {
 public:
  Splicer(Endpoint backend, size_t buffer_bytes, unsigned max_pairs, Logger& log);
  ~Splicer();  // stops the thread; live splices are closed
  Splicer(const Splicer&) = delete;
  Splicer& operator=(const Splicer&) = delete;

  void start();
  // Any thread: passes `client` (connected, nothing consumed) to the
  // backend. False when max_pairs are already live or waiting: the caller
  // closes the fd and counts it.
  bool take(UniqueFd client, std::string peer);

  // Any thread.
  const ShareCounterSet& counters() const { return counters_; }
  unsigned live() const { return live_.load(std::memory_order_relaxed); }

 private:
  struct Handoff {
    UniqueFd fd;
    std::string peer;
  };
  struct Entry {
    SplicePair pair;
    std::string peer;
  };
  // The splice thread only.
  void drain();
  void begin(Handoff h);
  void on_ready(int client_fd, uint32_t client_events, uint32_t backend_events);
  void finish(std::unordered_map<int, std::unique_ptr<Entry>>::iterator it);

  Endpoint backend_;
  size_t buffer_bytes_;
  unsigned max_pairs_;
  ShareCounterSet counters_;  // written by the splice thread only
  std::atomic<unsigned> live_{0};
  Mailbox<Handoff> inbox_;
  // Keyed by the client's fd. Touched by the splice thread only once started.
  std::unordered_map<int, std::unique_ptr<Entry>> pairs_;
  RateLimitedLog drop_log_;  // splice thread only
  // Last: stopped (joined) first, before anything above goes away.
  LoopThread thread_;
};

}  // namespace dialout
