#include "netlib/wake_fd.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <system_error>

namespace dialout {

WakeFd::WakeFd() : fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (!fd_.valid()) throw std::system_error(errno, std::generic_category(), "eventfd");
}

void WakeFd::notify() {
  uint64_t one = 1;
  // EAGAIN only if the counter is at its maximum: a wakeup is pending anyway.
  (void)!::write(fd_.get(), &one, sizeof one);
}

void WakeFd::drain() {
  uint64_t count = 0;
  (void)!::read(fd_.get(), &count, sizeof count);
}

}  // namespace dialout
