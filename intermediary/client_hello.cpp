#include "intermediary/client_hello.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <bitset>
#include <vector>

#include "netlib/option_values.hpp"

namespace dialout {

namespace {

constexpr uint8_t kRecordHandshake = 22;
constexpr uint8_t kHandshakeClientHello = 1;
constexpr size_t kRecordHeader = 5;
constexpr size_t kHandshakeHeader = 4;
constexpr size_t kMaxRecordPayload = 1 << 14;
constexpr size_t kRandom = 32;
constexpr size_t kMaxSessionId = 32;
constexpr uint16_t kExtServerName = 0;
constexpr uint16_t kExtAlpn = 16;
constexpr uint8_t kNameTypeHostName = 0;
constexpr size_t kMaxHostName = 255;

// TLS 1.0 .. 1.2 on the wire (1.3 keeps writing 1.2 there).
bool tls_version(uint8_t major, uint8_t minor) { return major == 3 && minor >= 1 && minor <= 3; }

// Reads big-endian fields from a span, never past its end. `base` is the
// span's offset inside the handshake message, for error texts.
class Reader {
 public:
  Reader(std::span<const uint8_t> bytes, size_t base) : bytes_(bytes), base_(base) {}

  bool empty() const { return pos_ == bytes_.size(); }
  size_t left() const { return bytes_.size() - pos_; }
  size_t offset() const { return base_ + pos_; }
  bool u8(size_t& v) { return number(1, v); }
  bool u16(size_t& v) { return number(2, v); }
  bool u24(size_t& v) { return number(3, v); }
  bool take(size_t n, std::span<const uint8_t>& out) {
    if (n > left()) return false;
    out = bytes_.subspan(pos_, n);
    pos_ += n;
    return true;
  }
  // A length-prefixed vector (RFC 8446 section 3.4) as its own Reader.
  bool vector(size_t length_bytes, Reader& out) {
    size_t n = 0;
    if (!number(length_bytes, n)) return false;
    const size_t start = offset();
    std::span<const uint8_t> body;
    if (!take(n, body)) return false;
    out = Reader(body, start);
    return true;
  }

 private:
  bool number(size_t n, size_t& v) {
    if (n > left()) return false;
    v = 0;
    for (size_t i = 0; i < n; ++i) v = (v << 8) | bytes_[pos_ + i];
    pos_ += n;
    return true;
  }

  std::span<const uint8_t> bytes_;
  size_t base_ = 0;
  size_t pos_ = 0;
};

HelloPeek verdict(HelloVerdict v, std::string error = {}) {
  HelloPeek p;
  p.verdict = v;
  p.error = std::move(error);
  return p;
}

HelloPeek malformed(size_t offset, std::string_view what) {
  return verdict(HelloVerdict::Malformed, fmt::format("ClientHello byte {}: {}", offset, what));
}

// NeedMore while the bytes up to `required_end` can still arrive within
// the bound, else Oversized.
HelloPeek wait_for(size_t required_end) {
  if (required_end > kMaxClientHelloPeek) {
    return verdict(HelloVerdict::Oversized,
                   fmt::format("ClientHello does not fit in {} bytes (needs at least {})", kMaxClientHelloPeek,
                               required_end));
  }
  return verdict(HelloVerdict::NeedMore);
}

bool host_name_char(uint8_t c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == '.';
}

// server_name extension body: ServerNameList with exactly one host_name.
bool parse_server_name(Reader ext, std::string& name, HelloPeek& error) {
  Reader list(std::span<const uint8_t>(), 0);
  if (!ext.vector(2, list) || !ext.empty() || list.empty()) {
    error = malformed(ext.offset(), "server_name list length does not match its extension");
    return false;
  }
  size_t type = 0;
  Reader host(std::span<const uint8_t>(), 0);
  if (!list.u8(type) || type != kNameTypeHostName) {
    error = malformed(list.offset(), fmt::format("server_name type {} is not host_name", type));
    return false;
  }
  if (!list.vector(2, host) || !list.empty()) {
    error = malformed(list.offset(), "server_name list must hold exactly one host name, fully");
    return false;
  }
  std::span<const uint8_t> bytes;
  (void)host.take(host.left(), bytes);
  if (bytes.empty() || bytes.size() > kMaxHostName || !std::all_of(bytes.begin(), bytes.end(), host_name_char)) {
    error = malformed(host.offset() - bytes.size(), "server_name is not a host name of 1..255 letters, digits, '-', '_', '.'");
    return false;
  }
  name.clear();
  for (uint8_t c : bytes) name += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return true;
}

// ALPN extension body: ProtocolNameList; sets `offered` if `protocol` is in it.
bool parse_alpn(Reader ext, std::string_view protocol, bool& offered, HelloPeek& error) {
  Reader list(std::span<const uint8_t>(), 0);
  if (!ext.vector(2, list) || !ext.empty() || list.left() < 2) {
    error = malformed(ext.offset(), "ALPN list length does not match its extension, or the list is empty");
    return false;
  }
  while (!list.empty()) {
    Reader name(std::span<const uint8_t>(), 0);
    const size_t at = list.offset();
    if (!list.vector(1, name) || name.empty()) {
      error = malformed(at, "ALPN protocol name empty or longer than its list");
      return false;
    }
    std::span<const uint8_t> bytes;
    (void)name.take(name.left(), bytes);
    offered = offered || std::equal(bytes.begin(), bytes.end(), protocol.begin(), protocol.end());
  }
  return true;
}

// The ClientHello body, after the 4-byte handshake header.
HelloPeek parse_body(std::span<const uint8_t> body, std::string_view protocol) {
  Reader r(body, kHandshakeHeader);
  size_t major = 0, minor = 0;
  if (!r.u8(major) || !r.u8(minor)) return malformed(r.offset(), "too short for legacy_version");
  if (!tls_version(static_cast<uint8_t>(major), static_cast<uint8_t>(minor))) {
    return malformed(r.offset() - 2, fmt::format("legacy_version {}.{} is not TLS 1.0-1.2", major, minor));
  }
  std::span<const uint8_t> skipped;
  if (!r.take(kRandom, skipped)) return malformed(r.offset(), "too short for random");
  Reader session(std::span<const uint8_t>(), 0), suites = session, compression = session;
  const size_t session_at = r.offset();
  if (!r.vector(1, session) || session.left() > kMaxSessionId) {
    return malformed(session_at, "legacy_session_id longer than 32 bytes or than the message");
  }
  const size_t suites_at = r.offset();
  if (!r.vector(2, suites) || suites.left() < 2 || suites.left() % 2 != 0) {
    return malformed(suites_at, "cipher_suites length not even, empty, or longer than the message");
  }
  const size_t compression_at = r.offset();
  if (!r.vector(1, compression) || compression.empty()) {
    return malformed(compression_at, "legacy_compression_methods empty or longer than the message");
  }
  HelloPeek result = verdict(HelloVerdict::TlsWithoutAlpn);
  if (r.empty()) return result;  // TLS 1.0-1.2 may omit extensions entirely
  Reader extensions(std::span<const uint8_t>(), 0);
  const size_t extensions_at = r.offset();
  if (!r.vector(2, extensions) || !r.empty()) {
    return malformed(extensions_at, "extensions length does not match the rest of the message");
  }
  std::bitset<65536> seen;
  bool offered = false;
  while (!extensions.empty()) {
    const size_t at = extensions.offset();
    size_t type = 0;
    Reader ext(std::span<const uint8_t>(), 0);
    if (!extensions.u16(type) || !extensions.vector(2, ext)) {
      return malformed(at, "extension header or body longer than the extensions block");
    }
    if (seen.test(type)) return malformed(at, fmt::format("extension {} appears twice", type));
    seen.set(type);
    HelloPeek error;
    if (type == kExtServerName && !parse_server_name(ext, result.server_name, error)) return error;
    if (type == kExtAlpn && !parse_alpn(ext, protocol, offered, error)) return error;
  }
  if (offered) result.verdict = HelloVerdict::TlsWithAlpn;
  return result;
}

}  // namespace

const char* to_string(HelloVerdict v) {
  switch (v) {
    case HelloVerdict::NeedMore: return "need more";
    case HelloVerdict::NotTls: return "not TLS";
    case HelloVerdict::TlsWithAlpn: return "TLS with our ALPN";
    case HelloVerdict::TlsWithoutAlpn: return "TLS without our ALPN";
    case HelloVerdict::Malformed: return "malformed";
    case HelloVerdict::Oversized: return "oversized";
  }
  return "?";
}

HelloPeek peek_client_hello(std::span<const uint8_t> received, std::string_view protocol) {
  if (received.empty()) return verdict(HelloVerdict::NeedMore);
  auto not_tls = [&] {
    const size_t n = std::min<size_t>(received.size(), 16);
    return verdict(HelloVerdict::NotTls,
                   fmt::format("first bytes {} are not a TLS handshake record",
                               quote({reinterpret_cast<const char*>(received.data()), n})));
  };
  // A handshake record of SSL 3 or TLS: anything else goes to the backend.
  if (received[0] != kRecordHandshake) return not_tls();
  if (received.size() < 2) return verdict(HelloVerdict::NeedMore);
  if (received[1] != 3) return not_tls();

  const std::span<const uint8_t> view = received.first(std::min(received.size(), kMaxClientHelloPeek));
  std::span<const uint8_t> first;  // the first record's fragment
  std::vector<uint8_t> joined;     // the fragments, once a second record is needed
  size_t pos = 0;
  size_t message_size = 0;  // handshake header + body, once its header is in
  for (unsigned record = 1;; ++record) {
    if (pos + kRecordHeader > view.size()) return wait_for(pos + kRecordHeader);
    const uint8_t* h = view.data() + pos;
    const size_t length = (size_t{h[3]} << 8) | h[4];
    const std::string where = fmt::format("record {} at byte {}", record, pos);
    if (h[0] != kRecordHandshake) {
      return verdict(HelloVerdict::Malformed, fmt::format("{}: content type {} inside a ClientHello", where, h[0]));
    }
    if (!tls_version(h[1], h[2])) {
      return verdict(HelloVerdict::Malformed, fmt::format("{}: version {}.{} is not TLS 1.0-1.2", where, h[1], h[2]));
    }
    if (length == 0 || length > kMaxRecordPayload) {
      return verdict(HelloVerdict::Malformed, fmt::format("{}: length {} is not 1..16384", where, length));
    }
    // Decided from the record header alone, so that the verdict never
    // depends on how much of the record has arrived.
    if (pos + kRecordHeader + length > kMaxClientHelloPeek) {
      return verdict(HelloVerdict::Oversized, fmt::format("{}: a record of {} bytes does not fit in the {}-byte bound",
                                                          where, length, kMaxClientHelloPeek));
    }
    // The handshake header may already be readable from a partial record.
    const size_t available = std::min(length, view.size() - pos - kRecordHeader);
    const std::span<const uint8_t> fragment = view.subspan(pos + kRecordHeader, available);
    if (record == 1) {
      first = fragment;
    } else {
      if (joined.empty()) joined.assign(first.begin(), first.end());
      joined.insert(joined.end(), fragment.begin(), fragment.end());
    }
    const std::span<const uint8_t> message = record == 1 ? first : std::span<const uint8_t>(joined);
    if (message_size == 0 && message.size() >= kHandshakeHeader) {
      if (message[0] != kHandshakeClientHello) {
        return verdict(HelloVerdict::Malformed, fmt::format("handshake type {} is not ClientHello", message[0]));
      }
      message_size = kHandshakeHeader + ((size_t{message[1]} << 16) | (size_t{message[2]} << 8) | message[3]);
      // Each record of the message costs at least one header: the first one's
      // is the least it can need.
      if (message_size + kRecordHeader > kMaxClientHelloPeek) {
        return verdict(HelloVerdict::Oversized, fmt::format("ClientHello of {} bytes exceeds the bound of {}",
                                                            message_size, kMaxClientHelloPeek));
      }
    }
    if (available < length) return verdict(HelloVerdict::NeedMore);
    pos += kRecordHeader + length;
    if (message_size != 0 && message.size() >= message_size) {
      if (message.size() != message_size) {
        return verdict(HelloVerdict::Malformed,
                       fmt::format("{}: ClientHello ends {} bytes before the record does", where,
                                   message.size() - message_size));
      }
      HelloPeek result = parse_body(message.subspan(kHandshakeHeader), protocol);
      if (result.verdict == HelloVerdict::TlsWithAlpn || result.verdict == HelloVerdict::TlsWithoutAlpn) {
        result.hello_bytes = pos;
      }
      return result;
    }
  }
}

}  // namespace dialout
