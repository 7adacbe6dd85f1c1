#include "netlib/event_fd.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <system_error>

namespace dialout {

Expected<EventFd, std::string> EventFd::create() {
  UniqueFd fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!fd.valid()) return unexpected(std::string("eventfd: ") + std::strerror(errno));
  return EventFd(std::move(fd));
}

EventFd EventFd::create_or_throw() {
  UniqueFd fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!fd.valid()) throw std::system_error(errno, std::generic_category(), "eventfd");
  return EventFd(std::move(fd));
}

void EventFd::signal() const {
  uint64_t one = 1;
  while (::write(fd_.get(), &one, sizeof one) < 0 && errno == EINTR) {
  }
}

bool EventFd::drain() const {
  uint64_t count = 0;
  ssize_t n;
  do {
    n = ::read(fd_.get(), &count, sizeof count);
  } while (n < 0 && errno == EINTR);
  return n == sizeof count && count > 0;
}

}  // namespace dialout
