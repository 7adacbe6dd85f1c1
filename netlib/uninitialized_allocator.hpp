// An allocator whose value-initialisation does nothing, so
// std::vector<uint8_t, UninitializedAllocator<uint8_t>>::resize() grows a
// byte buffer without zero-filling it. For buffers that are always written
// before they are read (frames built in place, socket reads): zeroing 64 KB
// per superpacket was ~1 % of the whole machine in the bench profile.
#pragma once

#include <memory>
#include <new>
#include <type_traits>
#include <vector>
#include <cstdint>
#include <utility>

namespace dialout {

template <class T>
class UninitializedAllocator : public std::allocator<T> {
  static_assert(std::is_trivially_default_constructible_v<T>, "only for plain bytes and the like");

 public:
  template <class U>
  struct rebind {
    using other = UninitializedAllocator<U>;
  };
  using std::allocator<T>::allocator;

  template <class U>
  void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>) {
    ::new (static_cast<void*>(p)) U;  // default-initialisation: no zeroing
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    std::construct_at(p, std::forward<Args>(args)...);
  }
};

using ByteBuffer = std::vector<uint8_t, UninitializedAllocator<uint8_t>>;

}  // namespace dialout
