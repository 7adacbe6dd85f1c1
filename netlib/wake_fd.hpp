// An eventfd one thread writes to wake another thread's EventLoop.
//
// Notifications coalesce: many notify() calls before the owner drains
// cost one wakeup, so a producer need not track whether one is pending.
#pragma once

#include "netlib/unique_fd.hpp"

namespace dialout {

class WakeFd {
 public:
  // Throws std::system_error if the eventfd cannot be created (startup only).
  WakeFd();

  int fd() const { return fd_.get(); }
  // Any thread. Never blocks (the counter cannot realistically overflow).
  void notify();
  // The owner, when the fd is readable: resets the counter.
  void drain();

 private:
  UniqueFd fd_;
};

}  // namespace dialout
