#include "netlib/metrics_text.hpp"

#include <gtest/gtest.h>

namespace dialout {
namespace {

enum class Demo { Frames, Sessions, Count };
constexpr std::array<CounterInfo, 2> kDemo{{
    {"frames", "frames moved"},
    {"sessions", "sessions now", true},
}};

TEST(MetricsText, CounterTableRowsBecomeFamilies) {
  MetricsText m;
  m.table("dialout_relay", kDemo, std::array<uint64_t, 2>{42, 3});
  EXPECT_EQ(m.text(),
            "# HELP dialout_relay_frames_total frames moved\n"
            "# TYPE dialout_relay_frames_total counter\n"
            "dialout_relay_frames_total 42\n"
            "# HELP dialout_relay_sessions sessions now\n"
            "# TYPE dialout_relay_sessions gauge\n"
            "dialout_relay_sessions 3\n");
}

TEST(MetricsText, LabelsAreEscaped) {
  MetricsText m;
  m.family("dialout_relay_site_sessions", "per site", true,
           {{{{"site", "office-a"}, {"path", "tls"}}, 2}, {{{"site", "we\"ird\\na\nme"}}, 1}});
  EXPECT_EQ(m.text(),
            "# HELP dialout_relay_site_sessions per site\n"
            "# TYPE dialout_relay_site_sessions gauge\n"
            "dialout_relay_site_sessions{site=\"office-a\",path=\"tls\"} 2\n"
            "dialout_relay_site_sessions{site=\"we\\\"ird\\\\na\\nme\"} 1\n");
}

TEST(MetricsText, HelpIsEscaped) { EXPECT_EQ(escape_help("a\\b\nc"), "a\\\\b\\nc"); }

TEST(MetricsText, EveryRealTableRendersValidNames) {
  // Names must match [a-zA-Z_:][a-zA-Z0-9_:]*: the table keys are used as is.
  auto valid = [](std::string_view key) {
    for (char c : key)
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
    return !key.empty();
  };
  for (const auto& row : kDemo) EXPECT_TRUE(valid(row.key));
}

}  // namespace
}  // namespace dialout
