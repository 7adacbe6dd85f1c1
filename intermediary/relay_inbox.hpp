// A relay worker's inbox: DATA frames other workers forward to sessions it
// owns. The sender never touches the destination session (its SendQueue is
// the owner's alone); the owner drains the inbox in its loop turn and queues
// each frame into its session.
//
// Many producers, one consumer, bounded in bytes and in frames. Two batches
// of pre-sized buffers are swapped under a short mutex, so a frame costs one
// copy in, one copy out and no allocation. post() reports when the owner
// must be woken: once per batch (the first frame into an empty inbox), not
// per frame. When full, the new frame is dropped and counted: DATA is
// best-effort, and a stuck owner must not grow memory.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <span>
#include <utility>
#include <vector>

#include "intermediary/registry.hpp"

namespace dialout {

// What travels with a frame: its destination session, the sending site
// (the owner stamps it into the frame, as for its own sessions' frames) and
// the IP datagram's size (lane choice, byte counter).
struct InboxFrame {
  SessionId to = 0;
  SiteId src = 0;
  size_t ip_bytes = 0;
};

class RelayInbox {
 public:
  // `bytes` of frames and at most `frames` of them may wait.
  RelayInbox(size_t bytes, size_t frames) : bytes_(bytes), frames_(frames) {
    for (Batch* b : {&filling_, &draining_}) {
      b->bytes.reserve(bytes);
      b->entries.reserve(frames);
    }
  }

  struct Posted {
    bool ok = false;    // false: full, dropped (and counted)
    bool wake = false;  // the caller must wake the owner
  };

  // Any thread.
  Posted post(const InboxFrame& meta, std::span<const uint8_t> frame) {
    std::lock_guard lock(mutex_);
    if (filling_.entries.size() >= frames_ || filling_.bytes.size() + frame.size() > bytes_) {
      ++dropped_;
      return {};
    }
    filling_.entries.push_back({meta, filling_.bytes.size(), frame.size()});
    filling_.bytes.insert(filling_.bytes.end(), frame.begin(), frame.end());
    return {true, std::exchange(wake_due_, false)};
  }

  // The owner's thread: fn(const InboxFrame&, std::span<uint8_t> frame) for every
  // frame, oldest first, without the lock held (fn may post to this inbox;
  // such frames wait for the next drain). The frame may be modified in place.
  template <class F>
  size_t drain(F&& fn) {
    {
      std::lock_guard lock(mutex_);
      std::swap(filling_, draining_);
      wake_due_ = true;  // whatever arrives from now on needs a new wake
    }
    for (const Entry& e : draining_.entries) fn(e.meta, std::span<uint8_t>(draining_.bytes).subspan(e.offset, e.size));
    size_t n = draining_.entries.size();
    draining_.entries.clear();  // both keep their capacity
    draining_.bytes.clear();
    return n;
  }

  uint64_t dropped() const {
    std::lock_guard lock(mutex_);
    return dropped_;
  }

 private:
  struct Entry {
    InboxFrame meta;
    size_t offset, size;
  };
  struct Batch {
    std::vector<uint8_t> bytes;
    std::vector<Entry> entries;
  };

  const size_t bytes_, frames_;
  mutable std::mutex mutex_;
  Batch filling_;          // guarded by mutex_
  bool wake_due_ = true;   // guarded by mutex_: no wake is outstanding
  uint64_t dropped_ = 0;   // guarded by mutex_
  Batch draining_;         // the owner's thread only (swapped under mutex_)
};

}  // namespace dialout
