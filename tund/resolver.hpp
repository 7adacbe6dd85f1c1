// Name resolution that never blocks an event loop. getaddrinfo blocks (for
// seconds when a name server is slow or unreachable, e.g. right after a
// roam), so it runs on a background thread and its answer comes back to
// the loop through a mailbox (an eventfd the loop polls).
//
// Bounded: one look-up runs at a time and at most one more waits (a newer
// request replaces the waiting one); the thread exits when nothing waits,
// so an idle resolver costs no thread. A resolver destroyed while a
// look-up runs does not wait for it: the thread finishes on its own and
// its answer is dropped.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "netlib/event_loop.hpp"
#include "netlib/expected.hpp"
#include "netlib/ip_address.hpp"

namespace dialout {

class Resolver {
 public:
  using Addresses = std::vector<IpAddr>;
  using Result = Expected<Addresses, std::string>;
  // The blocking look-up, run on the background thread; tests inject their own.
  using Lookup = std::function<Result(const std::string& host)>;
  using OnResult = std::function<void(const std::string& host, Result result)>;

  // getaddrinfo, addresses in its preference order, duplicates removed;
  // never an empty list.
  static Result system_lookup(const std::string& host);

  // on_result runs on `loop`'s thread and must not destroy the resolver. Throws only if no eventfd can be made (startup).
  Resolver(EventLoop& loop, OnResult on_result, Lookup lookup = system_lookup);
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // Asks for a fresh answer for `host`; returns at once.
  void request(const std::string& host);
  uint64_t lookups() const;  // started on the thread
  uint64_t dropped() const;  // answers lost to a full mailbox

 private:
  struct Answer;
  struct Shared;
  static void run(std::shared_ptr<Shared> shared);
  void deliver();

  EventLoop& loop_;
  OnResult on_result_;
  std::shared_ptr<Shared> shared_;
  std::thread thread_;
};

}  // namespace dialout
