#include "netlib/control_protocol.hpp"

#include <gtest/gtest.h>

#include <string>

namespace dialout {
namespace {

struct Good {
  std::string line;
  ControlRequest want;
};

TEST(ControlProtocol, ParsesEveryVerb) {
  const Good cases[] = {
      {"status", {ControlVerb::Status, "", false}},
      {"status --json", {ControlVerb::Status, "", true}},
      {"routes", {ControlVerb::Routes, "", false}},
      {"  routes   --json ", {ControlVerb::Routes, "", true}},
      {"reload", {ControlVerb::Reload, "", false}},
      {"kill office-b", {ControlVerb::Kill, "office-b", false}},
      {"kill 42 --json", {ControlVerb::Kill, "42", true}},
      {"kill --json site_1.x", {ControlVerb::Kill, "site_1.x", true}},
  };
  for (const auto& c : cases) {
    auto r = parse_control_request(c.line);
    ASSERT_TRUE(r) << c.line << ": " << r.error();
    EXPECT_EQ(*r, c.want) << c.line;
    // What a client formats parses back the same.
    std::string line = format_control_request(*r);
    ASSERT_EQ(line.back(), '\n');
    line.pop_back();
    EXPECT_EQ(*parse_control_request(line), c.want) << line;
  }
}

struct Bad {
  std::string line;
  std::string error_has;
};

TEST(ControlProtocol, RefusesMalformedRequestsSayingWhy) {
  const Bad cases[] = {
      {"", "empty request"},
      {"   ", "empty request"},
      {"stats", "unknown command 'stats'"},
      {"STATUS", "unknown command"},
      {"status now", "status takes no argument, got 'now'"},
      {"reload x", "reload takes no argument"},
      {"kill", "kill needs a site name or a session id"},
      {"kill a b", "kill takes one argument, got 2"},
      {"kill a/b", "only letters, digits"},
      {"kill ../x", "only letters"},
      {"status --json --json", "--json given twice"},
      {"status --yaml", "unknown option '--yaml'"},
      {"status\t", "byte 6 of the request is not printable ASCII (0x09)"},
      {std::string("kill a\0b", 8), "not printable"},
      {"kill " + std::string(256, 'a'), "argument of 256 bytes is over the limit of 255"},
      {std::string(kMaxControlRequest, 's'), "over the limit"},
  };
  for (const auto& c : cases) {
    auto r = parse_control_request(c.line);
    ASSERT_FALSE(r) << "accepted: " << c.line;
    EXPECT_NE(r.error().find(c.error_has), std::string::npos) << c.line << " -> " << r.error();
  }
}

TEST(ControlProtocol, RepliesRoundTrip) {
  const ControlReply cases[] = {
      {true, ""},
      {true, "sessions (0)\nid\n"},
      {false, "no site or session 'x'"},
  };
  for (const auto& c : cases) {
    auto back = parse_control_reply(encode_control_reply(c));
    ASSERT_TRUE(back) << back.error();
    EXPECT_EQ(*back, c);
  }
}

TEST(ControlProtocol, RepliesAreBounded) {
  // An error stays one line, whatever it was given.
  EXPECT_EQ(encode_control_reply({false, "two\nlines"}), "error two lines\n");
  EXPECT_LE(encode_control_reply({false, std::string(5000, 'e')}).size(), 1024u + 7);
  // A body over the limit is cut and says so.
  std::string huge(kMaxControlReply + 10, 'x');
  std::string wire = encode_control_reply({true, huge});
  EXPECT_LT(wire.size(), kMaxControlReply + 100);
  EXPECT_NE(wire.find("cut at the size limit"), std::string::npos);
}

TEST(ControlProtocol, UnreadableRepliesAreErrors) {
  EXPECT_FALSE(parse_control_reply(""));
  EXPECT_FALSE(parse_control_reply("HTTP/1.1 200 OK\r\n"));
  EXPECT_FALSE(parse_control_reply("ok"));  // no newline after the status
}

}  // namespace
}  // namespace dialout
