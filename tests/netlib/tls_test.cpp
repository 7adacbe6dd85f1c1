#include "netlib/tls.hpp"
#include "netlib/certificate_expiry.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "netlib/socket.hpp"
#include "tests/support/test_pki.hpp"

namespace dialout {
namespace {

using Status = TlsConnection::Status;
using Clock = std::chrono::steady_clock;

struct FdPair {
  UniqueFd server, client;
};

FdPair tcp_pair(int bufsize = 0) {
  FdPair out;
  auto lfd = tcp_listen(Endpoint{"127.0.0.1", 0}, 4);
  EXPECT_TRUE(lfd.has_value());
  if (!lfd) return out;
  auto c = tcp_connect_start(*local_endpoint(lfd->get()));
  EXPECT_TRUE(c.has_value());
  if (!c) return out;
  pollfd p{lfd->get(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 2000), 1);
  auto s = tcp_accept(lfd->get());
  EXPECT_TRUE(s.has_value() && s->valid());
  if (!s) return out;
  out.server = std::move(*s);
  out.client = std::move(*c);
  if (bufsize > 0) {  // small kernel buffers force partial TLS writes
    for (int fd : {out.server.get(), out.client.get()}) {
      ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof bufsize);
      ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof bufsize);
    }
  }
  return out;
}

short poll_events(Status s) { return s == Status::WantWrite ? POLLOUT : POLLIN; }
bool finished(Status s) { return s == Status::Done || s == Status::Error || s == Status::Closed; }

struct Handshake {
  Status server = Status::WantRead;
  Status client = Status::WantRead;
};

// Drives both ends (same thread) until each is done or failed; bounded.
Handshake drive(TlsConnection& s, TlsConnection& c) {
  Handshake h;
  auto deadline = Clock::now() + std::chrono::seconds(5);
  for (int i = 0; i < 2000 && Clock::now() < deadline; ++i) {
    if (!finished(h.client)) h.client = c.handshake();
    if (!finished(h.server)) h.server = s.handshake();
    if (finished(h.client) && finished(h.server)) break;
    pollfd p[2] = {{s.fd(), poll_events(h.server), 0}, {c.fd(), poll_events(h.client), 0}};
    ::poll(p, 2, 10);
  }
  return h;
}

// In TLS 1.3 the client finishes before the server has checked the client
// certificate; the server's refusal shows up at the client's first read.
bool client_sees_refusal(TlsConnection& c, Status hs) {
  if (hs == Status::Error || hs == Status::Closed) return true;
  uint8_t buf[256];
  for (int i = 0; i < 200; ++i) {
    auto r = c.read(buf);
    if (r) return false;  // data from a server that should have refused us
    if (r.error() == Status::Error || r.error() == Status::Closed) return true;
    pollfd p{c.fd(), POLLIN, 0};
    ::poll(&p, 1, 10);
  }
  return false;
}

struct Ends {
  std::optional<TlsConnection> server, client;
  Handshake hs;
};

Ends connect_pair(TlsContext& sctx, TlsContext& cctx, std::string_view name, int bufsize = 0) {
  Ends e;
  FdPair fds = tcp_pair(bufsize);
  auto s = TlsConnection::accept(sctx, std::move(fds.server));
  auto c = TlsConnection::connect(cctx, std::move(fds.client), name);
  EXPECT_TRUE(s.has_value() && c.has_value());
  if (!s || !c) return e;
  e.server.emplace(std::move(*s));
  e.client.emplace(std::move(*c));
  e.hs = drive(*e.server, *e.client);
  return e;
}

// Sends `msg` server → client; the client's reads also take in the
// session tickets that TLS 1.3 sends after the handshake.
void server_says(Ends& e, const std::string& msg) {
  auto w = e.server->write(std::span(reinterpret_cast<const uint8_t*>(msg.data()), msg.size()));
  ASSERT_TRUE(w.has_value());
  ASSERT_EQ(*w, msg.size());
  std::string got;
  uint8_t buf[256];
  for (int i = 0; i < 200 && got.size() < msg.size(); ++i) {
    auto r = e.client->read(buf);
    if (r) {
      got.append(reinterpret_cast<char*>(buf), *r);
      continue;
    }
    ASSERT_TRUE(r.error() == Status::WantRead) << e.client->last_error();
    pollfd p{e.client->fd(), POLLIN, 0};
    ::poll(&p, 1, 10);
  }
  EXPECT_EQ(got, msg);
}

struct Fixture : ::testing::Test {
  TestPki pki;
  TlsContext server_ctx(bool crl = false) {
    auto c = TlsContext::server(pki.server_files(crl));
    EXPECT_TRUE(c.has_value()) << c.error();
    return std::move(*c);
  }
  TlsContext client_ctx(const std::string& cn, ClientOpts o = {}) {
    auto c = TlsContext::client(pki.client_files(cn, o));
    EXPECT_TRUE(c.has_value()) << c.error();
    return std::move(*c);
  }
};

using Tls = Fixture;

TEST_F(Tls, HandshakeAndIdentities) {
  auto s = server_ctx();
  auto c = client_ctx("site-a");
  auto e = connect_pair(s, c, "intermediary");
  ASSERT_EQ(e.hs.client, Status::Done) << e.client->last_error();
  ASSERT_EQ(e.hs.server, Status::Done) << e.server->last_error();
  EXPECT_EQ(e.server->peer_identity(), "site-a");
  EXPECT_EQ(e.client->peer_identity(), "intermediary");
  EXPECT_EQ(SSL_version(e.client->native()), TLS1_3_VERSION);
  EXPECT_FALSE(e.client->session_reused());
}

TEST_F(Tls, ServerAddressAsName) {
  auto s = server_ctx();
  auto c = client_ctx("site-a");
  auto ok = connect_pair(s, c, "127.0.0.1");  // matches the IP SAN
  EXPECT_EQ(ok.hs.client, Status::Done) << ok.client->last_error();
  c.forget_session();
  auto bad = connect_pair(s, c, "127.0.0.2");
  EXPECT_EQ(bad.hs.client, Status::Error);
  EXPECT_NE(bad.client->last_error().find("IP address mismatch"), std::string::npos)
      << bad.client->last_error();
}

TEST_F(Tls, WrongServerNameRefused) {
  auto s = server_ctx();
  auto c = client_ctx("site-a");
  auto e = connect_pair(s, c, "not-the-intermediary");
  EXPECT_EQ(e.hs.client, Status::Error);
  EXPECT_EQ(e.client->last_error(), "certificate verify failed: hostname mismatch");
  EXPECT_NE(e.hs.server, Status::Done);
}

struct Refusal {
  const char* name;
  ClientOpts opts;
  bool no_cert;
  bool with_crl;
  const char* server_error;  // substring of the server's last_error()
};

TEST_F(Tls, BadClientsRefusedTable) {
  const Refusal cases[] = {
      {"no certificate", {}, true, false, "peer did not return a certificate"},
      {"other CA", {.other_ca = true}, false, false, "certificate verify failed: unable to get local issuer"},
      {"expired", {.expired = true}, false, false, "certificate verify failed: certificate has expired"},
      {"revoked", {.revoked = true}, false, true, "certificate verify failed: certificate revoked"},
  };
  for (const auto& rc : cases) {
    SCOPED_TRACE(rc.name);
    TlsFiles cf = pki.client_files("site-x", rc.opts);  // before the server loads the CRL
    auto s = server_ctx(rc.with_crl);
    if (rc.no_cert) cf.cert = cf.key = "";
    auto c = TlsContext::client(cf);
    ASSERT_TRUE(c.has_value()) << c.error();
    auto e = connect_pair(s, *c, "intermediary");
    EXPECT_EQ(e.hs.server, Status::Error);
    EXPECT_NE(e.server->last_error().find(rc.server_error), std::string::npos) << e.server->last_error();
    EXPECT_EQ(e.server->peer_identity(), "");
    EXPECT_TRUE(client_sees_refusal(*e.client, e.hs.client));
  }
}

// One CA signs the relay's and the sites' certificates, so only the
// extended key usage tells them apart: a site whose CN (or SAN) is the
// relay's name must not be able to pose as the relay, and the relay's
// certificate must not log in as a site. The usage must be present: a
// certificate without the extension is refused too.
TEST_F(Tls, SiteCertificatePosingAsTheRelayIsRefused) {
  struct Case {
    const char* name;
    ClientOpts opts;
  };
  const Case cases[] = {
      {"clientAuth, CN only", {.eku = "clientAuth"}},
      {"clientAuth, CN and SAN", {.eku = "clientAuth", .san = "DNS:intermediary"}},
      {"no extended key usage", {.eku = nullptr, .san = "DNS:intermediary"}},
  };
  for (const auto& rc : cases) {
    SCOPED_TRACE(rc.name);
    auto s = TlsContext::server(pki.client_files("intermediary", rc.opts));
    ASSERT_TRUE(s.has_value()) << s.error();
    auto c = client_ctx("site-a");
    auto e = connect_pair(*s, c, "intermediary");
    EXPECT_EQ(e.hs.client, Status::Error);
    EXPECT_EQ(e.client->last_error(),
              "certificate verify failed: unsuitable certificate purpose (the intermediary's certificate must "
              "carry extended key usage serverAuth)");
    EXPECT_NE(e.hs.server, Status::Done);
  }
}

TEST_F(Tls, ServerCertificateOrNoUsageAsAClientIsRefused) {
  struct Case {
    const char* name;
    TlsFiles files;
  };
  const Case cases[] = {
      {"the relay's own certificate", pki.server_files()},
      {"serverAuth only", pki.client_files("site-x", {.eku = "serverAuth"})},
      {"no extended key usage", pki.client_files("site-x", {.eku = nullptr})},
  };
  for (const auto& rc : cases) {
    SCOPED_TRACE(rc.name);
    auto s = server_ctx();
    auto c = TlsContext::client(rc.files);
    ASSERT_TRUE(c.has_value()) << c.error();
    auto e = connect_pair(s, *c, "intermediary");
    EXPECT_EQ(e.hs.server, Status::Error);
    EXPECT_EQ(e.server->last_error(),
              "certificate verify failed: unsuitable certificate purpose (a site's certificate must carry "
              "extended key usage clientAuth)");
    EXPECT_EQ(e.server->peer_identity(), "");
    EXPECT_TRUE(client_sees_refusal(*e.client, e.hs.client));
  }
}

TEST_F(Tls, CertificateWithBothUsagesServesEitherEnd) {
  auto s = TlsContext::server(pki.client_files("intermediary", {.eku = "serverAuth,clientAuth", .san = "DNS:intermediary"}));
  ASSERT_TRUE(s.has_value()) << s.error();
  auto c = TlsContext::client(pki.client_files("site-a", {.eku = "clientAuth,serverAuth"}));
  ASSERT_TRUE(c.has_value()) << c.error();
  auto e = connect_pair(*s, *c, "intermediary");
  EXPECT_EQ(e.hs.client, Status::Done) << e.client->last_error();
  EXPECT_EQ(e.hs.server, Status::Done) << e.server->last_error();
  EXPECT_EQ(e.server->peer_identity(), "site-a");
}

TEST_F(Tls, GoodClientAcceptedWithCrl) {
  auto s = server_ctx(true);
  auto c = client_ctx("site-a");
  auto e = connect_pair(s, c, "intermediary");
  EXPECT_EQ(e.hs.server, Status::Done) << e.server->last_error();
  EXPECT_EQ(e.server->peer_identity(), "site-a");
}

TEST_F(Tls, ReloadCrlRefusesNextHandshakeEvenWithTicket) {
  auto s = server_ctx(true);
  auto c = client_ctx("site-b");
  auto first = connect_pair(s, c, "intermediary");
  ASSERT_EQ(first.hs.server, Status::Done) << first.server->last_error();
  server_says(first, "hello");
  ASSERT_TRUE(c.has_cached_session());

  pki.revoke("site-b");
  auto r = s.try_reload_crl();
  ASSERT_TRUE(r.has_value()) << r.error();
  // The established connection lives on.
  server_says(first, "still here");

  // The client still offers its ticket; the rotated ticket keys force a
  // full handshake, which checks the new CRL.
  auto second = connect_pair(s, c, "intermediary");
  EXPECT_EQ(second.hs.server, Status::Error);
  EXPECT_NE(second.server->last_error().find("certificate revoked"), std::string::npos)
      << second.server->last_error();
  EXPECT_TRUE(client_sees_refusal(*second.client, second.hs.client));
}

// SIGHUP's certificate renewal: the same paths re-read; new handshakes
// present the new certificate, a broken pair changes nothing.
TEST_F(Tls, ReloadCertificateFromTheSamePaths) {
  auto s = server_ctx();
  auto files = pki.client_files("site-b");
  auto c = TlsContext::client(files);
  ASSERT_TRUE(c.has_value()) << c.error();
  int64_t before = c->certificate_not_after();
  ASSERT_GT(before, 0);

  auto renewed = pki.client_files("site-b", {.valid_days = 90});
  namespace fs = std::filesystem;
  fs::copy_file(renewed.cert, files.cert, fs::copy_options::overwrite_existing);
  fs::copy_file(renewed.key, files.key, fs::copy_options::overwrite_existing);
  auto r = c->try_reload_certificate();
  ASSERT_TRUE(r.has_value()) << r.error();
  int64_t after = c->certificate_not_after();
  EXPECT_GT(after, before + 80 * 86400);
  auto e = connect_pair(s, *c, "intermediary");
  ASSERT_EQ(e.hs.server, Status::Done) << e.server->last_error();
  auto presented = certificate_not_after(SSL_get0_peer_certificate(e.server->native()));
  ASSERT_TRUE(presented.has_value());
  EXPECT_EQ(*presented, after) << "the server saw the renewed certificate";

  // A key that belongs to another certificate: refused, the pair in use stays.
  auto other = pki.client_files("site-b");
  fs::copy_file(other.key, files.key, fs::copy_options::overwrite_existing);
  auto bad = c->try_reload_certificate();
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().find(files.key), std::string::npos) << bad.error();
  EXPECT_EQ(c->certificate_not_after(), after);
  auto still = connect_pair(s, *c, "intermediary");
  EXPECT_EQ(still.hs.server, Status::Done) << still.server->last_error();
}

TEST_F(Tls, SessionResumption) {
  auto s = server_ctx();
  auto c = client_ctx("site-a");
  auto first = connect_pair(s, c, "intermediary");
  ASSERT_EQ(first.hs.client, Status::Done);
  ASSERT_EQ(first.hs.server, Status::Done);
  EXPECT_FALSE(first.client->session_reused());
  server_says(first, "tickets come first");
  ASSERT_TRUE(c.has_cached_session());

  auto second = connect_pair(s, c, "intermediary");
  ASSERT_EQ(second.hs.client, Status::Done) << second.client->last_error();
  ASSERT_EQ(second.hs.server, Status::Done) << second.server->last_error();
  EXPECT_TRUE(second.client->session_reused());
  EXPECT_TRUE(second.server->session_reused());
  EXPECT_EQ(second.server->peer_identity(), "site-a");  // kept in the ticket
}

// A link that dies (no close_notify: a roam, a dead NAT mapping) is when
// resumption matters most; freeing that connection must not spoil the ticket.
// Ticket keys as a ring: a context made later with the same ring (the
// intermediary after a restart, keys from its file) resumes the ticket; one
// rotation later it still does, with the previous key (and hands out a
// ticket under the new one); a ring without the ticket's key refuses it:
// the handshake is a full one.
TEST_F(Tls, TicketsResumeAcrossContextsAndOneRotation) {
  auto k1 = TlsContext::random_ticket_key();
  auto k2 = TlsContext::random_ticket_key();
  auto k3 = TlsContext::random_ticket_key();
  ASSERT_TRUE(k1 && k2 && k3);
  TicketKeyRing ring{*k1, std::nullopt, 1};
  auto before = server_ctx();
  ASSERT_TRUE(before.set_ticket_keys(ring).has_value());
  auto c = client_ctx("site-a");
  auto first = connect_pair(before, c, "intermediary");
  ASSERT_EQ(first.hs.server, Status::Done) << first.server->last_error();
  server_says(first, "ticket");
  ASSERT_TRUE(c.has_cached_session());

  struct Step {
    const char* what;
    TicketKeyRing ring;
    bool resumes;
  };
  auto rotated = ring.rotated(*k2, 2);
  const Step steps[] = {
      {"a new context with the same ring (a restart)", ring, true},
      {"one rotation: the ticket's key is the previous one", rotated, true},
      {"a ring without the ticket's key", TicketKeyRing{*k3, std::nullopt, 3}, false},
  };
  for (const auto& step : steps) {
    auto after = server_ctx();
    ASSERT_TRUE(after.set_ticket_keys(step.ring).has_value());
    auto e = connect_pair(after, c, "intermediary");
    ASSERT_EQ(e.hs.server, Status::Done) << step.what << ": " << e.server->last_error();
    EXPECT_EQ(e.server->session_reused(), step.resumes) << step.what;
    EXPECT_EQ(e.server->peer_identity(), "site-a") << step.what;
    server_says(e, "next ticket");
  }
}

// Every resumption hands out a fresh ticket, so a site that reconnects
// again and again (roaming, restarts) resumes every time, not every other.
TEST_F(Tls, ResumptionRepeats) {
  auto s = server_ctx();
  auto c = client_ctx("site-a");
  for (int i = 0; i < 4; ++i) {
    auto e = connect_pair(s, c, "intermediary");
    ASSERT_EQ(e.hs.server, Status::Done) << e.server->last_error();
    EXPECT_EQ(e.server->session_reused(), i > 0) << "connection " << i;
    server_says(e, "ticket");
  }
}

TEST_F(Tls, SessionResumesAfterAnUncleanClose) {
  auto s = server_ctx();
  auto c = client_ctx("site-a");
  {
    auto first = connect_pair(s, c, "intermediary");
    ASSERT_EQ(first.hs.client, Status::Done);
    server_says(first, "tickets come first");
    ASSERT_TRUE(c.has_cached_session());
    first.client.reset();  // freed without SSL_shutdown
    first.server.reset();
  }
  auto second = connect_pair(s, c, "intermediary");
  ASSERT_EQ(second.hs.client, Status::Done) << second.client->last_error();
  EXPECT_TRUE(second.client->session_reused());
}

// Connections offered the same remembered ticket (a site's uplinks, an
// attempt that fails): one that is freed uncleanly before it read a newer
// ticket must not spoil the one the context keeps for the next.
TEST_F(Tls, AnAttemptDroppedBeforeItsNewTicketDoesNotSpoilTheRemembered) {
  auto s = server_ctx();
  auto c = client_ctx("site-a");
  auto first = connect_pair(s, c, "intermediary");
  ASSERT_EQ(first.hs.client, Status::Done);
  server_says(first, "ticket");
  ASSERT_TRUE(c.has_cached_session());
  {
    auto dropped = connect_pair(s, c, "intermediary");
    ASSERT_EQ(dropped.hs.client, Status::Done) << dropped.client->last_error();
    EXPECT_TRUE(dropped.client->session_reused());
    dropped.client.reset();  // gone before reading its new ticket, without close_notify
    dropped.server.reset();
  }
  auto next = connect_pair(s, c, "intermediary");
  ASSERT_EQ(next.hs.client, Status::Done) << next.client->last_error();
  EXPECT_TRUE(next.client->session_reused()) << "the remembered ticket still resumes";
}

TEST_F(Tls, OneMebibyteEchoWithPartialWrites) {
  auto s = server_ctx();
  auto c = client_ctx("site-a");
  auto e = connect_pair(s, c, "intermediary", 16 * 1024);
  ASSERT_EQ(e.hs.client, Status::Done);
  ASSERT_EQ(e.hs.server, Status::Done);
  TlsConnection& cl = *e.client;
  TlsConnection& sv = *e.server;

  constexpr size_t kSize = 1 << 20;
  std::vector<uint8_t> data(kSize);
  for (size_t i = 0; i < kSize; ++i) data[i] = static_cast<uint8_t>((i * 131) ^ (i >> 11));
  std::vector<uint8_t> at_server, back;
  at_server.reserve(kSize);
  back.reserve(kSize);
  size_t sent = 0, echoed = 0;
  bool saw_partial = false;
  std::vector<uint8_t> buf(64 * 1024);

  auto deadline = Clock::now() + std::chrono::seconds(20);
  for (int i = 0; i < 100000 && back.size() < kSize && Clock::now() < deadline; ++i) {
    if (sent < kSize) {
      auto w = cl.write(std::span(data).subspan(sent));
      if (w) {
        if (*w < kSize - sent) saw_partial = true;
        sent += *w;
      } else {
        ASSERT_TRUE(w.error() == Status::WantWrite || w.error() == Status::WantRead) << cl.last_error();
        saw_partial = true;
      }
    }
    for (int k = 0; k < 16; ++k) {
      auto r = sv.read(buf);
      if (!r) {
        ASSERT_EQ(r.error(), Status::WantRead) << sv.last_error();
        break;
      }
      at_server.insert(at_server.end(), buf.begin(), buf.begin() + static_cast<long>(*r));
    }
    if (echoed < at_server.size()) {
      auto w = sv.write(std::span(at_server).subspan(echoed));
      if (w) echoed += *w;
      else ASSERT_TRUE(w.error() == Status::WantWrite || w.error() == Status::WantRead) << sv.last_error();
    }
    for (int k = 0; k < 16; ++k) {
      auto r = cl.read(buf);
      if (!r) {
        ASSERT_EQ(r.error(), Status::WantRead) << cl.last_error();
        break;
      }
      back.insert(back.end(), buf.begin(), buf.begin() + static_cast<long>(*r));
    }
    short cev = POLLIN | (sent < kSize ? POLLOUT : 0);
    short sev = POLLIN | (echoed < at_server.size() ? POLLOUT : 0);
    pollfd p[2] = {{cl.fd(), cev, 0}, {sv.fd(), sev, 0}};
    ::poll(p, 2, 10);
  }
  ASSERT_EQ(back.size(), kSize);
  EXPECT_TRUE(at_server == data);
  EXPECT_TRUE(back == data);
  EXPECT_TRUE(saw_partial);

  cl.shutdown();
  Status end = Status::WantRead;
  for (int i = 0; i < 200 && end == Status::WantRead; ++i) {
    auto r = sv.read(buf);
    ASSERT_FALSE(r.has_value());
    end = r.error();
    pollfd p{sv.fd(), POLLIN, 0};
    ::poll(&p, 1, 10);
  }
  EXPECT_EQ(end, Status::Closed);
}

// Waits (bounded) until `fd` has at least `bytes` unread bytes queued.
bool wait_readable_bytes(int fd, size_t bytes) {
  for (int i = 0; i < 1000; ++i) {
    int avail = 0;
    if (::ioctl(fd, FIONREAD, &avail) == 0 && static_cast<size_t>(avail) >= bytes) return true;
    ::poll(nullptr, 0, 2);  // readable already; Nagle may hold the rest back a little
  }
  return false;
}

void big_buffers(int fd) {
  int size = 4 << 20;  // root may exceed wmem_max/rmem_max; otherwise the caps apply
  if (::setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) != 0)
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
}

struct SyscallCase {
  const char* name;
  TlsIoMode mode;
  uint64_t min_sends, max_sends;  // for one 256 KiB write
  uint64_t min_recvs, max_recvs;  // to read it all back once it has arrived
};

TEST_F(Tls, BatchedWriteCostsFewSyscalls) {
  constexpr size_t kSize = 256 * 1024;
  // 16 records: PerRecord pays a send() each and two recv()s each (header,
  // body); Batched one send() and one recv() per 128 KiB of read buffer.
  const SyscallCase cases[] = {
      {"batched", TlsIoMode::Batched, 1, 2, 2, 5},
      {"per-record", TlsIoMode::PerRecord, 16, 40, 32, 80},
  };
  std::vector<uint8_t> data(kSize);
  for (size_t i = 0; i < kSize; ++i) data[i] = static_cast<uint8_t>(i * 7 + (i >> 9));
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.name);
    auto s = server_ctx();
    auto c = client_ctx("site-a");
    s.set_io_mode(tc.mode);
    c.set_io_mode(tc.mode);
    auto e = connect_pair(s, c, "intermediary");
    ASSERT_EQ(e.hs.client, Status::Done);
    ASSERT_EQ(e.hs.server, Status::Done);
    server_says(e, "tickets first");  // so only our data is in flight below
    big_buffers(e.client->fd());
    big_buffers(e.server->fd());

    TlsIoStats before = e.client->io_stats();
    size_t sent = 0;  // PerRecord writes return after each record
    for (int i = 0; i < 64 && sent < kSize; ++i) {
      auto w = e.client->write(std::span(data).subspan(sent));
      ASSERT_TRUE(w.has_value()) << to_string(w.error());
      sent += *w;
    }
    ASSERT_EQ(sent, kSize);
    uint64_t sends = e.client->io_stats().send_calls - before.send_calls;
    EXPECT_GE(sends, tc.min_sends);
    EXPECT_LE(sends, tc.max_sends);
    EXPECT_FALSE(e.client->has_pending_output());

    ASSERT_TRUE(wait_readable_bytes(e.server->fd(), kSize));
    TlsIoStats rbefore = e.server->io_stats();
    std::vector<uint8_t> got, buf(16 * 1024 + 256);  // the Channel's read room
    for (int i = 0; i < 1000 && got.size() < kSize; ++i) {
      auto r = e.server->read(buf);
      ASSERT_TRUE(r.has_value()) << to_string(r.error());
      got.insert(got.end(), buf.begin(), buf.begin() + static_cast<long>(*r));
    }
    EXPECT_TRUE(got == data);
    uint64_t recvs = e.server->io_stats().recv_calls - rbefore.recv_calls;
    EXPECT_GE(recvs, tc.min_recvs);
    EXPECT_LE(recvs, tc.max_recvs);
  }
}

// A write whose ciphertext does not fit the socket reports WantWrite; an
// empty write() drains the rest as the peer reads, and the retry with the
// same bytes then reports them all.
TEST_F(Tls, PendingCiphertextDrainsWithEmptyWrites) {
  auto s = server_ctx();
  auto c = client_ctx("site-a");
  auto e = connect_pair(s, c, "intermediary", 16 * 1024);
  ASSERT_EQ(e.hs.client, Status::Done);
  ASSERT_EQ(e.hs.server, Status::Done);
  std::vector<uint8_t> data(200 * 1024, 0x5a);
  auto w = e.client->write(data);
  ASSERT_FALSE(w.has_value());
  ASSERT_EQ(w.error(), Status::WantWrite);
  EXPECT_TRUE(e.client->has_pending_output());
  EXPECT_TRUE(e.client->wants_write());

  size_t got = 0;
  bool drained = false;
  std::vector<uint8_t> buf(64 * 1024);
  for (int i = 0; i < 2000 && got < data.size(); ++i) {
    if (!drained) {
      auto d = e.client->write({});
      if (d) {
        EXPECT_EQ(*d, 0u);
        drained = true;
        EXPECT_FALSE(e.client->has_pending_output());
      } else {
        ASSERT_EQ(d.error(), Status::WantWrite);
      }
    }
    for (;;) {
      auto r = e.server->read(buf);
      if (!r) {
        ASSERT_EQ(r.error(), Status::WantRead) << e.server->last_error();
        break;
      }
      got += *r;
    }
    pollfd p[2] = {{e.client->fd(), POLLOUT, 0}, {e.server->fd(), POLLIN, 0}};
    ::poll(p, 2, 10);
  }
  EXPECT_TRUE(drained);
  EXPECT_EQ(got, data.size());  // everything arrived before the retry reported it
  auto retry = e.client->write(data);
  ASSERT_TRUE(retry.has_value()) << to_string(retry.error());
  EXPECT_EQ(*retry, data.size());
}

// After the handshake TLS reads ahead: records can sit inside TLS while the
// socket has nothing left, which is what has_buffered_input() reports.
TEST_F(Tls, ReadAheadIsReportedAsBufferedInput) {
  auto s = server_ctx();
  auto c = client_ctx("site-a");
  auto e = connect_pair(s, c, "intermediary");
  ASSERT_EQ(e.hs.server, Status::Done);
  server_says(e, "tickets first");
  for (int i = 0; i < 3; ++i) {  // three separate records
    uint8_t msg[100] = {static_cast<uint8_t>(i)};
    ASSERT_TRUE(e.client->write(msg).has_value());
  }
  ASSERT_TRUE(wait_readable_bytes(e.server->fd(), 3 * 100));
  uint8_t buf[16 * 1024 + 256];
  auto r = e.server->read(buf);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, 100u);
  EXPECT_TRUE(e.server->has_buffered_input());
  pollfd p{e.server->fd(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 0), 0);  // epoll would not wake us for the rest
  ASSERT_TRUE(e.server->read(buf).has_value());
  ASSERT_TRUE(e.server->read(buf).has_value());
  EXPECT_FALSE(e.server->has_buffered_input());
  auto none = e.server->read(buf);
  ASSERT_FALSE(none.has_value());
  EXPECT_EQ(none.error(), Status::WantRead);
}

// A recv() that returned less than it asked for emptied the socket: the
// next read reports WantRead without a syscall (one futile recv() per
// wakeup saved), and only that one: new bytes are read normally.
TEST_F(Tls, ShortReadSkipsOnlyTheNextFutileRecv) {
  auto s = server_ctx();
  auto c = client_ctx("site-a");
  auto e = connect_pair(s, c, "intermediary");
  ASSERT_EQ(e.hs.server, Status::Done);
  server_says(e, "tickets first");
  uint8_t buf[16 * 1024 + 256];
  for (uint8_t round = 0; round < 3; ++round) {
    SCOPED_TRACE(round);
    uint8_t msg[100] = {round};
    ASSERT_TRUE(e.client->write(msg).has_value());
    ASSERT_TRUE(wait_readable_bytes(e.server->fd(), 100));
    auto r = e.server->read(buf);
    ASSERT_TRUE(r.has_value()) << e.server->last_error();
    EXPECT_EQ(*r, 100u);
    EXPECT_EQ(buf[0], round);
    uint64_t calls = e.server->io_stats().recv_calls;
    auto none = e.server->read(buf);
    ASSERT_FALSE(none.has_value());
    EXPECT_EQ(none.error(), Status::WantRead);
    EXPECT_EQ(e.server->io_stats().recv_calls, calls);
  }
}

TEST_F(Tls, ContextErrorsNameTheFile) {
  TlsFiles f = pki.server_files();
  f.cert = pki.dir() + "/missing.crt";
  auto s = TlsContext::server(f);
  ASSERT_FALSE(s.has_value());
  EXPECT_NE(s.error().find("missing.crt"), std::string::npos) << s.error();

  TlsFiles g = pki.server_files();
  g.crl = pki.dir() + "/missing.crl";
  auto t = TlsContext::server(g);
  ASSERT_FALSE(t.has_value());
  EXPECT_NE(t.error().find("missing.crl"), std::string::npos) << t.error();

  TlsFiles h = pki.server_files();
  h.key = pki.client_files("other").key;  // key of another certificate
  auto u = TlsContext::server(h);
  ASSERT_FALSE(u.has_value());
  EXPECT_NE(u.error().find(h.key), std::string::npos) << u.error();
  EXPECT_NE(u.error().find("mismatch"), std::string::npos) << u.error();
}

TEST_F(Tls, CertificateCn) {
  auto cn = TlsContext::certificate_cn(pki.server_files().cert);
  ASSERT_TRUE(cn.has_value()) << cn.error();
  EXPECT_EQ(*cn, "intermediary");
  EXPECT_EQ(*TlsContext::certificate_cn(pki.client_files("gw-b").cert), "gw-b");
  EXPECT_FALSE(TlsContext::certificate_cn(pki.dir() + "/nope.crt").has_value());
}

}  // namespace
}  // namespace dialout
