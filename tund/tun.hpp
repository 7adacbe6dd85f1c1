// The narrow interface the engine uses to move packets in and out of the
// kernel. The real TunDevice and the in-memory FakeTun both implement it, so
// everything above this line is testable without privileges.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "netlib/expected.hpp"

namespace dialout {

class Tun {
 public:
  virtual ~Tun() = default;

  // Pollable, non-blocking descriptor: the engine registers it with the event loop.
  virtual int fd() const = 0;
  // Reads one packet (preceded by the 10-byte virtio-net header when
  // vnet_hdr()). The error is an errno value; EAGAIN means "drained".
  virtual Expected<size_t, int> read(std::span<uint8_t> buf) = 0;
  // Writes one packet (with the virtio-net header when vnet_hdr()).
  virtual Expected<void, int> write(std::span<const uint8_t> packet) = 0;
  virtual bool vnet_hdr() const = 0;

 protected:
  Tun() = default;
  Tun(const Tun&) = default;
  Tun& operator=(const Tun&) = default;
};

}  // namespace dialout
