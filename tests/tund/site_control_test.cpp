#include "tund/site_control.hpp"

#include <gtest/gtest.h>

namespace dialout {
namespace {

TEST(SiteControl, UplinkTableShowsStateBytesRttAndOwnCertificate) {
  Uplink::Status ready;
  ready.index = 0;
  ready.state = "ready";
  ready.remote = "203.0.113.1:443";
  ready.path = "tls";
  ready.since = std::chrono::system_clock::time_point(std::chrono::seconds(1798761600));
  ready.resumed = true;
  ready.bytes_in = 100;
  ready.bytes_out = 200;
  ready.rtt = std::chrono::microseconds(1600);
  ready.cert_not_after = 1798761601;
  Uplink::Status waiting;
  waiting.index = 1;
  waiting.state = "waiting";
  waiting.path = "tls via proxy";
  waiting.cert_not_after = 1798761601;  // each connection reports its own certificate's
  SiteControlContext ctx{"office-a", "relay.example:443", {}};
  std::vector<StatusTable> t{uplink_table({ready, waiting}, ctx)};
  EXPECT_EQ(render_json(t),
            "{\"uplinks\":[{\"connection\":0,\"site\":\"office-a\",\"state\":\"ready\",\"intermediary\":"
            "\"relay.example:443\",\"remote\":\"203.0.113.1:443\",\"since\":\"2027-01-01T00:00:00Z\",\"path\":\"tls\","
            "\"bytes_in\":100,\"bytes_out\":200,\"rtt_ms\":2,\"tls\":\"resumed\",\"cert_expires\":"
            "\"2027-01-01T00:00:01Z\"},"
            "{\"connection\":1,\"site\":\"office-a\",\"state\":\"waiting\",\"intermediary\":\"relay.example:443\","
            "\"remote\":\"\",\"since\":\"\",\"path\":\"tls via proxy\",\"bytes_in\":0,\"bytes_out\":0,\"rtt_ms\":null,"
            "\"tls\":\"\",\"cert_expires\":\"2027-01-01T00:00:01Z\"}]}\n");
}

TEST(SiteControl, RouteTableNamesTheSites) {
  RouteTable routes({{*Prefix::parse("10.9.0.0/24"), "office-z"}}, {*Prefix::parse("10.1.0.0/24")});
  Routes snap;
  snap.entries.push_back(RouteEntry{2, "office-b", {*Prefix::parse("10.2.0.0/24")}});
  routes.apply(snap, std::chrono::steady_clock::now());
  std::vector<StatusTable> t{site_route_table(routes)};
  std::string text = render_text(t);
  EXPECT_NE(text.find("10.2.0.0/24  office-b  routed"), std::string::npos) << text;
  EXPECT_NE(text.find("10.9.0.0/24  -         static, site not seen yet"), std::string::npos) << text;
}

}  // namespace
}  // namespace dialout
