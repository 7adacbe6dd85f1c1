// Frames waiting to go out on one connection.
//
// Two lanes, by a deterministic rule chosen by the caller: *urgent* (control
// frames and small datagrams: pings, DNS, TCP ACKs, keystrokes) always goes
// before *bulk*, so an interactive packet never waits behind megabytes of
// transfer. The bulk lane is bounded and drops its oldest whole frames when a
// new one does not fit: inner TCP then sees loss (and slows down) instead of
// a growing delay. Pure: no I/O, no clock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "netlib/byte_buffer.hpp"

namespace dialout {

class SendQueue {
 public:
  enum class Lane { Urgent, Bulk };
  struct Limits {
    size_t bulk_bytes = 1024 * 1024;
    size_t urgent_bytes = 256 * 1024;  // control can never be dropped: overflow means the peer is stuck
    size_t batch_bytes = 256 * 1024;   // how much goes to one TLS write
  };
  struct PushResult {
    bool ok = true;        // false: urgent lane overflow (caller closes the connection)
    size_t dropped = 0;    // bulk frames dropped from the head to make room
    size_t dropped_bytes = 0;
  };

  explicit SendQueue(Limits limits) : limits_(limits) {}

  // Appends one whole frame (header included).
  PushResult push(Lane lane, std::span<const uint8_t> frame);
  // In-place building: writable room for up to `max` bytes at the tail of
  // `lane`, valid until the next call on this queue; then commit() the frame.
  std::span<uint8_t> reserve(Lane lane, size_t max);
  PushResult commit(Lane lane, size_t frame_size);

  // The bytes to hand to TLS next; unchanged until consume() has covered
  // them (TLS requires a retried write to repeat the same bytes).
  std::span<const uint8_t> pending();
  void consume(size_t n);

  bool empty() const;
  size_t queued_bytes() const;
  // Bytes waiting in one lane (not yet moved into the pending batch).
  size_t lane_bytes(Lane l) const { return l == Lane::Urgent ? urgent_.size() : bulk_.size(); }
  const Limits& limits() const { return limits_; }
  // Gives memory back when idle (many idle sessions must stay small).
  void trim();

 private:
  struct Buffer {
    ByteBuffer bytes;  // frames are written in place: growing must not zero-fill
    size_t head = 0;  // first unsent byte
    size_t size() const { return bytes.size() - head; }
    void compact();
  };
  Buffer& lane(Lane l) { return l == Lane::Urgent ? urgent_ : bulk_; }
  PushResult make_room(Lane lane, size_t frame_size);
  void move_whole_frames(Buffer& from, size_t budget);

  Limits limits_;
  Buffer urgent_, bulk_;
  ByteBuffer batch_;
  size_t batch_sent_ = 0;
  size_t reserved_base_ = 0;
};

// The lane rule, the same at every sender (sites and the intermediary), so
// both ends agree: datagrams up to kSmallDatagram bytes (pings, DNS, TCP
// ACKs, keystrokes) never queue behind bulk.
inline constexpr size_t kSmallDatagram = 256;
inline SendQueue::Lane lane_for_datagram(size_t ip_packet_size) {
  return ip_packet_size <= kSmallDatagram ? SendQueue::Lane::Urgent : SendQueue::Lane::Bulk;
}

}  // namespace dialout
