#include "netlib/datagram_record.hpp"

#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "tests/support/openssl_allocations.hpp"

namespace dialout {
namespace {

using Bytes = std::vector<uint8_t>;
constexpr DatagramCipher kCiphers[] = {DatagramCipher::Aes256Gcm, DatagramCipher::ChaCha20Poly1305};

DirectionKey test_key(uint8_t key_start = 0x00, uint8_t iv_start = 0xa0) {
  DirectionKey k;
  std::iota(k.key.begin(), k.key.end(), key_start);
  std::iota(k.iv.begin(), k.iv.end(), iv_start);
  return k;
}

RecordSealer sealer(DatagramCipher c, const DirectionKey& k = test_key(), uint32_t epoch = 3,
                    uint32_t receiver = 0x01020304, const AeadLimits& limits = {}) {
  auto s = RecordSealer::make(c, k, epoch, receiver, limits);
  EXPECT_TRUE(s.has_value());
  return std::move(*s);
}

RecordOpener opener(DatagramCipher c, const DirectionKey& k = test_key()) {
  auto o = RecordOpener::make(c, k, 3);
  EXPECT_TRUE(o.has_value());
  return std::move(*o);
}

// A whole record of `type` with `body` (copied into place), sealed.
Bytes seal(RecordSealer& s, RecordType type, const Bytes& body) {
  Bytes record(kRecordOverhead + body.size());
  std::copy(body.begin(), body.end(), record.begin() + kRecordHeaderSize);
  auto n = s.seal(type, record, body.size());
  EXPECT_TRUE(n.has_value()) << (n ? "" : to_string(n.error()));
  return record;
}

// Decodes and opens in place; the plaintext body, or nothing.
std::optional<Bytes> open(RecordOpener& o, Bytes record) {
  auto v = decode_record(record);
  if (!v) return std::nullopt;
  std::span<uint8_t> body(record.data() + kRecordHeaderSize, record.size() - kRecordOverhead);
  auto plain = o.open(*v, body);
  if (!plain) return std::nullopt;
  return Bytes(plain->begin(), plain->end());
}

Bytes probe_body() { return {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0, 0, 0, 0}; }

Bytes data_body(size_t packet_bytes) {
  Bytes b(kDataHeaderSize + packet_bytes);
  write_data_body_header(std::span(b).first<kDataHeaderSize>(), DataHeader{7, 0, 0});
  for (size_t i = kDataHeaderSize; i < b.size(); ++i) b[i] = uint8_t(i * 13);
  return b;
}

TEST(DatagramRecord, GoldenHeaderAndBodies) {
  Bytes header(kRecordHeaderSize);
  write_record_header(std::span(header).first<kRecordHeaderSize>(),
                      RecordHeader{RecordType::Probe, 0x81, 0xdeadbeef, 0x0102030405060708});
  EXPECT_EQ(header, (Bytes{0x03, 0x81, 0, 0, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8}));

  Bytes reply(kProbeReplyBodySize);
  write_probe_reply(std::span(reply).first<kProbeReplyBodySize>(), ProbeReply{0x1122334455667788, 1452});
  EXPECT_EQ(reply, (Bytes{0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x05, 0xac}));
  EXPECT_EQ(*decode_probe_reply(reply), (ProbeReply{0x1122334455667788, 1452}));

  Bytes probe(12, 0xff);
  write_probe_body(probe, 0x1122334455667788);
  EXPECT_EQ(probe, probe_body());
  EXPECT_EQ(*decode_probe_body(probe), 0x1122334455667788u);

  Bytes data(kDataHeaderSize);
  write_data_body_header(std::span(data).first<kDataHeaderSize>(), DataHeader{0x0a0b0c0d, 0x01020304, kDataVnet});
  EXPECT_EQ(data, (Bytes{0x0a, 0x0b, 0x0c, 0x0d, 1, 2, 3, 4, kDataVnet, 0}));
}

TEST(DatagramRecord, NonceIsIvXorCounter) {
  auto k = test_key();
  auto n = record_nonce(k.iv, 0x0102030405060708);
  EXPECT_EQ(Bytes(n.begin(), n.end()),
            (Bytes{0xa0, 0xa1, 0xa2, 0xa3, 0xa4 ^ 1, 0xa5 ^ 2, 0xa6 ^ 3, 0xa7 ^ 4, 0xa8 ^ 5, 0xa9 ^ 6, 0xaa ^ 7,
                   0xab ^ 8}));
}

// Known answers computed independently (Python `cryptography`): key
// 00..1f, IV a0..ab, epoch 3, receiver 01020304, counter 5, a PROBE with
// token 1122334455667788 and 4 bytes of padding.
const Bytes kGoldenProbe[] = {
    {0x03, 0x03, 0x00, 0x00, 0x01, 0x02, 0x03, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0xdf,
     0xd8, 0x37, 0xb5, 0x7f, 0x10, 0xa1, 0xa2, 0x9d, 0x0f, 0xaa, 0x1e, 0x10, 0x6b, 0xab, 0x4d, 0x4f, 0x02,
     0x26, 0xee, 0x94, 0xa3, 0x8c, 0xf6, 0x2e, 0x33, 0x54, 0x01},
    {0x03, 0x03, 0x00, 0x00, 0x01, 0x02, 0x03, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0xa1,
     0xf7, 0x2f, 0xf8, 0x91, 0xdd, 0x03, 0x77, 0x21, 0x3b, 0x79, 0x2f, 0xef, 0xa0, 0x51, 0xd2, 0x5b, 0x3c,
     0xae, 0x89, 0x15, 0x4e, 0xbf, 0x14, 0x3e, 0x9a, 0xb0, 0xf8},
};
// Same key, a KEEPALIVE with epoch byte 0x81, receiver deadbeef, counter 0102030405060708.
const Bytes kGoldenKeepalive[] = {
    {0x02, 0x81, 0x00, 0x00, 0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
     0x07, 0x68, 0xf2, 0x53, 0xb1, 0x5f, 0x4d, 0xb2, 0x63, 0xb6, 0x54, 0x99, 0x8b, 0x46, 0xb1, 0xed},
    {0x02, 0x81, 0x00, 0x00, 0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
     0x6a, 0xd1, 0xaa, 0x53, 0xcd, 0x38, 0xb4, 0xc7, 0xcb, 0xa3, 0x5e, 0x77, 0x0a, 0x3e, 0x06, 0xe1},
};

TEST(DatagramRecord, GoldenSealedRecords) {
  for (size_t i = 0; i < 2; ++i) {
    SCOPED_TRACE(to_string(kCiphers[i]));
    auto s = sealer(kCiphers[i]);
    for (int n = 0; n < 5; ++n) seal(s, RecordType::Keepalive, {});  // counters 0..4
    EXPECT_EQ(seal(s, RecordType::Probe, probe_body()), kGoldenProbe[i]);
    EXPECT_EQ(s.next_counter(), 6u);

    auto o = opener(kCiphers[i]);
    EXPECT_EQ(open(o, kGoldenProbe[i]), probe_body());
    EXPECT_EQ(open(o, kGoldenKeepalive[i]), Bytes{});
    auto v = decode_record(kGoldenKeepalive[i]);
    ASSERT_TRUE(v.has_value());
    EXPECT_EQ(v->header, (RecordHeader{RecordType::Keepalive, 0x81, 0xdeadbeef, 0x0102030405060708}));
    EXPECT_EQ(o.auth_failures(), 0u);
  }
}

TEST(DatagramRecord, RoundTripEveryTypeInPlace) {
  Bytes reply(kProbeReplyBodySize);
  write_probe_reply(std::span(reply).first<kProbeReplyBodySize>(), ProbeReply{9, 1200});
  const std::pair<RecordType, Bytes> cases[] = {
      {RecordType::Keepalive, {}},
      {RecordType::Probe, probe_body()},
      {RecordType::Probe, Bytes(1172, 0)},
      {RecordType::ProbeReply, reply},
      {RecordType::Data, data_body(1)},
      {RecordType::Data, data_body(1400)},
      {RecordType::Data, data_body(kMaxRecordBody - kDataHeaderSize)},
  };
  for (auto c : kCiphers) {
    auto s = sealer(c);
    auto o = opener(c);
    uint64_t counter = 0;
    for (const auto& [type, body] : cases) {
      SCOPED_TRACE(std::string(to_string(c)) + " " + to_string(type) + " " + std::to_string(body.size()));
      Bytes record = seal(s, type, body);
      ASSERT_EQ(record.size(), kRecordOverhead + body.size());
      auto v = decode_record(record);
      ASSERT_TRUE(v.has_value());
      EXPECT_EQ(v->header, (RecordHeader{type, 3, 0x01020304, counter++}));
      if (body.size() >= 16) {  // the body really is encrypted
        EXPECT_NE(Bytes(v->body().begin(), v->body().end()), body);
      }
      EXPECT_EQ(open(o, record), body);
    }
  }
}

TEST(DatagramRecord, DecodeRefusesMalformedInput) {
  auto s = sealer(DatagramCipher::Aes256Gcm);
  const Bytes good = seal(s, RecordType::Probe, probe_body());
  auto with = [&](size_t at, uint8_t value) {
    Bytes b = good;
    b[at] = value;
    return b;
  };
  Bytes counter_max = good;
  std::fill(counter_max.begin() + 8, counter_max.begin() + 16, 0xff);
  auto sized = [](RecordType t, size_t body) {
    Bytes b(kRecordOverhead + body, 0);
    b[0] = uint8_t(t);
    b[7] = 1;
    return b;
  };
  const std::tuple<const char*, Bytes, RecordError> cases[] = {
      {"empty", {}, RecordError::Truncated},
      {"header only", Bytes(good.begin(), good.begin() + 16), RecordError::Truncated},
      {"31 bytes", Bytes(good.begin(), good.begin() + 31), RecordError::Truncated},
      {"one byte over the maximum", Bytes(kMaxRecordSize + 1, 0), RecordError::Oversized},
      {"oversized with a bad header", Bytes(70000, 0xff), RecordError::Oversized},
      {"type 0", with(0, 0x00), RecordError::UnknownType},
      {"type 5", with(0, 0x05), RecordError::UnknownType},
      {"type 0x41 (QUIC-like)", with(0, 0x41), RecordError::UnknownType},
      {"type 0xff", with(0, 0xff), RecordError::UnknownType},
      {"reserved byte 2", with(2, 1), RecordError::BadReserved},
      {"reserved byte 3", with(3, 0x80), RecordError::BadReserved},
      {"receiver 0", [&] { Bytes b = good; std::fill(b.begin() + 4, b.begin() + 8, 0); return b; }(),
       RecordError::ZeroReceiver},
      {"counter 2^64-1", counter_max, RecordError::CounterExhausted},
      {"keepalive with a body", sized(RecordType::Keepalive, 1), RecordError::BadBodyLength},
      {"probe without a whole token", sized(RecordType::Probe, 7), RecordError::BadBodyLength},
      {"probe smaller than its reply", sized(RecordType::Probe, 9), RecordError::BadBodyLength},
      {"probe reply of 9", sized(RecordType::ProbeReply, 9), RecordError::BadBodyLength},
      {"probe reply of 11", sized(RecordType::ProbeReply, 11), RecordError::BadBodyLength},
      {"data with only the header", sized(RecordType::Data, kDataHeaderSize), RecordError::BadBodyLength},
      {"empty data", sized(RecordType::Data, 0), RecordError::BadBodyLength},
  };
  for (const auto& [name, bytes, error] : cases) {
    auto v = decode_record(bytes);
    ASSERT_FALSE(v.has_value()) << name;
    EXPECT_EQ(v.error(), error) << name << ": " << to_string(v.error());
  }
  // The largest record and the smallest of each type decode.
  EXPECT_TRUE(decode_record(sized(RecordType::Data, kMaxRecordBody)).has_value());
  EXPECT_TRUE(decode_record(sized(RecordType::Probe, kMaxRecordBody)).has_value());
  EXPECT_TRUE(decode_record(sized(RecordType::Keepalive, 0)).has_value());
  EXPECT_TRUE(decode_record(sized(RecordType::Probe, 10)).has_value());
  EXPECT_TRUE(decode_record(sized(RecordType::ProbeReply, 10)).has_value());
  EXPECT_TRUE(decode_record(sized(RecordType::Data, kDataHeaderSize + 1)).has_value());
}

TEST(DatagramRecord, BodyDecodersAreStrict) {
  Bytes padded = probe_body();
  padded.back() = 1;
  EXPECT_EQ(decode_probe_body(padded).error(), RecordError::BadPadding);
  EXPECT_EQ(decode_probe_body(Bytes(9, 0)).error(), RecordError::BadBodyLength);
  EXPECT_EQ(decode_probe_reply(Bytes(9, 0)).error(), RecordError::BadBodyLength);
  EXPECT_EQ(decode_probe_reply(Bytes(11, 0)).error(), RecordError::BadBodyLength);
}

TEST(DatagramRecord, EveryTamperedByteIsRefused) {
  for (auto c : kCiphers) {
    auto s = sealer(c);
    auto o = opener(c);
    const Bytes good = seal(s, RecordType::Data, data_body(40));
    ASSERT_TRUE(open(o, good).has_value());
    for (size_t i = 0; i < good.size(); ++i) {
      for (uint8_t flip : {uint8_t{0x01}, uint8_t{0x80}}) {
        Bytes bad = good;
        bad[i] ^= flip;
        EXPECT_FALSE(open(o, bad).has_value()) << to_string(c) << " byte " << i << " ^ " << int(flip);
      }
    }
    // Every shorter prefix, and the record with a byte appended, is refused too.
    for (size_t n = 0; n < good.size(); ++n)
      EXPECT_FALSE(open(o, Bytes(good.begin(), good.begin() + n)).has_value()) << n;
    Bytes longer = good;
    longer.push_back(0);
    EXPECT_FALSE(open(o, longer).has_value());
    EXPECT_TRUE(open(o, good).has_value());  // the key still works after all that
  }
}

TEST(DatagramRecord, WrongKeyOrDirectionIsRefusedAndCounted) {
  for (auto c : kCiphers) {
    auto s = sealer(c);
    const Bytes record = seal(s, RecordType::Probe, probe_body());
    auto other_key = opener(c, test_key(0x01));
    auto other_iv = opener(c, test_key(0x00, 0xb0));
    auto other_cipher = opener(c == DatagramCipher::Aes256Gcm ? DatagramCipher::ChaCha20Poly1305
                                                              : DatagramCipher::Aes256Gcm);
    for (auto* o : {&other_key, &other_iv, &other_cipher}) {
      EXPECT_FALSE(open(*o, record).has_value());
      EXPECT_EQ(o->auth_failures(), 1u);
    }
  }
}

TEST(DatagramRecord, SealerRefusesWhatCannotBeSent) {
  auto s = sealer(DatagramCipher::Aes256Gcm);
  Bytes buf(kRecordOverhead + 64);
  EXPECT_EQ(s.seal(RecordType::Keepalive, buf, 1).error(), SealError::BadBody);
  EXPECT_EQ(s.seal(RecordType::Probe, buf, 9).error(), SealError::BadBody);
  EXPECT_EQ(s.seal(RecordType::ProbeReply, buf, 11).error(), SealError::BadBody);
  EXPECT_EQ(s.seal(RecordType::Data, buf, kDataHeaderSize).error(), SealError::BadBody);
  EXPECT_EQ(s.seal(RecordType::Data, buf, kMaxRecordBody + 1).error(), SealError::BadBody);
  EXPECT_EQ(s.seal(RecordType::Probe, buf, 65).error(), SealError::NoRoom);
  EXPECT_EQ(s.next_counter(), 0u);  // refusals before sealing use no counter
  EXPECT_FALSE(RecordSealer::make(DatagramCipher::Aes256Gcm, test_key(), 0, 0).has_value());
  EXPECT_FALSE(RecordSealer::make(DatagramCipher(9), test_key(), 0, 1).has_value());
}

TEST(DatagramRecord, SealerStopsAtTheHardLimit) {
  AeadLimits limits;
  limits.max_records = 3;
  auto s = sealer(DatagramCipher::ChaCha20Poly1305, test_key(), 3, 1, limits);
  Bytes buf(kRecordOverhead);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(s.seal(RecordType::Keepalive, buf, 0).has_value());
  EXPECT_EQ(s.seal(RecordType::Keepalive, buf, 0).error(), SealError::KeyExhausted);
  EXPECT_EQ(s.next_counter(), 3u);

  limits = AeadLimits{};
  limits.max_blocks = 10;  // a keepalive costs 1 block, a 64-byte probe 5
  auto b = sealer(DatagramCipher::Aes256Gcm, test_key(), 3, 1, limits);
  Bytes probe(kRecordOverhead + 64);
  EXPECT_TRUE(b.seal(RecordType::Probe, probe, 64).has_value());
  EXPECT_TRUE(b.seal(RecordType::Probe, probe, 64).has_value());
  EXPECT_EQ(b.seal(RecordType::Keepalive, buf, 0).error(), SealError::KeyExhausted);
  EXPECT_EQ(b.usage().blocks, 10u);
}

// Sealing and opening reuse the keyed contexts; neither a good nor a
// forged record makes OpenSSL allocate.
TEST(DatagramRecord, SealAndOpenAllocateNothing) {
  if (!openssl_allocations::installed()) GTEST_SKIP() << "OpenSSL allocated before the counting hook";
  for (auto c : kCiphers) {
    auto s = sealer(c);
    auto o = opener(c);
    Bytes record(kRecordOverhead + 1400);
    auto forged = record;
    forged[0] = uint8_t(RecordType::Probe);
    forged[7] = 1;
    seal(s, RecordType::Probe, Bytes(1400, 0));  // warm up: first use may set up lazily
    uint64_t before = openssl_allocations::count();
    for (int i = 0; i < 100; ++i) {
      auto n = s.seal(RecordType::Probe, record, 1400);
      ASSERT_TRUE(n.has_value());
      auto v = decode_record(record);
      ASSERT_TRUE(v.has_value());
      ASSERT_TRUE(o.open(*v, std::span(record).subspan(kRecordHeaderSize, 1400)).has_value());
      auto f = decode_record(forged);
      ASSERT_TRUE(f.has_value());
      ASSERT_FALSE(o.open(*f, std::span(forged).subspan(kRecordHeaderSize, 1400)).has_value());
    }
    EXPECT_EQ(openssl_allocations::count(), before) << to_string(c);
  }
}

}  // namespace
}  // namespace dialout
