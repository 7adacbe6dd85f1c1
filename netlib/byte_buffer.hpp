// A growable byte buffer for the data path: resize() never initialises new
// bytes and every copy is one memcpy.
//
// Why not std::vector<uint8_t>: resize() zero-fills (a memset of every
// frame built in place), and a vector with a custom allocator that skips
// the zeroing loses libstdc++'s memmove fast path for insert() — it then
// copies byte by byte (17 % of tund's CPU in one bench profile).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <utility>

namespace dialout {

class ByteBuffer {
 public:
  ByteBuffer() = default;
  ByteBuffer(ByteBuffer&&) noexcept = default;
  ByteBuffer& operator=(ByteBuffer&&) noexcept = default;

  uint8_t* data() { return bytes_.get(); }
  const uint8_t* data() const { return bytes_.get(); }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  bool empty() const { return size_ == 0; }
  uint8_t* begin() { return data(); }
  uint8_t* end() { return data() + size_; }
  const uint8_t* begin() const { return data(); }
  const uint8_t* end() const { return data() + size_; }
  uint8_t& operator[](size_t i) { return bytes_[i]; }
  const uint8_t& operator[](size_t i) const { return bytes_[i]; }

  // New bytes (when growing) are uninitialised: the caller writes them.
  void resize(size_t n) {
    if (n > capacity_) grow(n);
    size_ = n;
  }
  void append(std::span<const uint8_t> bytes) {
    if (bytes.empty()) return;
    size_t at = size_;
    resize(size_ + bytes.size());
    std::memcpy(data() + at, bytes.data(), bytes.size());
  }
  void clear() { size_ = 0; }  // keeps the capacity
  void swap(ByteBuffer& other) noexcept {
    std::swap(bytes_, other.bytes_);
    std::swap(size_, other.size_);
    std::swap(capacity_, other.capacity_);
  }

 private:
  // Out of line: growing is rare, and inlined into callers g++ 12 mistakes
  // the memcpy for an overflow (-Wstringop-overflow false positive).
  [[gnu::noinline]] void grow(size_t need) {
    size_t cap = std::max(need, capacity_ * 2);
    auto fresh = std::make_unique_for_overwrite<uint8_t[]>(cap);
    if (size_ > 0) std::memcpy(fresh.get(), bytes_.get(), size_);
    bytes_ = std::move(fresh);
    capacity_ = cap;
  }

  std::unique_ptr<uint8_t[]> bytes_;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

}  // namespace dialout
