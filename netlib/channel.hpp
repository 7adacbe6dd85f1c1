// One framed connection over a StreamTransport: whole frames in, whole
// frames out.
//
// Receiving: bytes are read from TLS into one buffer and every complete
// frame is handed over in place (no copy, no allocation per frame); a frame
// header that announces an impossible length ends the stream before any
// byte of it is buffered. Sending: frames wait in a bounded two-lane
// SendQueue and go to TLS in large batches.
#pragma once

#include <sys/epoll.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include <memory>

#include "netlib/byte_buffer.hpp"
#include "netlib/send_queue.hpp"
#include "netlib/stream_transport.hpp"
#include "netlib/wire.hpp"

namespace dialout {

class Channel {
 public:
  enum class ReadStatus { WouldBlock, Budget, Stopped, Closed, Error, Malformed };
  struct ReadOutcome {
    ReadStatus status = ReadStatus::WouldBlock;
    WireError wire_error = WireError::UnknownType;  // meaningful when Malformed
    size_t bytes = 0;
  };
  enum class FlushStatus { Done, Blocked, Error };

  Channel(std::unique_ptr<StreamTransport> transport, SendQueue::Limits limits)
      : transport_(std::move(transport)), queue_(limits) {}

  // The limits every session and uplink uses: `bulk_bytes` for the bulk
  // lane; the urgent lane always has room for a whole control frame.
  static SendQueue::Limits limits_for(size_t bulk_bytes);

  int fd() const { return transport_->fd(); }
  StreamTransport& transport() { return *transport_; }
  const StreamTransport& transport() const { return *transport_; }
  SendQueue& queue() { return queue_; }

  // Reads what TLS has (up to about `budget` bytes, for fairness between
  // connections) and calls on_frame(const FrameView&) for each whole frame.
  // on_frame returns false when it closed or destroyed this channel; the
  // read then stops without touching `this` again.
  template <class OnFrame>
  ReadOutcome read_frames(OnFrame&& on_frame, size_t budget);

  // Writes queued frames until TLS would block.
  FlushStatus flush();
  // Plaintext bytes flush() has handed to the transport (for status).
  uint64_t bytes_flushed() const { return flushed_; }
  // Epoll interest: always readable; writable while something waits
  // (queued frames, or ciphertext TLS has not handed to the socket yet).
  uint32_t epoll_events() const {
    return EPOLLIN | (write_blocked_ || !queue_.empty() || transport_->has_pending_output() ? EPOLLOUT : 0u);
  }
  // Bytes of an unfinished frame are buffered (a peer that closes now cut a frame).
  bool has_partial_frame() const { return rx_end_ > rx_start_; }
  // Gives idle buffers back (many idle sessions must stay small).
  void trim();

 private:
  std::span<const uint8_t> buffered() const { return std::span(rx_).subspan(rx_start_, rx_end_ - rx_start_); }
  // One TLS read into the buffer; returns bytes read or a terminal status.
  Expected<size_t, ReadStatus> fill();

  std::unique_ptr<StreamTransport> transport_;
  SendQueue queue_;
  uint64_t flushed_ = 0;
  ByteBuffer rx_;  // frames are read in place: growing must not zero-fill
  size_t rx_start_ = 0;
  size_t rx_end_ = 0;
  bool write_blocked_ = false;
};

template <class OnFrame>
Channel::ReadOutcome Channel::read_frames(OnFrame&& on_frame, size_t budget) {
  ReadOutcome out;
  for (;;) {
    for (;;) {
      auto f = next_frame(buffered());
      if (!f) {
        out.status = ReadStatus::Malformed;
        out.wire_error = f.error();
        return out;
      }
      if (!f->has_value()) break;
      const FrameView frame = **f;
      rx_start_ += frame.size();
      if (!on_frame(frame)) {
        out.status = ReadStatus::Stopped;
        return out;
      }
    }
    if (rx_start_ == rx_end_) rx_start_ = rx_end_ = 0;
    // Records TLS has read ahead are invisible to epoll: the budget only
    // ends a read once they are taken too (at most one read-ahead buffer).
    if (out.bytes >= budget && !transport_->has_buffered_input()) {
      out.status = ReadStatus::Budget;
      return out;
    }
    auto n = fill();
    if (!n) {
      out.status = n.error();
      return out;
    }
    out.bytes += *n;
  }
}

}  // namespace dialout
