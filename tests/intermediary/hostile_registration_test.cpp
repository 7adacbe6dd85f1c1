// Hostile registrations and a hostile reader against a real Relay, in the
// style of hostile_input_test.cpp (same fixture, its own policy): a site
// whose grant is wide tries to nest inside or around another office's LAN,
// an identity with a wildcard name grant loops over names to drain the
// laptop pool, and a site sends PINGs but never reads the PONGs. Each case
// checks the refusal or the close, that it is counted and logged (briefly),
// and that the honest pair keeps working.
#include <gtest/gtest.h>

#include "tests/intermediary/hostile_peer.hpp"

namespace dialout::hostile {
namespace {

using namespace std::chrono_literals;

constexpr const char* kRegistrationPolicy = R"(
[identity site-a]
register = office-a
advertise = 10.1.0.0/24
reach = office-b

[identity site-b]
register = office-b
advertise = 10.2.0.0/24
reach = office-a, laptop-roamer

# A grant far wider than it should be, and a name per loop iteration.
[identity rogue]
register = rogue-net, laptop-rogue-*
advertise = 10.0.0.0/8
reach = *

# A laptop on office-b's LAN, numbered from the pool.
[identity roamer]
register = laptop-roamer
reach = office-b

# A laptop with fixed addresses in office-b's LAN; only one may nest there.
[identity carol]
register = laptop-carol
advertise = 10.2.0.50/32, 10.2.0.51/32
nest = 10.2.0.50/32
reach = office-b
)";

// Inside office-b's 10.2.0.0/24: the laptop-on-the-HQ-subnet case.
constexpr const char* kPool = "10.2.0.192/27";
constexpr unsigned kMaxAddresses = 3;

class HostileRegistration : public HostileInput {
 protected:
  // As HostileInput::SetUp, with this file's policy, a pool, a lease cap
  // and the smallest send queue (a stalled reader overflows sooner).
  void SetUp() override {
    relay_config_ = in_process_relay_config(pki_, /*with_crl=*/true);
    relay_config_.keepalive = 200ms;
    relay_config_.dead_after = 5s;
    relay_config_.handshake_timeout = kHandshakeTimeout;
    relay_config_.max_sessions_per_identity = 2;
    relay_config_.address_pools = {*Prefix::parse(kPool)};
    relay_config_.max_addresses_per_identity = kMaxAddresses;
    relay_config_.queue_bytes = 16384;
    relay_tls_ = std::make_unique<TlsContext>(std::move(*TlsContext::server(relay_config_.tls)));
    relay_ = std::make_unique<Relay>(loop_, *relay_tls_, *Policy::parse(kRegistrationPolicy, "test-policy"),
                                     relay_config_, relay_log_);
    ASSERT_TRUE(relay_->start().has_value());
    a_ = &start_site("site-a", "office-a", "10.1.0.0/24");
    b_ = &start_site("site-b", "office-b", "10.2.0.0/24");
    ASSERT_TRUE(run_until([&] {
      return a_->engine->ready_uplinks() == 2 && b_->engine->ready_uplinks() == 2 &&
             a_->engine->routes().lookup(*IpAddr::parse("10.2.0.2")).has_value() &&
             b_->engine->routes().lookup(*IpAddr::parse("10.1.0.2")).has_value();
    })) << "the legitimate pair is up before any hostile input";
    expect_pair_works();
  }

  // A TLS session of `identity` after HELLO, ready for its REGISTER.
  Raw open_hello(const std::string& identity) {
    Raw r = open_tls(pki_.client_files(identity));
    send_tls(r, frame_of(Hello{kProtocolVersion, 0}));
    EXPECT_TRUE(wait_frame(r, MsgType::Hello).has_value());
    return r;
  }

  // Sends `reg` and returns the relay's answer: ACCEPT or REFUSE.
  std::optional<Frame> answer(Raw& r, const Register& reg) {
    send_tls(r, frame_of(reg));
    std::optional<Frame> got;
    run_until([&] {
      bool open = pump(r);
      while (auto f = take_frame(r))
        if (f->type == MsgType::Accept || f->type == MsgType::Refuse) return bool(got = std::move(f));
      return !open;
    });
    return got;
  }

  // `reg` from `identity` is refused for `reason`, counted, logged with the
  // peer, and the connection closed; returns the refusal's text.
  std::string expect_refused(const std::string& identity, const Register& reg, RefuseReason reason) {
    uint64_t refused = relay_->counter(RelayCounter::RefusedRegister);
    Raw r = open_hello(identity);
    auto got = answer(r, reg);
    EXPECT_TRUE(got && got->type == MsgType::Refuse) << log_text();
    if (!got || got->type != MsgType::Refuse) return "";
    auto refusal = decode_refuse(got->payload);
    EXPECT_TRUE(refusal.has_value());
    EXPECT_EQ(refusal->reason, reason) << refusal->text;
    EXPECT_TRUE(wait_closed(r));
    EXPECT_EQ(relay_->counter(RelayCounter::RefusedRegister), refused + 1);
    EXPECT_TRUE(logged({r.local, "'" + identity + "'", "refused", to_string(reason), refusal->text})) << log_text();
    return refusal->text;
  }

  // A laptop (SiteEngine asking for a pool address) of `identity`.
  Site& start_laptop(const std::string& identity, const std::string& name) {
    auto s = std::make_unique<Site>();
    s->tun = std::make_unique<FakeTun>(std::move(*FakeTun::create(false)));
    s->config = in_process_site_config(pki_, relay_->port(), identity, name, nullptr);
    s->config.request_address = true;
    s->config.keepalive = 200ms;
    s->config.dead_after = 5s;
    s->tls = std::make_unique<TlsContext>(std::move(*TlsContext::client(s->config.tls)));
    s->engine = std::make_unique<SiteEngine>(loop_, *s->tls, std::vector<Tun*>{s->tun.get()}, s->routes, s->host, s->config, site_log_);
    s->engine->start();
    sites_.push_back(std::move(s));
    return *sites_.back();
  }

  // The next datagram `s` writes to its TUN device (nullopt after 5 s).
  std::optional<std::vector<uint8_t>> receive(Site& s) {
    std::optional<std::vector<uint8_t>> got;
    run_until([&] {
      if (auto r = s.tun->receive(0ms)) got = std::move(*r);
      return got.has_value();
    });
    return got;
  }

  // A datagram from office-a to `dst` in office-b's LAN arrives at office-b.
  void expect_a_reaches(const char* dst) {
    auto packet = test::ipv4_udp("10.1.0.2", dst, 4000, 53, fmt::format("to {}", dst));
    ASSERT_TRUE(a_->tun->inject(packet).has_value());
    EXPECT_EQ(receive(*b_), packet) << dst << " still goes to office-b";
  }
};

TEST_F(HostileRegistration, WideGrantCannotNestInsideOrAroundAnotherOffice) {
  const std::tuple<const char*, const char*, const char*, const char*> cases[] = {
      {"inside office-b's LAN", "10.2.0.128/25", "10.2.0.128/25 lies inside 10.2.0.0/24", "office-b"},
      {"around office-b's LAN", "10.2.0.0/16", "10.2.0.0/16 lies around 10.2.0.0/24", "office-b"},
      {"a host inside office-b's LAN", "10.2.0.1/32", "10.2.0.1/32 lies inside 10.2.0.0/24", "office-b"},
      {"around both offices", "10.0.0.0/8", "10.0.0.0/8 lies around 10.1.0.0/24", "office-a"},
  };
  for (const auto& [what, prefix, says, site] : cases) {
    SCOPED_TRACE(what);
    std::string text = expect_refused("rogue", Register{"rogue-net", 0, {*Prefix::parse(prefix)}},
                                      RefuseReason::PrefixOverlaps);
    EXPECT_NE(text.find(says), std::string::npos) << text;
    EXPECT_NE(text.find(fmt::format("registered by site '{}'", site)), std::string::npos) << text;
    EXPECT_EQ(relay_->site_count(), 2u);
    expect_a_reaches("10.2.0.130");  // the half the /25 would have taken
    expect_pair_works();
  }
  // The same grant, used for a prefix nobody holds, still works.
  Raw ok = open_hello("rogue");
  auto accepted = answer(ok, Register{"rogue-net", 0, {*Prefix::parse("10.9.0.0/24")}});
  ASSERT_TRUE(accepted && accepted->type == MsgType::Accept) << log_text();
  expect_pair_works();
}

TEST_F(HostileRegistration, LaptopPoolAddressInsideAnOfficeLanStillWorks) {
  Site& laptop = start_laptop("roamer", "laptop-roamer");
  ASSERT_TRUE(run_until([&] {
    return laptop.engine->ready_uplinks() > 0 && !laptop.engine->assigned_addresses().empty();
  })) << log_text();
  const Prefix address = *laptop.engine->assigned_addresses().begin();
  EXPECT_TRUE(Prefix::parse("10.2.0.0/24")->contains(address)) << "inside office-b's LAN: " << address.to_string();
  EXPECT_EQ(relay_->pool_leases(), 1u);
  ASSERT_TRUE(run_until([&] {
    return laptop.engine->routes().lookup(*IpAddr::parse("10.2.0.2")).has_value() &&
           b_->engine->routes().lookup(address.addr).has_value();
  }));
  const std::string ip = address.addr.to_string();
  auto there = test::ipv4_udp(ip.c_str(), "10.2.0.2", 4000, 22, "laptop to office-b");
  auto back = test::ipv4_udp("10.2.0.2", ip.c_str(), 22, 4000, "office-b to laptop");
  ASSERT_TRUE(laptop.tun->inject(there).has_value());
  EXPECT_EQ(receive(*b_), there);
  ASSERT_TRUE(b_->tun->inject(back).has_value());
  EXPECT_EQ(receive(laptop), back);
  // A fixed address nests only where the policy says so (`nest`).
  EXPECT_NE(expect_refused("carol", Register{"laptop-carol", 0, {*Prefix::parse("10.2.0.51/32")}},
                           RefuseReason::PrefixOverlaps)
                .find("10.2.0.51/32 lies inside 10.2.0.0/24"),
            std::string::npos);
  Raw carol = open_hello("carol");
  auto accepted = answer(carol, Register{"laptop-carol", 0, {*Prefix::parse("10.2.0.50/32")}});
  ASSERT_TRUE(accepted && accepted->type == MsgType::Accept) << log_text();
  expect_pair_works();
}

TEST_F(HostileRegistration, LoopingOverNamesCannotDrainThePool) {
  // Refused after its address was assigned: the address goes back at once.
  expect_refused("rogue", Register{"laptop-rogue-0", kRegisterWantAddress, {*Prefix::parse("10.2.0.128/25")}},
                 RefuseReason::PrefixOverlaps);
  EXPECT_EQ(relay_->pool_leases(), 0u) << "no lease left behind by the refusal";
  // Names 1..3 each get an address, held for reconnects after they leave.
  for (unsigned i = 1; i <= kMaxAddresses; ++i) {
    Raw r = open_hello("rogue");
    auto got = answer(r, Register{fmt::format("laptop-rogue-{}", i), kRegisterWantAddress, {}});
    ASSERT_TRUE(got && got->type == MsgType::Accept) << i << log_text();
    auto accept = decode_accept(got->payload);
    ASSERT_TRUE(accept.has_value());
    ASSERT_EQ(accept->addresses.size(), 1u);
    // Lowest free first: the refused attempt above took nothing.
    EXPECT_EQ(accept->addresses[0].addr.to_string(), fmt::format("10.2.0.{}", 192 + i));
    close_raw(r);
  }
  EXPECT_EQ(relay_->pool_leases(), kMaxAddresses);
  // The next name is refused, says why, and takes nothing.
  std::string text = expect_refused("rogue", Register{"laptop-rogue-4", kRegisterWantAddress, {}},
                                    RefuseReason::TooManyAddresses);
  EXPECT_NE(text.find("identity 'rogue' already holds 3 addresses of pool 10.2.0.192/27"), std::string::npos)
      << text;
  EXPECT_NE(text.find("max-addresses-per-identity"), std::string::npos) << text;
  EXPECT_EQ(relay_->pool_leases(), kMaxAddresses);
  // Its own names still come back to their addresses.
  Raw again = open_hello("rogue");
  auto back = answer(again, Register{"laptop-rogue-2", kRegisterWantAddress, {}});
  ASSERT_TRUE(back && back->type == MsgType::Accept) << log_text();
  EXPECT_EQ(decode_accept(back->payload)->addresses.at(0).addr.to_string(), "10.2.0.194");
  // A held name refused for another reason goes back to its grace, not away.
  close_raw(again);
  expect_refused("rogue", Register{"laptop-rogue-2", kRegisterWantAddress, {*Prefix::parse("10.2.0.0/25")}},
                 RefuseReason::PrefixOverlaps);
  EXPECT_EQ(relay_->pool_leases(), kMaxAddresses);
  // Other identities still get addresses.
  Site& laptop = start_laptop("roamer", "laptop-roamer");
  ASSERT_TRUE(run_until([&] { return !laptop.engine->assigned_addresses().empty(); })) << log_text();
  EXPECT_EQ(laptop.engine->assigned_addresses().begin()->addr.to_string(), "10.2.0.196");
  expect_pair_works();
}

TEST_F(HostileRegistration, SiteThatSendsPingsButNeverReadsIsClosedQuietly) {
  Raw r = open_hello("rogue");
  auto accepted = answer(r, Register{"rogue-net", 0, {*Prefix::parse("10.9.0.0/24")}});
  ASSERT_TRUE(accepted && accepted->type == MsgType::Accept) << log_text();
  lines_.clear();
  size_t sessions = relay_->session_count();
  std::vector<uint8_t> pings;
  for (uint64_t i = 0; i < 1024; ++i) {
    auto f = frame_of(Ping{i});
    pings.insert(pings.end(), f.begin(), f.end());
  }
  // Writes pings as fast as the relay takes them and never reads a pong.
  std::span<const uint8_t> rest;
  size_t sent = 0;
  bool closed = run_until(
      [&] {
        if (relay_->counter(RelayCounter::ClosedSlowReader) > 0) return true;
        if (rest.empty()) rest = pings;
        if (auto n = r.tls->write(rest)) {
          rest = rest.subspan(*n);
          sent += *n;
        }
        return false;
      },
      20s);
  ASSERT_TRUE(closed) << sent << " bytes of pings; log:\n" << log_text().substr(0, 2000);
  EXPECT_EQ(relay_->counter(RelayCounter::ClosedSlowReader), 1u);
  EXPECT_TRUE(run_until([&] { return relay_->session_count() == sessions - 1; }));
  EXPECT_TRUE(logged({r.local, "'rogue'", "control queue overflow"})) << log_text();
  // Tens of thousands of overflowing pongs, a handful of lines.
  EXPECT_GT(sent, 100'000u);
  EXPECT_LE(lines_.size(), 6u) << log_text();
  expect_pair_works();
}

// The other side of closing slow readers: a site that others flood with
// small datagrams is not closed for it. Datagrams fill at most half of its
// urgent lane; the relay's own PINGs still fit in the other half.
TEST_F(HostileRegistration, FloodOfSmallDatagramsDoesNotGetTheReceiverClosed) {
  Raw victim = open_hello("rogue");  // reads nothing from here on
  auto accepted = answer(victim, Register{"rogue-net", 0, {*Prefix::parse("10.9.0.0/24")}});
  ASSERT_TRUE(accepted && accepted->type == MsgType::Accept) << log_text();
  Raw flooder = open_hello("rogue");
  accepted = answer(flooder, Register{"laptop-rogue-1", 0, {*Prefix::parse("10.8.0.0/24")}});
  ASSERT_TRUE(accepted && accepted->type == MsgType::Accept) << log_text();
  size_t sessions = relay_->session_count();
  auto packet = test::ipv4_udp("10.8.0.1", "10.9.0.1", 1, 2, std::string(200, 'x'));
  std::vector<uint8_t> burst;
  for (int i = 0; i < 256; ++i) {
    std::vector<uint8_t> f(kDataFrameOverhead);
    write_data_headers(std::span<uint8_t, kDataFrameOverhead>(f.data(), kDataFrameOverhead), DataHeader{0, 0, 0},
                       packet.size());
    f.insert(f.end(), packet.begin(), packet.end());
    burst.insert(burst.end(), f.begin(), f.end());
  }
  uint64_t full = relay_->counter(RelayCounter::DropQueueFull);
  ASSERT_TRUE(run_until(
      [&] {
        if (relay_->counter(RelayCounter::DropQueueFull) > full) return true;
        send_tls(flooder, burst);
        return false;
      },
      10s))
      << "the victim's lane fills up";
  // Control frames for the victim meanwhile: a route change (ROUTES), a
  // departure (PEER_GONE, ROUTES) and keepalive PINGs (every 200 ms).
  Raw carol = open_hello("carol");
  accepted = answer(carol, Register{"laptop-carol", 0, {*Prefix::parse("10.2.0.50/32")}});
  ASSERT_TRUE(accepted && accepted->type == MsgType::Accept) << log_text();
  close_raw(carol);
  auto until = Clock::now() + 3 * relay_config_.keepalive;
  run_until([&] {
    send_tls(flooder, burst);
    return Clock::now() > until;
  });
  EXPECT_EQ(relay_->counter(RelayCounter::ClosedSlowReader), 0u) << log_text();
  EXPECT_EQ(relay_->session_count(), sessions) << "both rogue sessions stay open";
  EXPECT_GT(relay_->counter(RelayCounter::DropQueueFull), full);
  expect_pair_works();
}

}  // namespace
}  // namespace dialout::hostile
