// An in-memory Tun for tests: a SOCK_SEQPACKET socketpair keeps packet
// boundaries and is pollable like the real device, so the engine runs
// unchanged on top of it. The test plays "the kernel" on the peer end.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "netlib/expected.hpp"
#include "netlib/unique_fd.hpp"
#include "tund/tun.hpp"

namespace dialout {

class FakeTun final : public Tun {
 public:
  // vnet_hdr only changes what vnet_hdr() reports: the bytes pass unchanged.
  static Expected<FakeTun, std::string> create(bool vnet_hdr = false);

  FakeTun(FakeTun&&) noexcept = default;
  FakeTun& operator=(FakeTun&&) noexcept = default;

  // Tun (the engine's side). A packet larger than buf fails with EMSGSIZE
  // instead of being silently truncated, so tests notice undersized buffers.
  int fd() const override { return ours_.get(); }
  Expected<size_t, int> read(std::span<uint8_t> buf) override;
  Expected<void, int> write(std::span<const uint8_t> packet) override;
  bool vnet_hdr() const override { return vnet_hdr_; }

  // The test's side ("the kernel").
  int peer_fd() const { return peer_.get(); }
  // Makes one packet readable on fd(). EAGAIN when the socket buffer is full.
  Expected<void, int> inject(std::span<const uint8_t> packet);
  // Waits up to timeout for one packet the engine wrote; ETIMEDOUT if none.
  Expected<std::vector<uint8_t>, int> receive(std::chrono::milliseconds timeout);

 private:
  FakeTun() = default;

  UniqueFd ours_;
  UniqueFd peer_;
  bool vnet_hdr_ = false;
};

}  // namespace dialout
