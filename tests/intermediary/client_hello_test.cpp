#include "intermediary/client_hello.hpp"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/ssl.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "netlib/alpn.hpp"

namespace dialout {
namespace {

using Bytes = std::string;  // binary, as std::string for easy building

Bytes u16(size_t v) { return {static_cast<char>(v >> 8), static_cast<char>(v & 0xff)}; }
Bytes u24(size_t v) { return {static_cast<char>(v >> 16), static_cast<char>((v >> 8) & 0xff), static_cast<char>(v & 0xff)}; }
Bytes u8(size_t v) { return {static_cast<char>(v)}; }

Bytes ext(uint16_t type, const Bytes& body) { return u16(type) + u16(body.size()) + body; }
Bytes alpn_ext(const std::vector<std::string>& names) {
  Bytes list;
  for (const auto& n : names) list += u8(n.size()) + n;
  return ext(16, u16(list.size()) + list);
}
Bytes sni_ext(const std::string& name) {
  const Bytes entry = u8(0) + u16(name.size()) + name;
  return ext(0, u16(entry.size()) + entry);
}

struct HelloSpec {
  Bytes legacy_version = "\x03\x03";
  Bytes session_id = Bytes(32, 's');
  Bytes cipher_suites = Bytes("\x13\x01\x13\x02\x00\xff", 6);
  Bytes compression = Bytes(1, '\0');
  std::vector<Bytes> extensions;
  bool no_extensions_block = false;
  Bytes raw_tail;  // appended as is after the extensions block
};

// Handshake header + ClientHello body.
Bytes message(const HelloSpec& s) {
  Bytes body = s.legacy_version + Bytes(32, 'r') + u8(s.session_id.size()) + s.session_id +
               u16(s.cipher_suites.size()) + s.cipher_suites + u8(s.compression.size()) + s.compression;
  if (!s.no_extensions_block) {
    Bytes all;
    for (const auto& e : s.extensions) all += e;
    body += u16(all.size()) + all;
  }
  body += s.raw_tail;
  return u8(1) + u24(body.size()) + body;
}

// Wraps a handshake message in records of at most `record_size` bytes.
Bytes records(const Bytes& msg, size_t record_size = 16384, const Bytes& version = "\x03\x01") {
  Bytes out;
  for (size_t pos = 0; pos < msg.size(); pos += record_size) {
    const Bytes part = msg.substr(pos, record_size);
    out += u8(22) + version + u16(part.size()) + part;
  }
  return out;
}

HelloPeek peek(const Bytes& b) {
  return peek_client_hello({reinterpret_cast<const uint8_t*>(b.data()), b.size()});
}

HelloSpec site_hello() {
  HelloSpec s;
  s.extensions = {sni_ext("relay.example.net"), alpn_ext({"h2", std::string(kAlpnProtocol)})};
  return s;
}

// A ClientHello as OpenSSL writes it, captured from a memory BIO.
Bytes openssl_client_hello(const std::vector<std::string>& alpn, const char* sni) {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  if (!ctx) return {};
  Bytes wire;
  for (const auto& p : alpn) wire += u8(p.size()) + p;
  if (!wire.empty() &&
      SSL_CTX_set_alpn_protos(ctx.get(), reinterpret_cast<const unsigned char*>(wire.data()), wire.size()) != 0) {
    return {};
  }
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), SSL_free);
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl.get(), in, out);  // ssl owns both from here
  if (sni) SSL_set_tlsext_host_name(ssl.get(), sni);
  SSL_set_connect_state(ssl.get());
  (void)SSL_do_handshake(ssl.get());  // writes the ClientHello, then wants to read
  char* data = nullptr;
  const long n = BIO_get_mem_data(out, &data);
  return n > 0 ? Bytes(data, static_cast<size_t>(n)) : Bytes();
}

TEST(ClientHelloTest, AlpnIdIsTheWireListOfOne) {
  EXPECT_EQ(kAlpnProtocol, "dialout/1");
  EXPECT_EQ(kAlpnWireList[0], kAlpnProtocol.size());
  EXPECT_EQ(Bytes(kAlpnWireList.begin() + 1, kAlpnWireList.end()), kAlpnProtocol);
}

TEST(ClientHelloTest, OpenSslHelloWithOurAlpnAndSni) {
  const Bytes hello = openssl_client_hello({"dialout/1"}, "relay.example.net");
  ASSERT_GT(hello.size(), 100u);
  const HelloPeek p = peek(hello);
  EXPECT_EQ(p.verdict, HelloVerdict::TlsWithAlpn) << p.error;
  EXPECT_EQ(p.server_name, "relay.example.net");
  EXPECT_EQ(p.hello_bytes, hello.size());
}

TEST(ClientHelloTest, OpenSslHelloWithOtherOrNoAlpn) {
  for (const auto& alpn : std::vector<std::vector<std::string>>{{}, {"h2", "http/1.1"}, {"dialout/10"}, {"DIALOUT/1"}}) {
    const HelloPeek p = peek(openssl_client_hello(alpn, "www.example.net"));
    EXPECT_EQ(p.verdict, HelloVerdict::TlsWithoutAlpn) << p.error;
    EXPECT_EQ(p.server_name, "www.example.net");
  }
  const HelloPeek no_sni = peek(openssl_client_hello({"http/1.1", "dialout/1"}, nullptr));
  EXPECT_EQ(no_sni.verdict, HelloVerdict::TlsWithAlpn) << no_sni.error;
  EXPECT_EQ(no_sni.server_name, "");
}

TEST(ClientHelloTest, TruncatedAtEveryByteNeedsMore) {
  const Bytes hello = openssl_client_hello({"dialout/1"}, "relay.example.net");
  const Bytes split = records(hello.substr(5), 7);
  for (const Bytes* b : {&hello, &split}) {
    for (size_t n = 0; n < b->size(); ++n) {
      const HelloPeek p = peek(b->substr(0, n));
      ASSERT_EQ(p.verdict, HelloVerdict::NeedMore) << "at " << n << ": " << p.error;
    }
    EXPECT_EQ(peek(*b).verdict, HelloVerdict::TlsWithAlpn);
  }
}

TEST(ClientHelloTest, ReassembledAcrossRecords) {
  const Bytes msg = openssl_client_hello({"dialout/1"}, "relay.example.net").substr(5);
  for (size_t size : {1, 2, 3, 4, 5, 100, 511}) {
    const Bytes b = records(msg, size);
    const HelloPeek p = peek(b);
    EXPECT_EQ(p.verdict, HelloVerdict::TlsWithAlpn) << size << ": " << p.error;
    EXPECT_EQ(p.server_name, "relay.example.net");
    EXPECT_EQ(p.hello_bytes, b.size());
  }
}

TEST(ClientHelloTest, WhatFollowsTheHelloIsNotLookedAt) {
  const Bytes hello = records(message(site_hello()));
  const Bytes ccs = Bytes("\x14\x03\x03\x00\x01\x01", 6);
  for (const Bytes& after : {ccs, Bytes(20000, '\xee')}) {
    const HelloPeek p = peek(hello + after);
    EXPECT_EQ(p.verdict, HelloVerdict::TlsWithAlpn) << p.error;
    EXPECT_EQ(p.hello_bytes, hello.size());
  }
}

TEST(ClientHelloTest, NotTls) {
  for (const Bytes& b : {Bytes("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), Bytes("SSH-2.0-OpenSSH_9.2\r\n"),
                         Bytes("\x80\x2e\x01\x00\x02", 5), Bytes("\x16\x01", 2), Bytes("\x17\x03\x03", 3)}) {
    const HelloPeek p = peek(b);
    EXPECT_EQ(p.verdict, HelloVerdict::NotTls) << b;
    EXPECT_NE(p.error.find("not a TLS handshake"), std::string::npos);
  }
  EXPECT_EQ(peek("").verdict, HelloVerdict::NeedMore);
  EXPECT_EQ(peek("\x16").verdict, HelloVerdict::NeedMore);
}

struct Bad {
  const char* name;
  Bytes bytes;
  HelloVerdict verdict;
  const char* why;
};

std::vector<Bad> bad_hellos() {
  const Bytes good = message(site_hello());
  auto with = [](auto change) {
    HelloSpec s = site_hello();
    change(s);
    return records(message(s));
  };
  const Bytes sni_entry = u8(0) + u16(4) + "abcd";
  return {
      {"trailing byte in the record", records(good + "x"), HelloVerdict::Malformed, "ends 1 bytes before the record does"},
      {"second record not handshake", records(good.substr(0, 50)) + u8(23) + "\x03\x03" + u16(good.size() - 50) +
                                          good.substr(50),
       HelloVerdict::Malformed, "record 2 at byte 55: content type 23"},
      {"empty record", u8(22) + "\x03\x01" + u16(0) + records(good), HelloVerdict::Malformed, "length 0 is not"},
      {"record over 2^14", u8(22) + "\x03\x01" + u16(16385), HelloVerdict::Malformed, "length 16385"},
      {"record version 3.0", records(good, 16384, Bytes("\x03\x00", 2)), HelloVerdict::Malformed, "version 3.0"},
      {"record version 3.4", records(good, 16384, "\x03\x04"), HelloVerdict::Malformed, "version 3.4"},
      {"ServerHello", records(u8(2) + good.substr(1)), HelloVerdict::Malformed, "handshake type 2"},
      {"huge declared length", u8(22) + "\x03\x01" + u16(100) + u8(1) + u24(0xffffff), HelloVerdict::Oversized,
       "exceeds the bound"},
      {"empty body", records(u8(1) + u24(0)), HelloVerdict::Malformed, "legacy_version"},
      {"legacy_version 3.4", with([](HelloSpec& s) { s.legacy_version = "\x03\x04"; }), HelloVerdict::Malformed,
       "legacy_version 3.4"},
      {"session id of 33", with([](HelloSpec& s) { s.session_id = Bytes(33, 's'); }), HelloVerdict::Malformed,
       "legacy_session_id"},
      {"odd cipher suites", with([](HelloSpec& s) { s.cipher_suites = "\x13\x01\x13"; }), HelloVerdict::Malformed,
       "cipher_suites"},
      {"no cipher suites", with([](HelloSpec& s) { s.cipher_suites = ""; }), HelloVerdict::Malformed, "cipher_suites"},
      {"no compression method", with([](HelloSpec& s) { s.compression = ""; }), HelloVerdict::Malformed,
       "legacy_compression_methods"},
      {"extensions block longer than the message", with([](HelloSpec& s) {
         s.no_extensions_block = true;
         s.raw_tail = u16(10) + "abc";
       }),
       HelloVerdict::Malformed, "extensions length does not match"},
      {"bytes after the extensions block", with([](HelloSpec& s) { s.raw_tail = "zz"; }), HelloVerdict::Malformed,
       "extensions length does not match"},
      {"extension body past the block", with([](HelloSpec& s) { s.extensions.push_back(u16(99) + u16(5) + "ab"); }),
       HelloVerdict::Malformed, "extension header or body"},
      {"extension twice", with([](HelloSpec& s) { s.extensions.push_back(alpn_ext({"h2"})); }), HelloVerdict::Malformed,
       "extension 16 appears twice"},
      {"SNI with two names",
       with([&](HelloSpec& s) { s.extensions[0] = ext(0, u16(2 * sni_entry.size()) + sni_entry + sni_entry); }),
       HelloVerdict::Malformed, "exactly one host name"},
      {"SNI of type 1", with([](HelloSpec& s) { s.extensions[0] = ext(0, u16(7) + u8(1) + u16(4) + "abcd"); }),
       HelloVerdict::Malformed, "server_name type 1"},
      {"SNI list length off", with([&](HelloSpec& s) { s.extensions[0] = ext(0, u16(8) + sni_entry); }),
       HelloVerdict::Malformed, "server_name list length"},
      {"empty SNI extension", with([](HelloSpec& s) { s.extensions[0] = ext(0, ""); }), HelloVerdict::Malformed,
       "server_name list length"},
      {"SNI with a space", with([](HelloSpec& s) { s.extensions[0] = sni_ext("relay example"); }),
       HelloVerdict::Malformed, "not a host name"},
      {"SNI empty name", with([](HelloSpec& s) { s.extensions[0] = sni_ext(""); }), HelloVerdict::Malformed,
       "not a host name"},
      {"ALPN empty list", with([](HelloSpec& s) { s.extensions[1] = ext(16, u16(0)); }), HelloVerdict::Malformed,
       "ALPN list"},
      {"ALPN empty name", with([](HelloSpec& s) { s.extensions[1] = alpn_ext({"h2", ""}); }), HelloVerdict::Malformed,
       "ALPN protocol name empty"},
      {"ALPN name past its list", with([](HelloSpec& s) { s.extensions[1] = ext(16, u16(3) + u8(9) + "ab"); }),
       HelloVerdict::Malformed, "ALPN protocol name"},
      {"ALPN list length off", with([](HelloSpec& s) { s.extensions[1] = ext(16, u16(4) + u8(2) + "h2"); }),
       HelloVerdict::Malformed, "ALPN list length"},
  };
}

TEST(ClientHelloTest, MalformedAndOversizedSayWhere) {
  for (const Bad& b : bad_hellos()) {
    const HelloPeek p = peek(b.bytes);
    EXPECT_EQ(p.verdict, b.verdict) << b.name << ": " << to_string(p.verdict) << " " << p.error;
    EXPECT_NE(p.error.find(b.why), std::string::npos) << b.name << ": " << p.error;
    EXPECT_EQ(p.server_name, "") << b.name;
  }
}

TEST(ClientHelloTest, HandBuiltVariants) {
  HelloSpec s = site_hello();
  EXPECT_EQ(peek(records(message(s))).verdict, HelloVerdict::TlsWithAlpn);

  s.extensions[0] = sni_ext("Relay.Example.NET");
  EXPECT_EQ(peek(records(message(s))).server_name, "relay.example.net");

  s.extensions[1] = alpn_ext({"dialout/", "dialout/1x", "h2"});
  EXPECT_EQ(peek(records(message(s))).verdict, HelloVerdict::TlsWithoutAlpn);

  HelloSpec bare;  // TLS 1.2 and earlier may leave out the extensions block
  bare.no_extensions_block = true;
  HelloPeek p = peek(records(message(bare)));
  EXPECT_EQ(p.verdict, HelloVerdict::TlsWithoutAlpn) << p.error;
  EXPECT_EQ(p.server_name, "");

  HelloSpec empty;  // an empty block is allowed too
  EXPECT_EQ(peek(records(message(empty))).verdict, HelloVerdict::TlsWithoutAlpn);

  HelloSpec no_session;
  no_session.session_id = "";
  no_session.legacy_version = "\x03\x01";
  EXPECT_EQ(peek(records(message(no_session))).verdict, HelloVerdict::TlsWithoutAlpn);
}

// A hello padded (extension 21) to exactly `total` bytes in one record.
Bytes padded_to(size_t total) {
  HelloSpec s = site_hello();
  const size_t without = records(message(s)).size() + 4;  // + the padding extension's header
  s.extensions.push_back(ext(21, Bytes(total - without, '\0')));
  return records(message(s));
}

TEST(ClientHelloTest, BoundIsExact) {
  const Bytes fits = padded_to(kMaxClientHelloPeek);
  ASSERT_EQ(fits.size(), kMaxClientHelloPeek);
  EXPECT_EQ(peek(fits).verdict, HelloVerdict::TlsWithAlpn);

  const Bytes over = padded_to(kMaxClientHelloPeek + 1);
  // Refused as soon as the handshake header is in, without waiting for the rest.
  EXPECT_EQ(peek(over.substr(0, 9)).verdict, HelloVerdict::Oversized);
  EXPECT_EQ(peek(over).verdict, HelloVerdict::Oversized);
}

TEST(ClientHelloTest, VerdictDoesNotDependOnHowMuchHasArrived) {
  // A record too long for the bound, carrying a broken handshake header: once
  // the record header is in, every prefix says Oversized (found by the fuzzer:
  // it used to say Oversized before the handshake header arrived and
  // Malformed after).
  const Bytes b = u8(22) + "\x03\x01" + u16(16384) + Bytes(4, '\0') + "abc";
  for (size_t n = 5; n <= b.size(); ++n) {
    EXPECT_EQ(peek(b.substr(0, n)).verdict, HelloVerdict::Oversized) << n;
  }
  EXPECT_EQ(peek(b.substr(0, 4)).verdict, HelloVerdict::NeedMore);
}

TEST(ClientHelloTest, ManySmallRecordsHitTheBound) {
  // 16000 bytes of hello in 100-byte records need 16800 bytes with headers.
  HelloSpec s = site_hello();
  s.extensions.push_back(ext(21, Bytes(16000 - message(s).size() - 4, '\0')));
  const Bytes b = records(message(s), 100);
  ASSERT_GT(b.size(), kMaxClientHelloPeek);
  EXPECT_EQ(peek(b.substr(0, 1000)).verdict, HelloVerdict::NeedMore);
  const HelloPeek p = peek(b);
  EXPECT_EQ(p.verdict, HelloVerdict::Oversized);
  EXPECT_NE(p.error.find("does not fit in 16384 bytes"), std::string::npos) << p.error;
}

}  // namespace
}  // namespace dialout
