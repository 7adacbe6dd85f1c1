#include "netlib/channel.hpp"

#include <algorithm>
#include <cstring>

namespace dialout {
namespace {
// Room kept free for one read: a whole TLS record.
constexpr size_t kReadChunk = 16 * 1024 + 256;
}  // namespace

SendQueue::Limits Channel::limits_for(size_t bulk_bytes) {
  return SendQueue::Limits{.bulk_bytes = bulk_bytes,
                           .urgent_bytes = std::max(bulk_bytes, kMaxControlPayload + kMaxFrameSize),
                           .batch_bytes = 256 * 1024};
}

Expected<size_t, Channel::ReadStatus> Channel::fill() {
  size_t have = rx_end_ - rx_start_;
  // A partial frame at the front moves down once, so the buffer never needs
  // more than one maximum frame plus one read of room.
  if (rx_start_ > 0 && rx_.size() - rx_end_ < kReadChunk) {
    std::memmove(rx_.data(), rx_.data() + rx_start_, have);
    rx_start_ = 0;
    rx_end_ = have;
  }
  if (rx_.size() - rx_end_ < kReadChunk) {
    // Start at one read's room: an idle session never needs more (many idle
    // sessions must stay small); bulk traffic doubles it up to one frame.
    size_t want = std::min(kMaxFrameSize + kReadChunk, std::max<size_t>(rx_.size() * 2, 2 * kReadChunk));
    if (want <= rx_.size()) return unexpected(ReadStatus::Error);  // cannot happen: frames are bounded
    rx_.resize(want);
  }
  auto n = transport_->read(std::span(rx_).subspan(rx_end_));
  if (!n) {
    switch (n.error()) {
      case IoStatus::WantRead: return unexpected(ReadStatus::WouldBlock);
      case IoStatus::WantWrite:
        write_blocked_ = true;  // TLS needs to send before it can read (e.g. a key update)
        return unexpected(ReadStatus::WouldBlock);
      case IoStatus::Closed: return unexpected(ReadStatus::Closed);
      default: return unexpected(ReadStatus::Error);
    }
  }
  rx_end_ += *n;
  return *n;
}

Channel::FlushStatus Channel::flush() {
  write_blocked_ = false;
  for (int rounds = 0; rounds < 64; ++rounds) {
    auto pending = queue_.pending();
    if (pending.empty() && !transport_->has_pending_output()) return FlushStatus::Done;
    auto n = transport_->write(pending);  // an empty span sends what TLS still holds
    if (!n) {
      if (n.error() == IoStatus::WantWrite || n.error() == IoStatus::WantRead) {
        write_blocked_ = true;
        return FlushStatus::Blocked;
      }
      return FlushStatus::Error;
    }
    queue_.consume(*n);
    flushed_ += *n;
  }
  return FlushStatus::Blocked;  // yield to other connections; epoll says when to go on
}

void Channel::trim() {
  queue_.trim();
  transport_->trim();
  if (rx_start_ == rx_end_) {
    ByteBuffer().swap(rx_);
    rx_start_ = rx_end_ = 0;
  }
}

}  // namespace dialout
