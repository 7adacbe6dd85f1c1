#include "tund/proxy_credentials.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <optional>
#include <string>
#include <vector>

namespace dialout {
namespace {

TEST(ProxyCredentialsTest, OneLineUserColonPassword) {
  struct Good {
    std::string text, user, password;
  };
  const std::vector<Good> goods = {
      {"alice:s3cret\n", "alice", "s3cret"},
      {"alice:s3cret", "alice", "s3cret"},                 // no final newline
      {"alice:pa:ss:word\n", "alice", "pa:ss:word"},       // the first ':' splits
      {"alice: spaced pw \n", "alice", " spaced pw "},     // taken literally
      {"DOMAIN\\alice:p\xc3\xa4ss\n", "DOMAIN\\alice", "p\xc3\xa4ss"},  // UTF-8 passes through
      {std::string(255, 'u') + ":" + std::string(255, 'p'), std::string(255, 'u'), std::string(255, 'p')},
  };
  for (const Good& g : goods) {
    auto c = parse_proxy_credentials(g.text);
    ASSERT_TRUE(c) << c.error();
    EXPECT_EQ(c->user, g.user);
    EXPECT_EQ(c->password, g.password);
  }
}

TEST(ProxyCredentialsTest, RefusalsNeverQuoteTheSecret) {
  struct Bad {
    std::string text, why;
  };
  const std::vector<Bad> bads = {
      {"", "is empty"},
      {"\n", "has no ':'"},
      {"alicesecret\n", "has no ':' between the user name and the password"},
      {":secret\n", "the user name is empty"},
      {"alice:\n", "the password is empty"},
      {"alice:secret\n\n", "more than one line"},
      {"alice\nsecret\n", "more than one line"},
      {"alice:secret\r\n", "byte 13 is a carriage return"},
      {"alice:sec\tret\n", "byte 10 is a control character (0x09)"},
      {"al\x7f" "ice:secret", "byte 3 is a control character (0x7f)"},
      {std::string(256, 'u') + ":secret", "the user name is longer than 255 bytes"},
      {"alice:" + std::string(256, 's'), "the password is longer than 255 bytes"},
      {std::string(1025, 'x'), "longer than 1024 bytes"},
  };
  for (const Bad& b : bads) {
    auto c = parse_proxy_credentials(b.text);
    ASSERT_FALSE(c) << b.text;
    EXPECT_NE(c.error().find(b.why), std::string::npos) << c.error();
    EXPECT_EQ(c.error().find("secret"), std::string::npos) << c.error();
    EXPECT_EQ(c.error().find("alice"), std::string::npos) << c.error();
  }
}

TEST(ProxyCredentialsTest, FileMustBeRegularAndClosedToOthers) {
  struct Mode {
    uint32_t mode;
    std::optional<std::string> why;  // nullopt: accepted
  };
  const std::vector<Mode> modes = {
      {S_IFREG | 0600, std::nullopt},
      {S_IFREG | 0400, std::nullopt},
      {S_IFREG | 0640, std::nullopt},  // root:dialout, read by the daemon's group
      {S_IFREG | 0644, "open to other users (mode 0644); chmod o-rwx it"},
      {S_IFREG | 0602, "mode 0602"},
      {S_IFREG | 0601, "mode 0601"},
      {S_IFDIR | 0700, "is not a regular file"},
      {S_IFLNK | 0600, "is not a regular file"},
  };
  for (const Mode& m : modes) {
    auto ok = check_proxy_credentials_mode(m.mode);
    EXPECT_EQ(ok.has_value(), !m.why.has_value()) << std::oct << m.mode;
    if (!ok && m.why) {
      EXPECT_NE(ok.error().find(*m.why), std::string::npos) << ok.error();
    }
  }
}

}  // namespace
}  // namespace dialout
