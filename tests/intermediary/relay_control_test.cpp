#include "intermediary/relay_control.hpp"

#include <gtest/gtest.h>

namespace dialout {
namespace {

TEST(RelayControl, SessionTableHasEveryColumnInJson) {
  SessionRow r;
  r.id = 9;
  r.site = "office-a";
  r.identity = "gw-a";
  r.remote = "198.51.100.7:40000";
  r.state = "ready";
  r.since = std::chrono::system_clock::time_point(std::chrono::seconds(1798761600));
  r.worker = 1;
  r.bytes_in = 10;
  r.bytes_out = 20;
  r.frames_in = 3;
  r.frames_out = 4;
  r.queue_drops = 5;
  r.resumed = true;
  r.cert_not_after = 1798761601;
  std::vector<StatusTable> t{relay_session_table({r})};
  EXPECT_EQ(render_json(t),
            "{\"sessions\":[{\"id\":9,\"site\":\"office-a\",\"identity\":\"gw-a\",\"remote\":\"198.51.100.7:40000\","
            "\"state\":\"ready\",\"since\":\"2027-01-01T00:00:00Z\",\"worker\":1,\"path\":\"tls\",\"bytes_in\":10,"
            "\"bytes_out\":20,\"frames_in\":3,\"frames_out\":4,\"rtt_ms\":null,\"queue_drops\":5,\"tls\":\"resumed\","
            "\"cert_expires\":\"2027-01-01T00:00:01Z\"}]}\n");
  r.resumed = false;
  EXPECT_NE(render_text(std::vector<StatusTable>{relay_session_table({r})}).find(" full "), std::string::npos);
}

TEST(RelayControl, RouteTableHasOneRowPerPrefix) {
  SiteRow s{3, "office-b", "gw-b", {*Prefix::parse("10.2.0.0/24"), *Prefix::parse("10.20.0.0/16")}, 2};
  std::vector<StatusTable> t{relay_route_table({s})};
  EXPECT_EQ(render_text(t),
            "routes (2)\n"
            "prefix        site      site_id  identity  sessions\n"
            "10.2.0.0/24   office-b  3        gw-b      2\n"
            "10.20.0.0/16  office-b  3        gw-b      2\n");
}

}  // namespace
}  // namespace dialout
