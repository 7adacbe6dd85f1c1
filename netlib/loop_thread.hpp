// An EventLoop running on a thread of its own.
//
// The thread starts with every signal blocked, so signals keep going to the
// thread that set up the signalfd (EventLoop::add_signals) however late that
// happens. stop() (or the destructor) ends the loop from any thread and
// joins: after it returns nothing runs on the loop, and whatever the loop's
// callbacks touched is visible to the caller.
#pragma once

#include <atomic>
#include <thread>

#include "netlib/event_loop.hpp"
#include "netlib/event_fd.hpp"

namespace dialout {

class LoopThread {
 public:
  LoopThread();
  ~LoopThread();
  LoopThread(const LoopThread&) = delete;
  LoopThread& operator=(const LoopThread&) = delete;

  // Set the loop up (add fds, timers) before start(); from then on only
  // the loop's own thread may touch it.
  EventLoop& loop() { return loop_; }
  void start();
  void stop();
  // Meaningful once started.
  std::thread::id id() const { return thread_.get_id(); }

 private:
  EventLoop loop_;
  EventFd stop_wake_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace dialout
