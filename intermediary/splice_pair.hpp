// One connection passed to the web server that shares the port: the
// client's bytes copied to the backend and the backend's back, unchanged.
//
// Each direction has one buffer, sized once (no allocation afterwards):
// reading stops while it is full, so a slow reader on one side holds the
// other side back through TCP instead of growing memory. An end of stream
// on one side is passed on as a half-close (shutdown SHUT_WR) once its
// buffer is written out; the pair is done when both directions are. Any
// error (reset, failed connect, a write to a closed peer) fails the pair and
// the owner closes both sockets (the destructor does).
//
// No event loop here: the owner (Splicer) watches both fds with
// client_interest()/backend_interest() and calls pump() on any readiness.
// Tests drive it over socketpairs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "netlib/unique_fd.hpp"

namespace dialout {

class SplicePair {
 public:
  enum class State { Connecting, Open, Done, Failed };

  // `backend` may still be connecting (a non-blocking connect): then
  // nothing is written to it until pump() sees it writable and connected.
  SplicePair(UniqueFd client, UniqueFd backend, size_t buffer_bytes, bool backend_connecting);

  int client_fd() const { return client_.get(); }
  int backend_fd() const { return backend_.get(); }
  State state() const { return state_; }
  bool finished() const { return state_ == State::Done || state_ == State::Failed; }
  // Failed: what went wrong, for a log line.
  const std::string& error() const { return error_; }

  // Bytes moved by one pump().
  struct Moved {
    uint64_t to_backend = 0;
    uint64_t from_backend = 0;
  };
  // Moves what it can without blocking. `client_events`/`backend_events`:
  // what epoll reported on each fd (0 for the one that did not fire); used to
  // finish a connect and to fail on EPOLLERR.
  Moved pump(uint32_t client_events, uint32_t backend_events);

  // epoll interest for each socket now (EPOLLIN while there is room to read,
  // EPOLLOUT while bytes wait to be written or a connect to finish).
  uint32_t client_interest() const;
  uint32_t backend_interest() const;

  // Bytes waiting in each direction's buffer (tests).
  size_t pending_to_backend() const { return up_.tail - up_.head; }
  size_t pending_from_backend() const { return down_.tail - down_.head; }

 private:
  struct Direction {
    std::vector<uint8_t> buf;
    size_t head = 0, tail = 0;  // unwritten bytes are [head, tail)
    bool eof = false;           // the source ended its stream
    bool shut = false;          // ... and that end was passed on
    bool can_read() const { return !eof && tail < buf.size(); }
    bool has_pending() const { return head < tail; }
    bool done() const { return shut; }
  };
  // One direction from `from` to `to`; false on an error (error_ set).
  bool move(Direction& d, int from, int to, bool can_write, uint64_t& moved);
  void fail(std::string why);

  UniqueFd client_, backend_;
  Direction up_;    // client -> backend
  Direction down_;  // backend -> client
  State state_;
  std::string error_;
};

}  // namespace dialout
