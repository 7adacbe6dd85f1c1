// Hostile peers against a real Relay over loopback TLS, while a legitimate
// pair of sites (real SiteEngines with in-memory TUNs) keeps exchanging
// datagrams through it. Every case checks three things: the hostile
// connection is refused/closed or its input dropped, and counted; the
// refusal is logged with the peer's address and the reason; and the
// legitimate pair still gets through afterwards. One EventLoop drives the
// relay, the sites and (by polling between run_once calls) the raw clients.
#include <gtest/gtest.h>

#include "tests/intermediary/hostile_peer.hpp"

namespace dialout::hostile {
namespace {

using namespace std::chrono_literals;

TEST_F(HostileInput, BytesThatAreNotTlsAreClosedAndCounted) {
  const std::pair<const char*, std::string> cases[] = {
      {"garbage", std::string("\x00\xff\x13\x37 not a record at all \x01\x02", 28)},
      {"HTTP request", "GET / HTTP/1.1\r\nHost: intermediary\r\nUser-Agent: curl\r\n\r\n"},
      {"HTTP proxy CONNECT", "CONNECT intermediary:443 HTTP/1.1\r\nHost: intermediary:443\r\n\r\n"},
  };
  for (const auto& [what, bytes] : cases) {
    SCOPED_TRACE(what);
    uint64_t failed = relay_->counter(RelayCounter::HandshakeFailed);
    Raw r = open_tcp();
    send_plain(r, bytes);
    EXPECT_TRUE(wait_closed(r)) << "the relay closes the connection";
    EXPECT_EQ(relay_->counter(RelayCounter::HandshakeFailed), failed + 1);
    EXPECT_TRUE(logged({r.local, "TLS handshake failed"})) << log_text();
    expect_pair_works();
  }
}

TEST_F(HostileInput, UnacceptableClientCertificatesAreRejected) {
  TlsFiles none{"", "", pki_.ca_path(), ""};
  TlsFiles revoked = pki_.client_files("site-a");  // a rightful identity, but this certificate is revoked
  pki_.revoke("site-a");
  ASSERT_TRUE(relay_tls_->try_reload_crl().has_value());
  const std::tuple<const char*, TlsFiles, const char*> cases[] = {
      {"no client certificate", none, "peer did not return a certificate"},
      {"certificate from another CA", pki_.client_files("site-b", {.other_ca = true}),
       "unable to get local issuer certificate"},
      {"expired certificate", pki_.client_files("site-b", {.expired = true}), "certificate has expired"},
      {"revoked certificate", revoked, "certificate revoked"},
  };
  for (const auto& [what, files, reason] : cases) {
    SCOPED_TRACE(what);
    uint64_t failed = relay_->counter(RelayCounter::HandshakeFailed);
    Raw r = open_tls(files);
    EXPECT_TRUE(wait_closed(r)) << "the relay ends the connection";
    EXPECT_EQ(relay_->counter(RelayCounter::HandshakeFailed), failed + 1);
    EXPECT_TRUE(logged({r.local, "TLS handshake failed", reason})) << log_text();
    expect_pair_works();
  }
  EXPECT_EQ(relay_->site_count(), 2u) << "no hostile peer got as far as registering";
}

TEST_F(HostileInput, HandshakeThatNeverCompletesTimesOut) {
  // A TLS record header announcing a 512-byte ClientHello, then only its start.
  const std::string half_hello = std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11) + std::string(40, '\x5a');
  const std::pair<const char*, std::string> cases[] = {{"silent", ""}, {"half a ClientHello", half_hello}};
  for (const auto& [what, bytes] : cases) {
    SCOPED_TRACE(what);
    uint64_t failed = relay_->counter(RelayCounter::HandshakeFailed);
    auto start = Clock::now();
    Raw r = open_tcp();
    if (!bytes.empty()) send_plain(r, bytes);
    EXPECT_TRUE(wait_closed(r, kHandshakeTimeout + 3s)) << "closed after the handshake timeout";
    EXPECT_GE(Clock::now() - start, kHandshakeTimeout) << "but not before it";
    EXPECT_EQ(relay_->counter(RelayCounter::HandshakeFailed), failed + 1);
    EXPECT_TRUE(logged({r.local, "handshake timeout"})) << log_text();
    expect_pair_works();
  }
}

TEST_F(HostileInput, OneIdentityOpeningTooManySessionsIsRefused) {
  Raw first = open_registered();
  Raw second = open_registered();  // max_sessions_per_identity = 2: both fit
  Raw third = open_tls(pki_.client_files("rogue"));
  auto refusal = wait_frame(third, MsgType::Refuse);
  ASSERT_TRUE(refusal.has_value()) << log_text();
  auto decoded = decode_refuse(refusal->payload);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->reason, RefuseReason::TooManySessions);
  EXPECT_TRUE(wait_closed(third));
  EXPECT_TRUE(logged({third.local, "'rogue'", to_string(RefuseReason::TooManySessions)})) << log_text();
  EXPECT_TRUE(pump(first) && pump(second)) << "the identity's first sessions stay open";
  expect_pair_works();
}

// Registration attempts the policy or the registry must refuse.
TEST_F(HostileInput, RegisteringWhatIsNotOursIsRefused) {
  const std::tuple<const char*, Register, RefuseReason> cases[] = {
      {"name not granted", Register{"office-b", 0, {}}, RefuseReason::NameNotAllowed},
      {"prefix not granted", Register{"rogue-net", 0, {*Prefix::parse("10.1.0.0/24")}}, RefuseReason::PrefixNotAllowed},
      {"name held by another identity", Register{"office-a", 0, {*Prefix::parse("10.9.0.0/24")}},
       RefuseReason::NameTaken},
      {"prefix advertised by another site", Register{"rogue-net", 0, {*Prefix::parse("10.2.0.0/24")}},
       RefuseReason::PrefixTaken},
  };
  for (const auto& [what, reg, reason] : cases) {
    SCOPED_TRACE(what);
    uint64_t refused = relay_->counter(RelayCounter::RefusedRegister);
    Raw r = open_tls(pki_.client_files("rogue"));
    send_tls(r, frame_of(Hello{kProtocolVersion, 0}));
    send_tls(r, frame_of(reg));
    auto refusal = wait_frame(r, MsgType::Refuse);
    ASSERT_TRUE(refusal.has_value()) << log_text();
    EXPECT_EQ(decode_refuse(refusal->payload)->reason, reason);
    EXPECT_TRUE(wait_closed(r));
    EXPECT_EQ(relay_->counter(RelayCounter::RefusedRegister), refused + 1);
    EXPECT_TRUE(logged({r.local, "'rogue'", "refused", to_string(reason)})) << log_text();
    expect_pair_works();
  }
  EXPECT_EQ(relay_->site_count(), 2u);
}

struct BadFrameCase {
  const char* what;
  std::vector<uint8_t> bytes;
  bool closes;             // the relay ends the session (else it only drops the frame)
  const char* log_reason;  // in the log line that names the peer
};

std::vector<BadFrameCase> bad_frame_cases() {
  auto data = [](uint8_t flags, uint8_t reserved) {
    auto packet = test::ipv4_udp("10.9.0.2", "10.1.0.2", 1, 2, "sneaky");
    std::vector<uint8_t> f(kDataFrameOverhead);
    write_data_headers(std::span<uint8_t, kDataFrameOverhead>(f.data(), kDataFrameOverhead), DataHeader{0, 0, flags},
                       packet.size());
    f[kFrameHeaderSize + 9] = reserved;
    f.insert(f.end(), packet.begin(), packet.end());
    return f;
  };
  return {
      {"oversized frame header", {0x0A, 0xff, 0xff, 0xff}, true, to_string(WireError::Oversized)},
      {"oversized control frame", {0x06, 0x01, 0x00, 0x00}, true, to_string(WireError::Oversized)},
      {"unknown frame type", {0x7f, 0x00, 0x00, 0x00}, true, to_string(WireError::UnknownType)},
      {"DATA with reserved byte set", data(0, 0x80), false, to_string(WireError::BadReserved)},
      {"DATA with unknown flag bits", data(0xf0, 0), false, to_string(WireError::BadReserved)},
      {"second REGISTER", frame_of(Register{"rogue-net", 0, {*Prefix::parse("10.9.0.0/24")}}), true,
       to_string(RefuseReason::OutOfOrder)},
      {"HELLO after registration", frame_of(Hello{kProtocolVersion, 0}), true, to_string(RefuseReason::OutOfOrder)},
      {"frame only intermediaries send", frame_of(Routes{}), true, to_string(RefuseReason::OutOfOrder)},
  };
}

TEST_F(HostileInput, BadFramesAfterRegistrationAreDroppedAndCounted) {
  for (const auto& c : bad_frame_cases()) {
    SCOPED_TRACE(c.what);
    Raw r = open_registered();
    lines_.clear();
    uint64_t malformed = relay_->counter(RelayCounter::DropMalformed);
    uint64_t forwarded = relay_->counter(RelayCounter::FramesForwarded);
    send_tls(r, c.bytes);
    ASSERT_TRUE(run_until([&] { return relay_->counter(RelayCounter::DropMalformed) > malformed; })) << log_text();
    EXPECT_EQ(relay_->counter(RelayCounter::DropMalformed), malformed + 1);
    EXPECT_EQ(relay_->counter(RelayCounter::FramesForwarded), forwarded) << "nothing of it was forwarded";
    EXPECT_TRUE(logged({r.local, c.log_reason})) << log_text();
    if (c.closes) {
      EXPECT_TRUE(wait_closed(r));
    } else {
      // Only the frame was dropped: the session still answers a ping.
      send_tls(r, frame_of(Ping{42}));
      auto pong = wait_frame(r, MsgType::Pong);
      ASSERT_TRUE(pong.has_value()) << "the session survives a dropped frame";
      EXPECT_EQ(decode_pong(pong->payload)->token, 42u);
      close_raw(r);
    }
    expect_pair_works();
  }
}

TEST_F(HostileInput, TruncatedFrameThenCloseForwardsNothing) {
  Raw r = open_registered();
  uint64_t forwarded = relay_->counter(RelayCounter::FramesForwarded);
  size_t sessions = relay_->session_count();
  // A DATA header announcing 200 bytes, 20 of them, then the connection ends.
  std::vector<uint8_t> partial = {0x0A, 0x00, 0x00, 200};
  partial.resize(24, 0);
  send_tls(r, partial);
  r.tls->shutdown();
  r.tls.reset();
  ASSERT_TRUE(run_until([&] { return relay_->session_count() == sessions - 1; })) << log_text();
  EXPECT_TRUE(logged({r.local, "'rogue'", "session closed"})) << log_text();
  EXPECT_EQ(relay_->counter(RelayCounter::FramesForwarded), forwarded);
  EXPECT_EQ(relay_->site_count(), 2u) << "its site went away with its only session";
  expect_pair_works();
}

}  // namespace
}  // namespace dialout::hostile
