#include "tund/site_control.hpp"

#include <gtest/gtest.h>

#include <sstream>

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

// The dns table and the status file lines, from a DnsLink driven by a fake
// runner: applied, nothing offered, a failed command, DNS turned off (an
// offer is not shown as applied: nothing is on the link).
TEST(SiteControl, DnsTableAndStatusLinesShowWhatIsApplied) {
  DnsConfig offer;
  offer.servers = {*IpAddr::parse("10.2.0.53"), *IpAddr::parse("fd00::53")};
  offer.domains = {"office-b.lan", "corp.example"};
  struct Case {
    const char* name;
    DnsMethod method;
    DnsMode mode;
    int exit_code;  // of every command the fake runs
    bool offered;
    const char* json;
    const char* lines;
  };
  const Case cases[] = {
      {"applied", DnsMethod::Resolvectl, DnsMode::Auto, 0, true,
       "{\"dns\":[{\"method\":\"resolvectl\",\"servers\":\"10.2.0.53 fd00::53\",\"domains\":"
       "\"office-b.lan corp.example\",\"failures\":0,\"error\":null}]}\n",
       "dns_method resolvectl\ndns_servers 10.2.0.53 fd00::53\ndns_domains office-b.lan corp.example\n"
       "dns_failures 0\ndns_error -\n"},
      {"none offered", DnsMethod::Hook, DnsMode::Hook, 0, false,
       "{\"dns\":[{\"method\":\"hook\",\"servers\":null,\"domains\":null,\"failures\":0,\"error\":null}]}\n",
       "dns_method hook\ndns_servers -\ndns_domains -\ndns_failures 0\ndns_error -\n"},
      {"failed", DnsMethod::Hook, DnsMode::Hook, 3, true,
       "{\"dns\":[{\"method\":\"hook\",\"servers\":\"10.2.0.53 fd00::53\",\"domains\":"
       "\"office-b.lan corp.example\",\"failures\":1,\"error\":\"/h up dl0: exit 3: no dnsmasq\\nhere\"}]}\n",
       "dns_method hook\ndns_servers 10.2.0.53 fd00::53\ndns_domains office-b.lan corp.example\n"
       "dns_failures 1\ndns_error /h up dl0: exit 3: no dnsmasq here\n"},
      {"off", DnsMethod::None, DnsMode::Off, 0, true,
       "{\"dns\":[{\"method\":\"off\",\"servers\":null,\"domains\":null,\"failures\":0,\"error\":null}]}\n",
       "dns_method off\ndns_servers -\ndns_domains -\ndns_failures 0\ndns_error -\n"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    std::ostringstream logged;
    Logger log{"tund", LogLevel::Debug, [&](std::string_view l) { logged << l; }};
    DnsLink link(DnsPlanSettings{c.method, "dl0", "resolvectl", "/h", c.mode}, log, [&](const DnsCommand&) {
      return Expected<ProcessResult, std::string>(ProcessResult{c.exit_code, "no dnsmasq\nhere\n"});
    });
    if (c.offered) link.update(offer);
    std::vector<StatusTable> t{dns_table(link.status())};
    EXPECT_EQ(render_json(t), c.json);
    std::string lines;
    for (const auto& [k, v] : dns_status_lines(link.status())) lines += std::string(k) + " " + v + "\n";
    EXPECT_EQ(lines, c.lines);
  }
}

TEST(SiteControl, DnsErrorIsTheLatestChanges) {
  std::ostringstream logged;
  Logger log{"tund", LogLevel::Debug, [&](std::string_view l) { logged << l; }};
  int exit_code = 1;
  DnsLink link(DnsPlanSettings{DnsMethod::Hook, "dl0", "resolvectl", "/h"}, log, [&](const DnsCommand&) {
    return Expected<ProcessResult, std::string>(ProcessResult{exit_code, "boom"});
  });
  DnsConfig offer;
  offer.servers = {*IpAddr::parse("10.2.0.53")};
  offer.domains = {"office-b.lan"};
  link.update(offer);
  EXPECT_EQ(link.status().last_error, "/h up dl0: exit 1: boom");
  exit_code = 0;
  offer.domains.push_back("corp.example");
  link.update(offer);  // down + up, both fine: the error is history
  EXPECT_EQ(link.status().last_error, "");
  EXPECT_EQ(link.status().failures, 1u);
}

}  // namespace
}  // namespace dialout
