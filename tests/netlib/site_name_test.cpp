#include "netlib/site_name.hpp"

#include <gtest/gtest.h>

#include <string>

namespace dialout {
namespace {

TEST(SiteName, Table) {
  const std::string max63(63, 'a');
  const std::string too_long(64, 'a');
  const struct {
    std::string name;
    bool valid;
  } cases[] = {
      {"office-a", true}, {"a", true},       {"0", true},        {"a.b_c-d9", true},
      {max63, true},      {too_long, false}, {"", false},        {"-a", false},
      {".a", false},      {"_a", false},     {"Office", false},  {"a b", false},
      {"a/b", false},     {"*", false},      {std::string("a\0b", 3), false},
  };
  for (const auto& c : cases) EXPECT_EQ(valid_site_name(c.name), c.valid) << c.name;
}

}  // namespace
}  // namespace dialout
