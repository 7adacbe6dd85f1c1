#include "netlib/status_table.hpp"

#include <gtest/gtest.h>

namespace dialout {
namespace {

std::vector<StatusTable> sample() {
  StatusTable t{"sessions", {"id", "site", "bytes_in", "rtt_ms", "resumed"}, {}};
  t.rows.push_back({{"id", uint64_t(7)},
                    {"site", std::string("office-a")},
                    {"bytes_in", uint64_t(123456)},
                    {"rtt_ms", std::monostate{}},
                    {"resumed", true}});
  t.rows.push_back({{"id", uint64_t(12)},
                    {"site", std::string("")},
                    {"bytes_in", uint64_t(0)},
                    {"rtt_ms", uint64_t(3)},
                    {"resumed", false}});
  StatusTable r{"routes", {"prefix"}, {}};
  return {t, r};
}

TEST(StatusTable, TextAlignsColumnsAndMarksUnknown) {
  EXPECT_EQ(render_text(sample()),
            "sessions (2)\n"
            "id  site      bytes_in  rtt_ms  resumed\n"
            "7   office-a  123456    -       yes\n"
            "12  -         0         3       no\n"
            "\n"
            "routes (0)\n"
            "prefix\n");
}

TEST(StatusTable, JsonKeepsTypes) {
  EXPECT_EQ(render_json(sample()),
            "{\"sessions\":[{\"id\":7,\"site\":\"office-a\",\"bytes_in\":123456,\"rtt_ms\":null,\"resumed\":true},"
            "{\"id\":12,\"site\":\"\",\"bytes_in\":0,\"rtt_ms\":3,\"resumed\":false}],\"routes\":[]}\n");
}

TEST(StatusTable, JsonStringsAreEscaped) {
  struct Case {
    std::string in, out;
  } cases[] = {
      {"plain", "\"plain\""},
      {"a\"b", "\"a\\\"b\""},
      {"back\\slash", "\"back\\\\slash\""},
      {"line\nbreak", "\"line\\nbreak\""},
      {std::string("nul\0x", 5), "\"nul\\u0000x\""},
      {"\x1b[31m", "\"\\u001b[31m\""},
  };
  for (const auto& c : cases) EXPECT_EQ(json_string(c.in), c.out) << c.in;
}

}  // namespace
}  // namespace dialout
