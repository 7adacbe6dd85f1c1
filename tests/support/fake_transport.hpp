// A StreamTransport for tests, in the spirit of wireguard-go's bindtest: a
// socketpair whose other end the test holds (peer()), so the owner's event
// loop polls a real fd while the bytes never leave the process. Set-up
// succeeds, fails or stalls as the test scripts it; no TLS.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "netlib/stream_transport.hpp"
#include "netlib/unique_fd.hpp"

namespace dialout {

class FakeTransport final : public StreamTransport {
 public:
  struct Script {
    Status handshake = Status::Done;  // what handshake() answers (WantRead: stalls until set_handshake)
    bool resumed = false;
    std::string error = "scripted failure";
  };

  // The transport and the test's end of the stream (non-blocking).
  static std::pair<std::unique_ptr<FakeTransport>, UniqueFd> make(Script script);
  static std::pair<std::unique_ptr<FakeTransport>, UniqueFd> make() { return make(Script{}); }

  int fd() const override { return fd_.get(); }
  Status handshake() override;
  Expected<size_t, Status> read(std::span<uint8_t> buf) override;
  Expected<size_t, Status> write(std::span<const uint8_t> buf) override;
  bool has_buffered_input() const override { return false; }
  bool has_pending_output() const override { return false; }
  bool wants_write() const override { return want_write_; }
  void trim() override {}
  std::string last_error() const override { return error_; }
  bool resumed() const override { return script_.resumed; }

  // Changes what the next handshake() answers (e.g. let a stalled one finish).
  void set_handshake(Status s) { script_.handshake = s; }

  struct Key {};
  FakeTransport(Key, UniqueFd fd, Script script) : fd_(std::move(fd)), script_(std::move(script)) {}

 private:
  UniqueFd fd_;
  Script script_;
  std::string error_;
  bool want_write_ = false;
};

// Test-side helpers for the peer end: write all bytes; read what is there.
bool write_all(int fd, const std::vector<uint8_t>& bytes);
std::vector<uint8_t> read_available(int fd);

}  // namespace dialout
