// A bounded many-producers, one-consumer queue of messages between threads,
// with an eventfd so the consumer's event loop wakes when something arrives.
//
// Meant for control messages (rare, small): a mutex keeps it obviously
// race-free, and the bound keeps a stuck consumer from growing memory. When
// full, post() drops the new message and counts it (messages here carry
// whole state, e.g. a route snapshot, so a later one supersedes it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <utility>
#include <vector>

#include "netlib/event_fd.hpp"

namespace dialout {

template <class T>
class Mailbox {
 public:
  Mailbox(EventFd wake, size_t capacity) : wake_(std::move(wake)), capacity_(capacity) {}

  // The consumer polls this for EPOLLIN.
  int fd() const { return wake_.fd(); }

  // Any thread. False (and counted) when the mailbox is full.
  bool post(T message) {
    {
      std::lock_guard lock(mutex_);
      if (items_.size() >= capacity_) {
        ++dropped_;
        return false;
      }
      items_.push_back(std::move(message));
    }
    wake_.signal();
    return true;
  }

  // Consumer thread: hands every queued message to fn(T&&), oldest first.
  // fn runs without the lock held, so it may post() to this mailbox.
  template <class F>
  size_t drain(F&& fn) {
    wake_.drain();
    {
      std::lock_guard lock(mutex_);
      std::swap(items_, taken_);
    }
    size_t n = taken_.size();
    for (auto& m : taken_) fn(std::move(m));
    taken_.clear();  // keeps its capacity: no allocation in steady state
    return n;
  }

  uint64_t dropped() const {
    std::lock_guard lock(mutex_);
    return dropped_;
  }

 private:
  EventFd wake_;
  size_t capacity_;
  mutable std::mutex mutex_;
  std::vector<T> items_;  // guarded by mutex_
  uint64_t dropped_ = 0;  // guarded by mutex_
  std::vector<T> taken_;  // consumer thread only
};

}  // namespace dialout
