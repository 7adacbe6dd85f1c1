#include "tund/tun_device.hpp"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace dialout {
namespace {

// We use the 10-byte struct virtio_net_hdr: no num_buffers field, because
// nothing here merges receive buffers.
constexpr int kVnetHeaderBytes = 10;
constexpr unsigned kMaxQueues = 256;  // the kernel's MAX_TAP_QUEUES
constexpr int kEintrRetries = 4;

std::string ioctl_error(const std::string& device, const char* what) {
  return fmt::format("tun {}: {}: {}", device.empty() ? "(unnamed)" : device, what, std::strerror(errno));
}

Expected<size_t, int> read_packet(int fd, std::span<uint8_t> buf) {
  for (int attempt = 0; attempt < kEintrRetries; ++attempt) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n >= 0) return static_cast<size_t>(n);
    if (errno != EINTR) return unexpected(errno);
  }
  return unexpected(EINTR);
}

Expected<void, int> write_packet(int fd, std::span<const uint8_t> packet) {
  for (int attempt = 0; attempt < kEintrRetries; ++attempt) {
    ssize_t n = ::write(fd, packet.data(), packet.size());
    // A TUN write takes the whole packet or nothing; a short count would
    // mean the packet was mangled, so report it rather than retry the tail.
    if (n >= 0) {
      if (static_cast<size_t>(n) == packet.size()) return {};
      return unexpected(EIO);
    }
    if (errno != EINTR) return unexpected(errno);
  }
  return unexpected(EINTR);
}

// Asks for the offloads we can forward unchanged. UDP segmentation offload
// needs Linux 6.2; older kernels reject the whole mask with EINVAL, so retry
// without it and remember what stuck.
Expected<unsigned, std::string> set_offloads(int fd, const std::string& name) {
  const unsigned base = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
  const unsigned with_uso = base | kTunOffloadUso4 | kTunOffloadUso6;
  if (::ioctl(fd, TUNSETOFFLOAD, with_uso) == 0) return with_uso;
  if (errno != EINVAL) return unexpected(ioctl_error(name, "ioctl TUNSETOFFLOAD"));
  if (::ioctl(fd, TUNSETOFFLOAD, base) == 0) return base;
  return unexpected(ioctl_error(name, "ioctl TUNSETOFFLOAD"));
}

}  // namespace

Expected<TunDevice, std::string> TunDevice::open(const TunOptions& options) {
  if (options.name.size() >= IFNAMSIZ) {
    return unexpected(fmt::format("tun {}: name longer than {} characters", options.name, IFNAMSIZ - 1));
  }
  unsigned queues = options.multi_queue ? options.queues : 1;
  if (queues == 0 || queues > kMaxQueues) {
    return unexpected(fmt::format("tun {}: queue count {} not in 1..{}", options.name, queues, kMaxQueues));
  }

  TunDevice dev;
  dev.name_ = options.name;
  dev.vnet_hdr_ = options.vnet_hdr;
  dev.queues_.reserve(queues);
  for (unsigned q = 0; q < queues; ++q) {
    UniqueFd fd(::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC));
    if (!fd.valid()) return unexpected(ioctl_error(dev.name_, "open /dev/net/tun"));

    struct ifreq ifr {};
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    if (options.vnet_hdr) ifr.ifr_flags |= IFF_VNET_HDR;
    if (options.multi_queue) ifr.ifr_flags |= IFF_MULTI_QUEUE;
    // Later queues attach to the device the first one created, by its real name.
    std::memcpy(ifr.ifr_name, dev.name_.data(), dev.name_.size());
    if (::ioctl(fd.get(), TUNSETIFF, &ifr) != 0) return unexpected(ioctl_error(dev.name_, "ioctl TUNSETIFF"));
    dev.name_.assign(ifr.ifr_name, strnlen(ifr.ifr_name, IFNAMSIZ));

    if (options.vnet_hdr) {
      int size = kVnetHeaderBytes;
      if (::ioctl(fd.get(), TUNSETVNETHDRSZ, &size) != 0) {
        return unexpected(ioctl_error(dev.name_, "ioctl TUNSETVNETHDRSZ"));
      }
      // Offloads are a device property; setting them once is enough.
      if (q == 0) {
        auto offloads = set_offloads(fd.get(), dev.name_);
        if (!offloads) return unexpected(offloads.error());
        dev.offloads_ = *offloads;
      }
    }
    dev.queues_.push_back(std::move(fd));
  }
  return dev;
}

Expected<size_t, int> TunDevice::read(std::span<uint8_t> buf) { return read_packet(fd(), buf); }
Expected<void, int> TunDevice::write(std::span<const uint8_t> packet) { return write_packet(fd(), packet); }
Expected<size_t, int> TunQueue::read(std::span<uint8_t> buf) { return read_packet(fd_, buf); }
Expected<void, int> TunQueue::write(std::span<const uint8_t> packet) { return write_packet(fd_, packet); }

}  // namespace dialout
