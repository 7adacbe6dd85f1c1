// A Linux eventfd: the one way another thread wakes an event loop. Any
// thread may signal(); the loop that polls fd() calls drain() when it is
// readable. Signals coalesce: many signals before a drain wake once.
#pragma once

#include <string>

#include "netlib/expected.hpp"
#include "netlib/unique_fd.hpp"

namespace dialout {

class EventFd {
 public:
  // Non-blocking, close-on-exec.
  static Expected<EventFd, std::string> create();
  // The same for startup paths: throws std::system_error on failure.
  static EventFd create_or_throw();

  int fd() const { return fd_.get(); }
  // Makes fd() readable. Safe from any thread; never blocks (a counter that
  // would overflow is already readable, so losing that signal loses nothing).
  void signal() const;
  // Clears readability; returns false when nothing was signalled.
  bool drain() const;

 private:
  explicit EventFd(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace dialout
