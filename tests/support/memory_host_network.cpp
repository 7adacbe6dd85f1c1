#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>

#include "tests/support/memory_host_network.hpp"

namespace dialout {

MemoryHostNetwork::MemoryHostNetwork() : event_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

Expected<void, std::string> MemoryHostNetwork::add_tun_address(const Prefix& a) {
  addresses.insert(a);
  return {};
}

Expected<void, std::string> MemoryHostNetwork::remove_tun_address(const Prefix& a) {
  addresses.erase(a);
  return {};
}

Expected<void, std::string> MemoryHostNetwork::sync_proxy_neighbours(const std::map<IpAddr, Prefix>& wanted) {
  neighbours = wanted;
  return {};
}

bool MemoryHostNetwork::drain_changes() {
  uint64_t n = 0;
  return ::read(event_fd_.get(), &n, sizeof n) == sizeof n && n > 0;
}

void MemoryHostNetwork::notify() {
  uint64_t one = 1;
  (void)!::write(event_fd_.get(), &one, sizeof one);
}

}  // namespace dialout
