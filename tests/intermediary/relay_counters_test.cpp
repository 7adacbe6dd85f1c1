// The status-file rows are an interface (integration tests and operators
// read them): the names the relay wrote before the table must stay.
#include "intermediary/relay_counters.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string_view>

namespace dialout {
namespace {

TEST(RelayCounters, TableKeepsTheStatusRowNamesInOrder) {
  const std::string_view legacy[] = {"frames_forwarded", "bytes_forwarded", "drop_spoofed_source", "drop_policy",
                                     "drop_no_route",    "drop_queue_full", "drop_malformed",      "refused_register",
                                     "handshake_failed", "closed_slow_reader"};
  ASSERT_GE(kRelayCounters.size(), std::size(legacy));
  for (size_t i = 0; i < std::size(legacy); ++i) EXPECT_EQ(kRelayCounters[i].key, legacy[i]);
  std::set<std::string_view> keys;
  for (const auto& c : kRelayCounters) {
    EXPECT_TRUE(keys.insert(c.key).second) << "duplicate key " << c.key;
    EXPECT_FALSE(c.help.empty()) << c.key;
    EXPECT_EQ(c.key.find_first_of(" \t\n"), std::string_view::npos) << c.key;
  }
}

TEST(RelayCounters, NamedTotalsReadTheirOwnSlot) {
  RelayCounterSet set;
  set.add(RelayCounter::DropPolicy, 3);
  set.add(RelayCounter::ClosedSlowReader);
  RelayCounters totals(set.snapshot());
  EXPECT_EQ(totals.drop_policy, 3u);
  EXPECT_EQ(totals.closed_slow_reader, 1u);
  EXPECT_EQ(totals.frames_forwarded + totals.drop_no_route + totals.refused_register, 0u);
}

}  // namespace
}  // namespace dialout
