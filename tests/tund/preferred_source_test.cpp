#include "tund/preferred_source.hpp"

#include <gtest/gtest.h>

namespace dialout {
namespace {

Prefix P(const char* s) { return *Prefix::parse(s); }
IpAddr A(const char* s) { return *IpAddr::parse(s); }
// A --tun-address: the address with its host bits, and the on-link length.
Prefix T(const char* a, uint8_t len) { return Prefix{A(a), len}; }

TEST(PreferredSource, ATunAddressInsideAnAdvertisedPrefixFirstThenTheLanAddress) {
  struct Case {
    const char* what;
    std::vector<Prefix> advertised, tun;
    std::vector<IpAddr> lan;
    PreferredSources want;
  };
  const Case cases[] = {
      {"the LAN address", {P("10.1.0.0/24")}, {}, {A("10.1.0.1")}, {A("10.1.0.1"), std::nullopt}},
      {"a TUN address inside the LAN wins", {P("10.1.0.0/24")}, {T("10.1.0.254", 32)}, {A("10.1.0.1")},
       {A("10.1.0.254"), std::nullopt}},
      {"a TUN address outside every advertised prefix is no use",
       {P("10.1.0.0/24")}, {T("10.255.1.1", 24)}, {A("10.1.0.1")}, {A("10.1.0.1"), std::nullopt}},
      {"nothing inside: no preferred source (the kernel chooses)", {P("10.1.0.0/24")}, {T("10.255.1.1", 24)},
       {A("192.0.2.2")}, {}},
      {"a laptop advertises nothing", {}, {T("10.5.0.130", 32)}, {A("192.0.2.2")}, {}},
      {"one per family", {P("10.1.0.0/24"), P("fd00:1::/64")}, {}, {A("fd00:1::1"), A("10.1.0.1")},
       {A("10.1.0.1"), A("fd00:1::1")}},
      {"the first candidate of a family", {P("10.1.0.0/16")}, {}, {A("10.1.0.1"), A("10.1.1.1")},
       {A("10.1.0.1"), std::nullopt}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    EXPECT_EQ(choose_preferred_sources(c.advertised, c.tun, c.lan), c.want);
  }
}

TEST(PreferredSource, ChosenPerRouteFamily) {
  PreferredSources s{A("10.1.0.1"), A("fd00:1::1")};
  EXPECT_EQ(s.for_route(P("10.2.0.0/24")), A("10.1.0.1"));
  EXPECT_EQ(s.for_route(P("fd00:2::/64")), A("fd00:1::1"));
}

}  // namespace
}  // namespace dialout
