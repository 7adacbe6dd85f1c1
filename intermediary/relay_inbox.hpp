// A relay worker's inbox: what other threads have for sessions it owns.
// Nobody but the owner touches a session (its SendQueue, TLS, core), so
// DATA forwarded by other workers, control frames from the control plane
// (route snapshots, PEER_GONE, RESTARTING) and requests to close a session
// (a roamed site's old connections) all come through here; the owner
// drains the inbox in its loop turn and applies each entry.
//
// Many producers, one consumer. Two batches of pre-sized buffers are
// swapped under a short mutex, so a DATA frame costs one copy in, one copy
// out and no allocation. post() reports when the owner must be woken: once
// per batch (the first entry into an empty inbox), not per entry. DATA is
// bounded in bytes and frames and dropped (counted) when full: it is
// best-effort, and a stuck owner must not grow memory. Control entries and
// closes are rare and must not be lost, so they have their own, much
// larger bound (kControlBytes); beyond it the owner is hopelessly stuck and
// they drop too (the caller counts it).
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

enum class InboxKind : uint8_t {
  Data,     // a DATA frame: queued by lane, may drop like any datagram
  Control,  // a control frame for the urgent lane: never dropped by the owner
  Close,    // close the session; the bytes are the reason (for the log)
  Kill,     // the operator's kill: REFUSE(Closed) with the bytes as reason, then close
  Evict,    // pre-authentication limit: close it unless it has registered meanwhile
  Withdraw, // a reload took its rights: REFUSE(bytes[0] as RefuseReason, rest as text), then close
};

// What travels with an entry: its destination session and, for DATA, the
// sending site (the owner stamps it into the frame, as for its own
// sessions' frames) and the IP datagram's size (lane choice, byte counter).
struct InboxFrame {
  SessionId to = 0;
  SiteId src = 0;
  SiteId dst = 0;  // the site `to` belongs to: another of its sessions takes over if `to` closed

  size_t ip_bytes = 0;
  InboxKind kind = InboxKind::Data;
};

class RelayInbox {
 public:
  // Control entries and closes together may hold this much besides.
  static constexpr size_t kControlBytes = 32 * 1024 * 1024;

  // `bytes` of DATA frames and at most `frames` of them may wait.
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
    bool data = meta.kind == InboxKind::Data;
    bool full = data ? filling_.data_frames >= frames_ || filling_.data_bytes + frame.size() > bytes_
                     : filling_.bytes.size() - filling_.data_bytes + frame.size() > kControlBytes;
    if (full) {
      ++dropped_;
      return {};
    }
    if (data) {
      ++filling_.data_frames;
      filling_.data_bytes += frame.size();
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
    draining_.data_bytes = draining_.data_frames = 0;
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
    std::vector<uint8_t> bytes;  // every entry's bytes, DATA and control
    std::vector<Entry> entries;
    size_t data_bytes = 0, data_frames = 0;  // what the DATA bound counts
  };

  const size_t bytes_, frames_;
  mutable std::mutex mutex_;
  Batch filling_;          // guarded by mutex_
  bool wake_due_ = true;   // guarded by mutex_: no wake is outstanding
  uint64_t dropped_ = 0;   // guarded by mutex_
  Batch draining_;         // the owner's thread only (swapped under mutex_)
};

}  // namespace dialout
