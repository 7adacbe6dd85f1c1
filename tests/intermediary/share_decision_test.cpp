#include "intermediary/share_decision.hpp"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "intermediary/client_hello.hpp"
#include "netlib/tls.hpp"
#include "tests/support/test_pki.hpp"

namespace dialout {
namespace {

using Bytes = std::string;

// The first flight of a client SSL made from `ctx`, captured from a memory BIO.
Bytes client_hello_of(SSL_CTX* ctx) {
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx), SSL_free);
  if (!ssl) return {};
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl.get(), in, out);
  SSL_set_connect_state(ssl.get());
  (void)SSL_do_handshake(ssl.get());
  char* data = nullptr;
  long n = BIO_get_mem_data(out, &data);
  return n > 0 ? Bytes(data, size_t(n)) : Bytes();
}

Bytes plain_client_hello(const char* alpn_wire, size_t alpn_len) {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  if (alpn_len != 0)
    SSL_CTX_set_alpn_protos(ctx.get(), reinterpret_cast<const unsigned char*>(alpn_wire), unsigned(alpn_len));
  return client_hello_of(ctx.get());
}

ShareDecision decide(const Bytes& b, bool closed = false, bool timed_out = false) {
  return decide_share({reinterpret_cast<const uint8_t*>(b.data()), b.size()}, closed, timed_out);
}

// What the issue promises: every site offers the id, so a port-sharing
// intermediary hands sites to the relay. Uses the site's real context.
TEST(ShareDecisionTest, SiteClientContextOffersOurAlpn) {
  TestPki pki;
  auto ctx = TlsContext::client(pki.client_files("site-a"));
  ASSERT_TRUE(ctx) << ctx.error();
  Bytes hello = client_hello_of(ctx->native());
  ASSERT_FALSE(hello.empty());
  EXPECT_EQ(peek_client_hello({reinterpret_cast<const uint8_t*>(hello.data()), hello.size()}).verdict,
            HelloVerdict::TlsWithAlpn);
  auto d = decide(hello);
  EXPECT_EQ(d.route, ShareRoute::Relay);
  EXPECT_EQ(d.counter, ShareCounter::ToRelay);
}

TEST(ShareDecisionTest, Table) {
  const Bytes browser = plain_client_hello("\x02h2\x08http/1.1", 12);
  const Bytes no_alpn = plain_client_hello("", 0);
  const Bytes site = plain_client_hello("\x09" "dialout/1", 10);
  ASSERT_FALSE(browser.empty());
  const Bytes http = "GET / HTTP/1.1\r\nHost: example\r\n\r\n";
  // A record header promising a handshake, then a body of the wrong type.
  const Bytes malformed = Bytes("\x16\x03\x01\x00\x05\x02\x00\x00\x01\x00", 10);
  // A handshake message longer than the peek bound.
  const Bytes oversized = Bytes("\x16\x03\x01\x40\x00\x01\x01\x00\x00", 9);
  struct Row {
    const char* name;
    Bytes bytes;
    bool closed, timed_out;
    ShareRoute route;
    ShareCounter counter;
  };
  const Row rows[] = {
      {"site", site, false, false, ShareRoute::Relay, ShareCounter::ToRelay},
      {"site even if it closed after", site, true, true, ShareRoute::Relay, ShareCounter::ToRelay},
      {"browser", browser, false, false, ShareRoute::Backend, ShareCounter::ToBackend},
      {"tls without alpn", no_alpn, false, false, ShareRoute::Backend, ShareCounter::ToBackend},
      {"plain http", http, false, false, ShareRoute::Backend, ShareCounter::ToBackend},
      {"malformed", malformed, false, false, ShareRoute::Drop, ShareCounter::DropMalformed},
      {"oversized", oversized, false, false, ShareRoute::Drop, ShareCounter::DropOversized},
      {"nothing yet", "", false, false, ShareRoute::Wait, ShareCounter::Count},
      {"half a hello", site.substr(0, site.size() / 2), false, false, ShareRoute::Wait, ShareCounter::Count},
      {"half a hello, then closed", site.substr(0, site.size() / 2), true, false, ShareRoute::Drop,
       ShareCounter::DropClosed},
      {"silent until the timeout", "", false, true, ShareRoute::Drop, ShareCounter::DropTimeout},
      {"half a hello at the timeout", site.substr(0, 10), false, true, ShareRoute::Drop, ShareCounter::DropTimeout},
      {"closed without a byte", "", true, false, ShareRoute::Drop, ShareCounter::DropClosed},
  };
  for (const auto& r : rows) {
    auto d = decide(r.bytes, r.closed, r.timed_out);
    EXPECT_EQ(d.route, r.route) << r.name << ": " << to_string(d.route) << " " << d.why;
    if (r.route != ShareRoute::Wait) {
      EXPECT_EQ(d.counter, r.counter) << r.name;
    }
    if (r.route == ShareRoute::Drop) {
      EXPECT_FALSE(d.why.empty()) << r.name;
    }
  }
}

// Arriving a byte at a time, a site's hello waits until complete, then goes
// to the relay; it never goes anywhere else on the way.
TEST(ShareDecisionTest, SplitAtEveryByteWaitsThenDecides) {
  const Bytes site = plain_client_hello("\x09" "dialout/1", 10);
  for (size_t n = 0; n < site.size(); ++n)
    ASSERT_EQ(decide(site.substr(0, n)).route, ShareRoute::Wait) << n;
  EXPECT_EQ(decide(site).route, ShareRoute::Relay);
}

}  // namespace
}  // namespace dialout
