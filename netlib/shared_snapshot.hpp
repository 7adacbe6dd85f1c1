// One writer publishes immutable snapshots of some state; readers on other
// threads pick up the newest one when they next look.
//
// Readers poll generation() (one atomic load, cheap enough per batch) and
// take the mutex only when it changed, so the data path never contends on
// the lock. A snapshot is never modified after publish(): readers may keep
// using the one they hold while a newer one is published.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <utility>

namespace dialout {

template <class T>
class SharedSnapshot {
 public:
  // Writer. Generations start at 1, so a reader that starts at 0 always
  // picks up the first snapshot.
  void publish(std::shared_ptr<const T> next) {
    std::lock_guard lock(mutex_);
    current_ = std::move(next);
    generation_.store(generation_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  }

  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

  // Reader: the newest snapshot (nullptr before the first publish) and its generation.
  std::pair<std::shared_ptr<const T>, uint64_t> get() const {
    std::lock_guard lock(mutex_);
    return {current_, generation_.load(std::memory_order_relaxed)};
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const T> current_;  // guarded by mutex_
  std::atomic<uint64_t> generation_{0};
};

}  // namespace dialout
