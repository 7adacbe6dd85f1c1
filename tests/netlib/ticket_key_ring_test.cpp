#include "netlib/ticket_key_ring.hpp"

#include <gtest/gtest.h>

#include <string>

namespace dialout {
namespace {

TicketKey key(uint8_t fill) {
  std::array<uint8_t, TicketKey::kBytes> bytes{};
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = uint8_t(fill + i);
  return TicketKey::from_bytes(bytes);
}

std::string hex(uint8_t fill) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < TicketKey::kBytes; ++i) {
    uint8_t b = uint8_t(fill + i);
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

TEST(TicketKeyRing, TextRoundTrips) {
  TicketKeyRing one{key(1), std::nullopt, 1700000000};
  TicketKeyRing two{key(1), key(90), 1700000001};
  for (const auto& ring : {one, two}) {
    auto back = TicketKeyRing::parse(ring.to_text(), "keys");
    ASSERT_TRUE(back.has_value()) << back.error();
    EXPECT_EQ(*back, ring);
  }
}

TEST(TicketKeyRing, KeyLayoutIsNameThenHmacThenAes) {
  auto k = key(0);
  EXPECT_EQ(k.name[0], 0);
  EXPECT_EQ(k.hmac[0], 16);
  EXPECT_EQ(k.aes[0], 48);
  EXPECT_EQ(k.aes[31], 79);
}

TEST(TicketKeyRing, RotationKeepsThePreviousKeyAndFindsBoth) {
  TicketKeyRing ring{key(1), std::nullopt, 100};
  auto next = ring.rotated(key(120), 200);
  EXPECT_EQ(next.current, key(120));
  ASSERT_TRUE(next.previous.has_value());
  EXPECT_EQ(*next.previous, key(1));
  EXPECT_EQ(next.created, 200);
  const TicketKey* cur = next.find(key(120).name);
  const TicketKey* old = next.find(key(1).name);
  ASSERT_NE(cur, nullptr);
  ASSERT_NE(old, nullptr);
  EXPECT_EQ(*cur, key(120));
  EXPECT_EQ(*old, key(1));
  EXPECT_EQ(next.find(key(200).name), nullptr);
  auto third = next.rotated(key(200), 300);
  EXPECT_EQ(third.find(key(1).name), nullptr) << "two rotations retire a key";
}

TEST(TicketKeyRing, RotationIsDueAfterThePeriodOrWhenTheClockWentBack) {
  TicketKeyRing ring{key(1), std::nullopt, 1000};
  EXPECT_FALSE(ring.rotation_due(1000 + 59, 60));
  EXPECT_TRUE(ring.rotation_due(1000 + 60, 60));
  EXPECT_TRUE(ring.rotation_due(999, 60));
}

struct BadFile {
  const char* what;
  std::string text;
  const char* error;  // a piece of the message
};

TEST(TicketKeyRing, StrictParsingNamesTheLine) {
  const std::string cur = "current " + hex(1) + "\n";
  const BadFile cases[] = {
      {"empty", "", "no 'current' key"},
      {"no created", cur, "no 'created' time"},
      {"no current", "created 5\n", "no 'current' key"},
      {"short key", "created 5\ncurrent " + hex(1).substr(2) + "\n", "keys:2: 'current' must be 160 hex digits"},
      {"long key", "created 5\ncurrent " + hex(1) + "00\n", "keys:2: 'current' must be 160 hex digits"},
      {"not hex", "created 5\ncurrent " + std::string(160, 'g') + "\n", "keys:2: 'current' must be"},
      {"twice", "created 5\n" + cur + cur, "keys:3: 'current' given twice"},
      {"created twice", "created 5\ncreated 6\n" + cur, "keys:2: 'created' given twice"},
      {"negative created", "created -5\n" + cur, "keys:1: 'created' is not Unix seconds"},
      {"created with junk", "created 5x\n" + cur, "keys:1: 'created' is not Unix seconds"},
      {"unknown key", "created 5\n" + cur + "next " + hex(2) + "\n", "keys:3: unknown key 'next'"},
      {"no value", "created\n", "keys:1: expected 'KEY VALUE'"},
      {"previous is current", "created 5\n" + cur + "previous " + hex(1) + "\n", "'previous' has the current key's name"},
  };
  for (const auto& c : cases) {
    auto r = TicketKeyRing::parse(c.text, "keys");
    ASSERT_FALSE(r.has_value()) << c.what;
    EXPECT_NE(r.error().find(c.error), std::string::npos) << c.what << ": " << r.error();
  }
}

TEST(TicketKeyRing, CommentsAndBlankLinesAreIgnored) {
  auto r = TicketKeyRing::parse("# keys\n\ncreated 7\n# more\ncurrent " + hex(3) + "\n", "keys");
  ASSERT_TRUE(r.has_value()) << r.error();
  EXPECT_EQ(r->current, key(3));
  EXPECT_FALSE(r->previous.has_value());
  EXPECT_EQ(r->created, 7);
}

}  // namespace
}  // namespace dialout
