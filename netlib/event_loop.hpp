// Single-threaded epoll event loop (level-triggered) with timers and signals.
//
// Level-triggered on purpose: a handler that stops reading early (batch
// limit, full queue) is simply called again on the next turn, so fairness
// between connections needs no bookkeeping.
#pragma once

#include <sys/epoll.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <queue>
#include <unordered_map>
#include <vector>

#include "netlib/unique_fd.hpp"

namespace dialout {

class EventLoop {
 public:
  using Clock = std::chrono::steady_clock;
  using Callback = std::function<void(uint32_t events)>;
  using TimerId = uint64_t;  // 0 is never a valid id

  // Throws std::system_error if epoll cannot be created (startup only).
  EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;
  ~EventLoop();

  // `events` are EPOLLIN/EPOLLOUT/...; the callback receives what epoll
  // reported (EPOLLERR/EPOLLHUP included). The fd stays owned by the caller,
  // who must remove() it before closing it. Adding an fd twice, or a bad fd,
  // is a programming error: throws std::system_error.
  void add(int fd, uint32_t events, Callback cb);
  void modify(int fd, uint32_t events);
  // Safe from inside any callback, for the running fd or another one; an
  // event already collected for a removed fd in this turn is dropped.
  void remove(int fd);
  bool contains(int fd) const { return fds_.count(fd) != 0; }

  TimerId add_timer(Clock::time_point when, std::function<void()> fn);
  TimerId add_timer(std::chrono::milliseconds after, std::function<void()> fn) {
    return add_timer(now() + after, std::move(fn));
  }
  // Unknown, fired or already cancelled ids are ignored.
  void cancel_timer(TimerId id);

  // Blocks the signals for the calling thread (call this before starting
  // other threads so they inherit the mask) and delivers them through a
  // signalfd as fn(signo) on the loop. The mask is not restored later.
  void add_signals(std::initializer_list<int> signals, std::function<void(int)> fn);

  // Waits at most max_wait (less if a timer is due), dispatches ready fds,
  // then due timers.
  void run_once(std::chrono::milliseconds max_wait);
  // Loops run_once until stop() (from a callback, timer or signal handler).
  void run();
  void stop() { stopped_ = true; }
  bool stopped() const { return stopped_; }

  Clock::time_point now() const { return Clock::now(); }
  // Counts run_once calls: lets per-turn budgets (handshake_gate.hpp) know
  // a new turn began without a hook.
  uint64_t turn() const { return turn_; }
  size_t pending_timers() const { return timers_.size(); }

 private:
  struct FdEntry {
    Callback cb;
    uint32_t events;
    uint32_t generation;
  };
  struct HeapItem {
    Clock::time_point when;
    TimerId id;
    bool operator>(const HeapItem& o) const {
      return when != o.when ? when > o.when : id > o.id;
    }
  };

  void run_due_timers();
  int wait_timeout_ms(std::chrono::milliseconds max_wait);

  UniqueFd epoll_;
  // shared_ptr so a callback that removes itself keeps running on a live
  // std::function (the dispatcher holds a reference for the call).
  std::unordered_map<int, std::shared_ptr<FdEntry>> fds_;
  uint32_t next_generation_ = 1;
  uint64_t turn_ = 0;
  std::priority_queue<HeapItem, std::vector<HeapItem>, std::greater<>> heap_;
  // Live timers; cancel just erases here and the heap entry is skipped.
  std::unordered_map<TimerId, std::function<void()>> timers_;
  TimerId next_timer_ = 1;
  std::vector<UniqueFd> signal_fds_;
  std::vector<epoll_event> events_;
  bool stopped_ = false;
};

}  // namespace dialout
