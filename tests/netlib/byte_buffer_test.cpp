#include "netlib/byte_buffer.hpp"

#include <gtest/gtest.h>

#include <numeric>
#include <vector>

namespace dialout {
namespace {

std::vector<uint8_t> iota_bytes(size_t n, uint8_t first) {
  std::vector<uint8_t> v(n);
  std::iota(v.begin(), v.end(), first);
  return v;
}

TEST(ByteBuffer, AppendKeepsEveryByteAcrossGrowth) {
  ByteBuffer b;
  std::vector<uint8_t> expect;
  for (size_t n : {1u, 7u, 100u, 4096u, 70000u}) {
    auto chunk = iota_bytes(n, static_cast<uint8_t>(n));
    b.append(chunk);
    expect.insert(expect.end(), chunk.begin(), chunk.end());
    ASSERT_EQ(b.size(), expect.size());
    ASSERT_GE(b.capacity(), b.size());
    ASSERT_TRUE(std::equal(b.begin(), b.end(), expect.begin()));
  }
  b.append({});
  EXPECT_EQ(b.size(), expect.size());
}

TEST(ByteBuffer, ResizeGrowsInPlaceAndShrinksWithoutLosingCapacity) {
  ByteBuffer b;
  b.append(iota_bytes(10, 0));
  b.resize(5000);  // new bytes are the caller's to write
  EXPECT_EQ(b.size(), 5000u);
  for (size_t i = 0; i < 10; ++i) EXPECT_EQ(b[i], i);
  size_t cap = b.capacity();
  b.resize(3);
  EXPECT_EQ(b.size(), 3u);
  EXPECT_EQ(b.capacity(), cap);
  b.clear();
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.capacity(), cap);
  std::span<uint8_t> view(b);  // a contiguous range, usable as a span
  EXPECT_TRUE(view.empty());
}

TEST(ByteBuffer, SwapAndMoveTransferOwnership) {
  ByteBuffer a, b;
  a.append(iota_bytes(3, 1));
  b.swap(a);
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(a.capacity(), 0u);
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b[2], 3);
  ByteBuffer c(std::move(b));
  EXPECT_EQ(c.size(), 3u);
  ByteBuffer().swap(c);  // how idle buffers give their memory back
  EXPECT_EQ(c.capacity(), 0u);
}

}  // namespace
}  // namespace dialout
