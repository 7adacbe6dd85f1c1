// The seam between the protocol and how its bytes travel: a byte stream to
// the peer, set up and secured by the transport. Sessions and channels see
// only this; TCP + TLS 1.3 is one implementation (netlib/tls_transport.hpp),
// and a connection tunnelled through a proxy is another way to set one up.
// A transport knows nothing of names, frames or policy.
//
// Non-blocking: every call returns at once. The owner polls fd() for the
// readiness the last call asked for (WantRead / WantWrite) and calls again.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "netlib/expected.hpp"

namespace dialout {

enum class IoStatus { Done, WantRead, WantWrite, Closed, Error };
const char* to_string(IoStatus);

class StreamTransport {
 public:
  using Status = IoStatus;

  virtual ~StreamTransport() = default;

  virtual int fd() const = 0;
  // Drives set-up (TCP connect, proxy negotiation, TLS handshake) until
  // Done; afterwards bytes may flow. Closed or Error: the stream is dead.
  virtual Status handshake() = 0;
  // At least one byte, or a status (never 0). Data may wait inside the
  // transport that epoll does not see: read until WantRead, or come back
  // while has_buffered_input().
  virtual Expected<size_t, Status> read(std::span<uint8_t> buf) = 0;
  // Partial writes allowed. After WantWrite/WantRead the next call must
  // start with the same bytes (the buffer may move). An empty span only
  // pushes out what the transport still holds.
  virtual Expected<size_t, Status> write(std::span<const uint8_t> buf) = 0;
  virtual bool has_buffered_input() const = 0;
  // Bytes accepted by write() but not yet in the socket: keep EPOLLOUT.
  virtual bool has_pending_output() const = 0;
  // The last call stopped because the socket was not writable.
  virtual bool wants_write() const = 0;
  // Gives idle buffers back (many idle sessions must stay small).
  virtual void trim() = 0;
  virtual std::string last_error() const = 0;
  // Set-up resumed an earlier session instead of a full handshake.
  virtual bool resumed() const = 0;
  // Tells the peer we send nothing more (TLS close_notify), best effort;
  // reading goes on. What it wrote may wait as pending output.
  virtual void close_write() {}
};

}  // namespace dialout
