// The open attempts of one happy-eyeballs race (tund/connect_race.hpp):
// transports whose handshake is still running, each registered on the
// event loop under its race index. The uplink asks drive() on an event and
// take()s the winner; the rest go with clear() (their sockets close).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "netlib/event_loop.hpp"
#include "netlib/socket.hpp"
#include "netlib/stream_transport.hpp"

namespace dialout {

class ConnectAttempts {
 public:
  // Called on the loop when attempt `index`'s socket is ready.
  using OnEvent = std::function<void(size_t index)>;

  ConnectAttempts(EventLoop& loop, OnEvent on_event) : loop_(loop), on_event_(std::move(on_event)) {}
  ~ConnectAttempts() { clear(); }
  ConnectAttempts(const ConnectAttempts&) = delete;
  ConnectAttempts& operator=(const ConnectAttempts&) = delete;

  // Starts watching a transport that is connecting to `to`.
  void add(size_t index, Endpoint to, std::unique_ptr<StreamTransport> transport);

  enum class Step { Pending, Done, Failed };
  // One handshake step of attempt `index` (Pending also for an unknown
  // index); follows the transport's fd and interest. A Failed attempt is
  // gone, its error in last_failure().
  Step drive(size_t index);
  // Hands over a Done attempt's transport, no longer watched.
  std::unique_ptr<StreamTransport> take(size_t index);
  void clear();

  bool empty() const { return open_.empty(); }
  size_t size() const { return open_.size(); }
  const Endpoint* target(size_t index) const;
  // "addr:port: what failed", of the last Failed attempt.
  const std::string& last_failure() const { return last_failure_; }

 private:
  struct Attempt {
    size_t index;
    Endpoint to;
    std::unique_ptr<StreamTransport> transport;
    int fd = -1;  // registered with the loop
    uint32_t interest = 0;
  };
  std::vector<Attempt>::iterator find(size_t index);
  void watch(Attempt& a, uint32_t events);
  void forget(std::vector<Attempt>::iterator it);

  EventLoop& loop_;
  OnEvent on_event_;
  std::vector<Attempt> open_;
  std::string last_failure_;
};

}  // namespace dialout
