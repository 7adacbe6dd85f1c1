#include "netlib/send_queue.hpp"

#include <algorithm>
#include <cassert>
#include <cstring>

#include "netlib/wire.hpp"

namespace dialout {
namespace {

size_t frame_size_at(std::span<const uint8_t> b) {
  assert(b.size() >= kFrameHeaderSize);
  return kFrameHeaderSize + (size_t{b[1]} << 16 | size_t{b[2]} << 8 | b[3]);
}

}  // namespace

void SendQueue::Buffer::compact() {
  if (head == 0) return;
  std::memmove(bytes.data(), bytes.data() + head, size());
  bytes.resize(size());
  head = 0;
}

SendQueue::PushResult SendQueue::make_room(Lane l, size_t frame_size) {
  PushResult r;
  Buffer& b = lane(l);
  if (l == Lane::Urgent) {
    r.ok = b.size() + frame_size <= limits_.urgent_bytes;
    return r;
  }
  while (b.size() > 0 && b.size() + frame_size > limits_.bulk_bytes) {
    size_t n = frame_size_at(std::span(b.bytes).subspan(b.head));
    b.head += n;
    ++r.dropped;
    r.dropped_bytes += n;
  }
  // Compacting only once half the buffer is dead keeps the memmove cost
  // proportional to the bytes that flowed through.
  if (b.head > b.bytes.size() / 2) b.compact();
  return r;
}

SendQueue::PushResult SendQueue::push(Lane l, std::span<const uint8_t> frame) {
  auto r = make_room(l, frame.size());
  if (!r.ok) return r;
  Buffer& b = lane(l);
  b.bytes.append(frame);
  return r;
}

std::span<uint8_t> SendQueue::reserve(Lane l, size_t max) {
  Buffer& b = lane(l);
  if (b.head > 0 && b.head > b.bytes.size() / 2) b.compact();
  reserved_base_ = b.bytes.size();
  b.bytes.resize(reserved_base_ + max);  // no per-packet allocation once capacity has grown
  return std::span(b.bytes).subspan(reserved_base_);
}

SendQueue::PushResult SendQueue::commit(Lane l, size_t frame_size) {
  Buffer& b = lane(l);
  assert(reserved_base_ + frame_size <= b.bytes.size());
  b.bytes.resize(reserved_base_ + frame_size);
  // Room is made after the fact so the frame could be read straight into
  // place; dropping never touches the new frame because it sits at the tail.
  PushResult r;
  if (l == Lane::Urgent) {
    r.ok = b.size() <= limits_.urgent_bytes;
    if (!r.ok) b.bytes.resize(reserved_base_);
    return r;
  }
  while (b.size() > frame_size && b.size() > limits_.bulk_bytes) {
    size_t n = frame_size_at(std::span(b.bytes).subspan(b.head));
    b.head += n;
    ++r.dropped;
    r.dropped_bytes += n;
  }
  return r;
}

void SendQueue::move_whole_frames(Buffer& from, size_t budget) {
  size_t take = 0;
  while (take < from.size()) {
    size_t n = frame_size_at(std::span(from.bytes).subspan(from.head + take));
    if (take > 0 && take + n > budget) break;  // always move at least one frame
    take += n;
  }
  batch_.append(std::span(from.bytes).subspan(from.head, take));
  from.head += take;
  if (from.head == from.bytes.size()) {
    from.bytes.clear();
    from.head = 0;
  }
}

std::span<const uint8_t> SendQueue::pending() {
  if (batch_sent_ == batch_.size()) {
    batch_.clear();
    batch_sent_ = 0;
    if (urgent_.size() > 0) move_whole_frames(urgent_, limits_.batch_bytes);
    if (bulk_.size() > 0 && batch_.size() < limits_.batch_bytes)
      move_whole_frames(bulk_, limits_.batch_bytes - batch_.size());
  }
  return std::span(batch_).subspan(batch_sent_);
}

void SendQueue::consume(size_t n) {
  assert(batch_sent_ + n <= batch_.size());
  batch_sent_ += n;
}

bool SendQueue::empty() const { return batch_sent_ == batch_.size() && urgent_.size() == 0 && bulk_.size() == 0; }

size_t SendQueue::queued_bytes() const { return batch_.size() - batch_sent_ + urgent_.size() + bulk_.size(); }

void SendQueue::trim() {
  if (!empty()) return;
  ByteBuffer().swap(batch_);
  ByteBuffer().swap(urgent_.bytes);
  ByteBuffer().swap(bulk_.bytes);
  batch_sent_ = urgent_.head = bulk_.head = 0;
}

}  // namespace dialout
