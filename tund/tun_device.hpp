// A real Linux TUN device (/dev/net/tun): layer-3 packets, no packet-info
// prefix, optionally with the virtio-net header and the kernel's offloads so
// TCP/UDP superpackets up to 64 KB cross the boundary in one read/write.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "netlib/expected.hpp"
#include "netlib/unique_fd.hpp"
#include "tund/tun.hpp"

namespace dialout {

struct TunOptions {
  std::string name;          // empty: the kernel picks "tunN"
  bool vnet_hdr = false;     // IFF_VNET_HDR + TUNSETOFFLOAD
  bool multi_queue = false;  // IFF_MULTI_QUEUE
  unsigned queues = 1;       // descriptors to open when multi_queue (1 otherwise)
};

// Offload bits missing from older kernel headers (Linux 6.2 added UDP
// segmentation offload to TUN).
inline constexpr unsigned kTunOffloadUso4 = 0x20;
inline constexpr unsigned kTunOffloadUso6 = 0x40;

class TunDevice final : public Tun {
 public:
  static Expected<TunDevice, std::string> open(const TunOptions& options);

  TunDevice(TunDevice&&) noexcept = default;
  TunDevice& operator=(TunDevice&&) noexcept = default;

  // The name the kernel gave the device (matters when options.name was empty).
  const std::string& name() const { return name_; }
  // The TUN_F_* bits TUNSETOFFLOAD accepted; 0 without vnet_hdr.
  unsigned offloads() const { return offloads_; }
  size_t queue_count() const { return queues_.size(); }
  int queue_fd(size_t i) const { return queues_.at(i).get(); }

  // Tun, on queue 0.
  int fd() const override { return queues_.front().get(); }
  Expected<size_t, int> read(std::span<uint8_t> buf) override;
  Expected<void, int> write(std::span<const uint8_t> packet) override;
  bool vnet_hdr() const override { return vnet_hdr_; }

 private:
  TunDevice() = default;

  std::string name_;
  std::vector<UniqueFd> queues_;
  bool vnet_hdr_ = false;
  unsigned offloads_ = 0;
};

// Tun over queue i of a multi-queue device, so each worker owns one queue.
// A view: the TunDevice must outlive it.
class TunQueue final : public Tun {
 public:
  TunQueue(const TunDevice& device, size_t i) : fd_(device.queue_fd(i)), vnet_hdr_(device.vnet_hdr()) {}

  int fd() const override { return fd_; }
  Expected<size_t, int> read(std::span<uint8_t> buf) override;
  Expected<void, int> write(std::span<const uint8_t> packet) override;
  bool vnet_hdr() const override { return vnet_hdr_; }

 private:
  int fd_;
  bool vnet_hdr_;
};

}  // namespace dialout
