#include "netlib/datagram_keys.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <numeric>
#include <sstream>
#include <vector>

#include "netlib/datagram_record.hpp"
#include "tests/support/memory_tls_pair.hpp"
#include "tests/support/test_pki.hpp"

namespace dialout {
namespace {

using Bytes = std::vector<uint8_t>;
constexpr DatagramCipher kAes = DatagramCipher::Aes256Gcm;
constexpr DatagramCipher kChaCha = DatagramCipher::ChaCha20Poly1305;

template <class A>
Bytes bytes(const A& a) {
  return Bytes(a.begin(), a.end());
}
Bytes range(uint8_t from, size_t n) {
  Bytes b(n);
  std::iota(b.begin(), b.end(), from);
  return b;
}

TEST(DatagramKeys, ExporterContextLayout) {
  EXPECT_EQ(bytes(datagram_exporter_context(0x01020304, kAes)), (Bytes{1, 2, 3, 4, 1}));
  EXPECT_EQ(bytes(datagram_exporter_context(0, kChaCha)), (Bytes{0, 0, 0, 0, 2}));
  EXPECT_EQ(kDatagramExporterLabel, "EXPORTER-dialout-datagram");
}

// The split of the exported bytes, pinned: client->server key, server->
// client key, client->server IV, server->client IV.
TEST(DatagramKeys, SplitVectorsBothEndsAgreeOn) {
  std::array<uint8_t, kDatagramExportSize> material;
  std::iota(material.begin(), material.end(), uint8_t{0});
  auto client = datagram_keys_from_export(material, TlsRole::Client, 7, kAes);
  auto server = datagram_keys_from_export(material, TlsRole::Server, 7, kAes);
  EXPECT_EQ(bytes(client.send.key), range(0, 32));
  EXPECT_EQ(bytes(client.receive.key), range(32, 32));
  EXPECT_EQ(bytes(client.send.iv), range(64, 12));
  EXPECT_EQ(bytes(client.receive.iv), range(76, 12));
  EXPECT_EQ(server.send, client.receive);
  EXPECT_EQ(server.receive, client.send);
  EXPECT_EQ(client.epoch, 7u);
  EXPECT_EQ(client.cipher, kAes);
}

TEST(DatagramKeys, CipherNegotiation) {
  const uint8_t aes = cipher_bit(kAes), chacha = cipher_bit(kChaCha), both = kCipherBitsAll;
  struct Case {
    CipherOffer a, b;
    std::optional<DatagramCipher> chosen;
  };
  const Case cases[] = {
      {{both, true}, {both, true}, kAes},         // AES in hardware on both ends
      {{both, true}, {both, false}, kChaCha},     // one end without: ChaCha20 for both
      {{both, false}, {both, false}, kChaCha},
      {{aes, false}, {both, false}, kAes},        // only AES in common, slow or not
      {{both, true}, {chacha, true}, kChaCha},
      {{aes, true}, {chacha, true}, std::nullopt},  // nothing in common: no datagram path
      {{0, true}, {both, true}, std::nullopt},
      {{uint8_t(both | 0x80), true}, {uint8_t(both | 0x40), true}, kAes},  // unknown bits ignored
  };
  for (const auto& c : cases) {
    EXPECT_EQ(choose_datagram_cipher(c.a, c.b), c.chosen);
    EXPECT_EQ(choose_datagram_cipher(c.b, c.a), c.chosen) << "the rule must be symmetric";
  }
  // Symmetric over every pair of offers.
  for (unsigned a = 0; a < 8; ++a)
    for (unsigned b = 0; b < 8; ++b) {
      CipherOffer x{uint8_t(a & 3), (a & 4) != 0}, y{uint8_t(b & 3), (b & 4) != 0};
      EXPECT_EQ(choose_datagram_cipher(x, y), choose_datagram_cipher(y, x));
    }
}

TEST(DatagramKeys, AesDetectionMatchesTheKernel) {
#if defined(__x86_64__)
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  bool aes = false, pclmul = false;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line);
    for (std::string w; words >> w;) {
      aes |= w == "aes";
      pclmul |= w == "pclmulqdq";
    }
    break;
  }
  EXPECT_EQ(cpu_has_aes_acceleration(), aes && pclmul);
  EXPECT_EQ(local_cipher_offer(), (CipherOffer{kCipherBitsAll, aes && pclmul}));
#else
  GTEST_SKIP() << "checked against /proc/cpuinfo on x86-64 only";
#endif
}

TEST(DatagramKeys, EpochsOnTheWire) {
  struct Case {
    uint8_t wire;
    uint32_t current;
    std::optional<uint32_t> epoch;
  };
  const Case cases[] = {
      {0, 0, 0u},         {1, 0, 1u},           {0xff, 0, std::nullopt},  // no epoch before 0
      {0xff, 0x100, 0xffu}, {0x00, 0x100, 0x100u}, {0x01, 0x100, 0x101u},
      {0x02, 0x100, std::nullopt}, {0x7f, 0x100, std::nullopt},
      {0xff, UINT32_MAX, UINT32_MAX}, {0x00, UINT32_MAX, std::nullopt},  // no epoch after the last
      {0xfe, UINT32_MAX, UINT32_MAX - 1},
  };
  for (const auto& c : cases)
    EXPECT_EQ(epoch_from_wire(c.wire, c.current), c.epoch) << int(c.wire) << " around " << c.current;
  EXPECT_EQ(epoch_on_wire(0x12345678), 0x78);
}

struct TlsKeys : ::testing::Test {
  TestPki pki;
  TlsContext server_ctx = make(TlsContext::server(pki.server_files()));
  TlsContext client_ctx = make(TlsContext::client(pki.client_files("site-a")));

  static TlsContext make(Expected<TlsContext, std::string> c) {
    if (!c) throw std::runtime_error(c.error());
    return std::move(*c);
  }
  MemoryTlsPair connect(const std::string& suites = {}, SSL_SESSION* resume = nullptr) {
    auto p = MemoryTlsPair::connect(client_ctx, server_ctx, suites, resume);
    if (!p) throw std::runtime_error(p.error());
    return std::move(*p);
  }
  static DatagramKeys keys(SSL* ssl, uint32_t epoch, DatagramCipher c) {
    auto k = export_datagram_keys(ssl, epoch, c);
    EXPECT_TRUE(k.has_value()) << (k ? "" : k.error());
    return k ? *k : DatagramKeys{};
  }
};

// Both ends of a real TLS 1.3 session derive matching keys, whichever TLS
// suite the session uses and whichever datagram cipher was chosen; and a
// record sealed on one end opens on the other, in both directions.
TEST_F(TlsKeys, BothEndsAgreeOverRealTls13) {
  for (const char* suite : {"TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256"}) {
    auto pair = connect(suite);
    ASSERT_EQ(SSL_version(pair.client.get()), TLS1_3_VERSION);
    for (auto cipher : {kAes, kChaCha}) {
      SCOPED_TRACE(std::string(suite) + " / " + to_string(cipher));
      auto site = keys(pair.client.get(), 0, cipher);
      auto relay = keys(pair.server.get(), 0, cipher);
      EXPECT_EQ(site.send, relay.receive);
      EXPECT_EQ(site.receive, relay.send);
      EXPECT_NE(site.send, site.receive);  // the directions never share a key

      for (auto [from, to] : {std::pair{&site, &relay}, std::pair{&relay, &site}}) {
        auto s = RecordSealer::make(cipher, from->send, 0, 42);
        auto o = RecordOpener::make(cipher, to->receive, 0);
        ASSERT_TRUE(s && o);
        Bytes record(kRecordOverhead + kMinProbeBody, 0);
        ASSERT_TRUE(s->seal(RecordType::Probe, record, kMinProbeBody).has_value());
        auto v = decode_record(record);
        ASSERT_TRUE(v.has_value());
        EXPECT_TRUE(o->open(*v, std::span(record).subspan(kRecordHeaderSize, kMinProbeBody)).has_value());
      }
    }
  }
}

TEST_F(TlsKeys, EverySessionEpochAndCipherHasItsOwnKeys) {
  auto first = connect();
  auto ticket = first.client_session();
  ASSERT_TRUE(ticket);
  auto second = connect();
  auto resumed = connect({}, ticket.get());
  ASSERT_EQ(SSL_session_reused(resumed.client.get()), 1) << "the ticket was not used";

  std::vector<DirectionKey> seen;
  auto add = [&](const DatagramKeys& k) {
    for (const auto* d : {&k.send, &k.receive}) {
      for (const auto& s : seen) EXPECT_NE(s, *d);
      seen.push_back(*d);
    }
  };
  for (auto* pair : {&first, &second, &resumed})
    for (uint32_t epoch : {0u, 1u, 256u})
      for (auto cipher : {kAes, kChaCha}) add(keys(pair->client.get(), epoch, cipher));
  EXPECT_EQ(seen.size(), 3u * 3u * 2u * 2u);
  // And it is a derivation, not a draw: the same inputs give the same keys.
  EXPECT_EQ(keys(first.client.get(), 1, kAes).send, keys(first.client.get(), 1, kAes).send);
}

TEST_F(TlsKeys, RefusesAnUnfinishedSession) {
  MemoryTlsPair::SslPtr fresh(SSL_new(client_ctx.native()));
  auto k = export_datagram_keys(fresh.get(), 0, kAes);
  ASSERT_FALSE(k.has_value());
  EXPECT_NE(k.error().find("not finished"), std::string::npos);
  EXPECT_FALSE(export_datagram_keys(nullptr, 0, kAes).has_value());
}

}  // namespace
}  // namespace dialout
