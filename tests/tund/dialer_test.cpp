#include "tund/dialer.hpp"

#include <gtest/gtest.h>

#include "tests/support/test_pki.hpp"

namespace dialout {
namespace {

class TlsDialerTest : public ::testing::Test {
 protected:
  TlsDialerTest() : tls_(std::move(*TlsContext::client(pki_.client_files("office-a")))) {}
  TestPki pki_;
  TlsContext tls_;
};

TEST_F(TlsDialerTest, RefusesANameRatherThanResolvingOnTheLoop) {
  TlsDialer dialer(tls_);
  auto t = dialer.dial(Endpoint{"relay.invalid", 443}, "intermediary");
  ASSERT_FALSE(t);
  EXPECT_NE(t.error().find("not a numeric address"), std::string::npos) << t.error();
}

TEST_F(TlsDialerTest, StartsTcpAndTlsToANumericAddress) {
  auto listener = tcp_listen(Endpoint{"127.0.0.1", 0}, 4);
  ASSERT_TRUE(listener) << listener.error();
  auto at = local_endpoint(listener->get());
  ASSERT_TRUE(at);
  TlsDialer dialer(tls_);
  auto t = dialer.dial(*at, "intermediary");
  ASSERT_TRUE(t) << t.error();
  ASSERT_GE((*t)->fd(), 0);
  // Nobody answers TLS: set-up gets as far as waiting for the ServerHello.
  IoStatus st = IoStatus::WantWrite;
  for (int i = 0; i < 200 && st == IoStatus::WantWrite; ++i) st = (*t)->handshake();
  EXPECT_EQ(st, IoStatus::WantRead);
  EXPECT_FALSE((*t)->resumed());
}

}  // namespace
}  // namespace dialout
