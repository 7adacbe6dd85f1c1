#include "tund/path_watch.hpp"

#include <gtest/gtest.h>

namespace dialout {
namespace {

using Action = PathWatch::Action;

std::optional<IpAddr> A(const char* s) {
  if (s == nullptr) return std::nullopt;
  return IpAddr::parse(s);
}

TEST(PathWatch, ReconnectsOnAddressChangeAndWhenTheRouteComesBack) {
  struct Step {
    const char* source;  // nullptr: no route
    Action action;
    const char* text;  // substring of the verdict's text, or "" for none
  };
  const Step steps[] = {
      {"192.168.1.20", Action::None, ""},  // baseline
      {"192.168.1.20", Action::None, ""},  // an unrelated change
      {"10.9.0.7", Action::Reconnect, "local address changed 192.168.1.20 -> 10.9.0.7"},
      {nullptr, Action::Lost, "no route to the intermediary any more (was from 10.9.0.7)"},
      {nullptr, Action::None, ""},
      {"10.9.0.7", Action::Reconnect, "route to the intermediary is back (from 10.9.0.7)"},
      {nullptr, Action::Lost, ""},
      {"172.16.5.5", Action::Reconnect, "local address changed 10.9.0.7 -> 172.16.5.5"},
      {"fd00::5", Action::Reconnect, "local address changed 172.16.5.5 -> fd00::5"},
  };
  PathWatch w;
  int i = 0;
  for (const auto& s : steps) {
    auto v = w.observe(A(s.source));
    EXPECT_EQ(v.action, s.action) << "step " << i;
    if (*s.text != '\0') {
      EXPECT_NE(v.text.find(s.text), std::string::npos) << "step " << i << ": " << v.text;
    } else if (s.action == Action::None) {
      EXPECT_EQ(v.text, "") << "step " << i;
    }
    EXPECT_EQ(w.current(), A(s.source)) << "step " << i;
    ++i;
  }
}

TEST(PathWatch, NoRouteAtStartThenARouteReconnects) {
  PathWatch w;
  EXPECT_EQ(w.observe(std::nullopt).action, Action::None);
  auto v = w.observe(A("10.0.0.2"));
  EXPECT_EQ(v.action, Action::Reconnect);
  EXPECT_EQ(v.text, "route to the intermediary is back (from 10.0.0.2)");
}

TEST(WatchedAddress, FollowsTheAddressTheUplinksUse) {
  const std::vector<IpAddr> both{*IpAddr::parse("2001:db8::1"), *IpAddr::parse("203.0.113.1")};
  struct Case {
    std::vector<std::string> ready;
    const char* want;
  };
  const Case cases[] = {
      {{}, "2001:db8::1"},                                 // none ready yet: the resolver's first
      {{"[2001:db8::1]:443"}, "2001:db8::1"},
      {{"203.0.113.1:443"}, "203.0.113.1"},                // happy eyeballs settled on IPv4
      {{"203.0.113.1:443", "[2001:db8::1]:443"}, "203.0.113.1"},  // the first ready one
      {{"198.51.100.9:443"}, "2001:db8::1"},               // not one of ours (stale answer)
      {{"garbage", "203.0.113.1:443"}, "203.0.113.1"},
  };
  for (const auto& c : cases) {
    auto got = watched_address(c.ready, both);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->to_string(), c.want) << (c.ready.empty() ? "(none)" : c.ready.front());
  }
  EXPECT_FALSE(watched_address(std::vector<std::string>{"203.0.113.1:443"}, std::vector<IpAddr>{}).has_value());
}

}  // namespace
}  // namespace dialout
