// A tiny one-request-per-connection server on an EventLoop, for the control
// socket and the metrics endpoint: accept, read until the request is
// complete (or over its limit), answer with one reply, close. Everything is
// non-blocking and bounded so an operator's tool can never stall the loop
// that also runs the daemon's control plane:
// - at most `max_clients` at once (more are closed at accept, counted);
// - a request over `max_request` bytes gets `oversized_reply`;
// - a client that has not finished within `timeout` is closed;
// - after the reply the write side is shut and unread input is drained
//   (bounded by the same timeout), so the peer reads the reply instead of
//   a reset.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "netlib/event_loop.hpp"
#include "netlib/unique_fd.hpp"

namespace dialout {

class RequestServer {
 public:
  struct Limits {
    size_t max_request = 4096;
    size_t max_clients = 16;
    std::chrono::milliseconds timeout{2000};
  };
  // Length of the complete request at the start of `received`, 0 if not yet.
  using Complete = std::function<size_t(std::string_view received)>;
  // The whole reply to one request (the request bytes as cut by Complete,
  // or everything received before the peer shut its side).
  using Handle = std::function<std::string(std::string_view request)>;
  struct Stats {
    uint64_t served = 0, refused_busy = 0, oversized = 0, timed_out = 0;
  };

  // `listener` is a listening, non-blocking socket (Unix or TCP).
  RequestServer(EventLoop& loop, UniqueFd listener, Limits limits, Complete complete, Handle handle,
                std::string oversized_reply);
  ~RequestServer();
  RequestServer(const RequestServer&) = delete;
  RequestServer& operator=(const RequestServer&) = delete;

  const Stats& stats() const { return stats_; }
  size_t clients() const { return clients_.size(); }

 private:
  struct Client {
    UniqueFd fd;
    std::string in, out;
    size_t sent = 0;
    bool replied = false;  // out is final; after sending it, drain until EOF
    EventLoop::TimerId timer = 0;
  };
  void on_accept();
  void on_client(int fd, uint32_t events);
  void reply(Client& c, std::string bytes);
  void write_out(int fd, Client& c);
  void drop(int fd);

  EventLoop& loop_;
  UniqueFd listener_;
  Limits limits_;
  Complete complete_;
  Handle handle_;
  std::string oversized_reply_;
  std::map<int, std::unique_ptr<Client>> clients_;
  Stats stats_;
};

}  // namespace dialout
