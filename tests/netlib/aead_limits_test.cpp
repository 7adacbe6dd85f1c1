#include "netlib/aead_limits.hpp"

#include <gtest/gtest.h>

namespace dialout {
namespace {

using namespace std::chrono_literals;

TEST(AeadLimits, BlocksCountBodyAndTag) {
  EXPECT_EQ(AeadUsage::blocks_for(0), 1u);
  EXPECT_EQ(AeadUsage::blocks_for(1), 2u);
  EXPECT_EQ(AeadUsage::blocks_for(16), 2u);
  EXPECT_EQ(AeadUsage::blocks_for(17), 3u);
  EXPECT_EQ(AeadUsage::blocks_for(1400), 89u);
  AeadUsage u;
  u.add(16);
  u.add(0);
  EXPECT_EQ(u.records, 2u);
  EXPECT_EQ(u.blocks, 3u);
}

TEST(AeadLimits, DefaultsStayWithinTheCitedBounds) {
  AeadLimits l;
  EXPECT_LE(l.max_blocks, uint64_t{1} << 35);  // RFC 9001 B.1.1 for AES-GCM
  EXPECT_LE(l.rekey_blocks * 2, l.max_blocks);
  EXPECT_LE(l.max_auth_failures, uint64_t{1} << 36);  // RFC 9001 6.6 for ChaCha20-Poly1305
  EXPECT_LT(l.max_records, uint64_t{1} << 63);
}

TEST(AeadLimits, SendingKeyStates) {
  const AeadLimits l;
  struct Case {
    const char* name;
    AeadUsage usage;
    std::chrono::seconds age;
    KeyState state;
  };
  const Case cases[] = {
      {"new", {}, 0s, KeyState::Fresh},
      {"just below every threshold", {l.rekey_records - 1, l.rekey_blocks - 1}, 599s, KeyState::Fresh},
      {"records", {l.rekey_records, 0}, 0s, KeyState::RekeyDue},
      {"blocks", {1, l.rekey_blocks}, 0s, KeyState::RekeyDue},
      {"ten minutes", {}, 600s, KeyState::RekeyDue},
      {"record limit", {l.max_records, 0}, 0s, KeyState::Exhausted},
      {"block limit", {1, l.max_blocks}, 0s, KeyState::Exhausted},
  };
  for (const auto& c : cases) EXPECT_EQ(sending_key_state(c.usage, c.age, l), c.state) << c.name;
}

TEST(AeadLimits, ReceivingKeyStates) {
  const AeadLimits l;
  EXPECT_EQ(receiving_key_state(0, l), KeyState::Fresh);
  EXPECT_EQ(receiving_key_state(l.rekey_auth_failures - 1, l), KeyState::Fresh);
  EXPECT_EQ(receiving_key_state(l.rekey_auth_failures, l), KeyState::RekeyDue);
  EXPECT_EQ(receiving_key_state(l.max_auth_failures, l), KeyState::Exhausted);
}

TEST(AeadLimits, MaySealUpToTheLimitExactly) {
  AeadLimits l;
  l.max_blocks = 10;
  l.max_records = 5;
  EXPECT_TRUE(may_seal({0, 0}, 16 * 9, l));    // exactly 10 blocks
  EXPECT_FALSE(may_seal({0, 0}, 16 * 9 + 1, l));
  EXPECT_TRUE(may_seal({4, 9}, 0, l));
  EXPECT_FALSE(may_seal({5, 0}, 0, l));
  EXPECT_FALSE(may_seal({1, 11}, 0, l));
  l.max_blocks = UINT64_MAX;  // no overflow near the top
  EXPECT_FALSE(may_seal({0, UINT64_MAX}, 100, l));
}

}  // namespace
}  // namespace dialout
