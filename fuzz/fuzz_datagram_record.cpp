// Fuzzes the datagram record parser as the intermediary's UDP socket sees
// it (any bytes from anyone), then the opener with fixed keys of both
// ciphers, then the body decoders; and seals the input as a body to check
// that it opens again unchanged and that one flipped byte is refused.
// Everything runs on fixed-size buffers: the path under test allocates
// nothing, so nothing here may depend on allocation either.
#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <span>

#include "netlib/datagram_record.hpp"

using namespace dialout;

namespace {

DirectionKey fixed_key() {
  DirectionKey k;
  for (size_t i = 0; i < k.key.size(); ++i) k.key[i] = uint8_t(i);
  for (size_t i = 0; i < k.iv.size(); ++i) k.iv[i] = uint8_t(0xa0 + i);
  return k;
}

struct Keys {
  std::optional<RecordOpener> opener[2];
  std::optional<RecordSealer> sealer[2];
  Keys() {
    const DatagramCipher ciphers[] = {DatagramCipher::Aes256Gcm, DatagramCipher::ChaCha20Poly1305};
    for (int i = 0; i < 2; ++i) {
      auto o = RecordOpener::make(ciphers[i], fixed_key(), 3);
      // A sealer without limits would run out after the fuzzer's millions
      // of runs only in theory; the defaults are far beyond that.
      auto s = RecordSealer::make(ciphers[i], fixed_key(), 3, 0x01020304);
      if (!o || !s) std::abort();
      opener[i].emplace(std::move(*o));
      sealer[i].emplace(std::move(*s));
    }
  }
};

void check_body(RecordType type, std::span<const uint8_t> body) {
  switch (type) {
    case RecordType::Data: {
      auto d = decode_data(body);
      if (d && d->packet.data() + d->packet.size() != body.data() + body.size()) std::abort();
      break;
    }
    case RecordType::Probe: (void)decode_probe_body(body); break;
    case RecordType::ProbeReply: (void)decode_probe_reply(body); break;
    case RecordType::Keepalive:
      if (!body.empty()) std::abort();
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Keys keys;  // keyed once, like a session's contexts
  static std::array<uint8_t, kMaxRecordSize> buffer;
  static std::array<uint8_t, kMaxRecordBody> out;
  std::span<const uint8_t> in(data, size);

  // 1. As received: decode, then try to open in place with both keys.
  auto v = decode_record(in);
  if (v) {
    if (v->bytes.size() != size || v->body().size() + kRecordOverhead != size) std::abort();
    std::array<uint8_t, kRecordHeaderSize> header;
    write_record_header(header, v->header);
    if (std::memcmp(header.data(), data, kRecordHeaderSize) != 0) std::abort();  // one encoding per header
    for (auto& opener : keys.opener) {
      std::memcpy(buffer.data(), data, size);
      auto copy = decode_record(std::span<const uint8_t>(buffer.data(), size));
      if (!copy) std::abort();
      auto plain = opener->open(*copy, std::span(buffer).subspan(kRecordHeaderSize, copy->body().size()));
      if (plain) check_body(copy->header.type, *plain);
    }
  } else if (size >= kRecordOverhead && size <= kMaxRecordSize && v.error() == RecordError::Oversized) {
    std::abort();
  }

  // 2. As a body: seal it (as data or a probe, by the first byte), open it, flip a byte.
  if (size < 2 || size - 2 > kMaxRecordBody) return 0;
  int which = data[0] & 1;
  RecordType type = (data[0] & 2) ? RecordType::Data : RecordType::Probe;
  auto body = in.subspan(2);
  if (!record_body_size_ok(type, body.size())) return 0;
  std::memcpy(buffer.data() + kRecordHeaderSize, body.data(), body.size());
  auto sealed = keys.sealer[which]->seal(type, buffer, body.size());
  if (!sealed || *sealed != kRecordOverhead + body.size()) std::abort();
  std::span<uint8_t> record(buffer.data(), *sealed);
  size_t flip_at = data[1] % record.size();
  for (int round = 0; round < 2; ++round) {
    if (round == 1) record[flip_at] ^= 0x01;
    auto rv = decode_record(record);
    if (!rv) {
      if (round == 0) std::abort();
      continue;  // the flip broke the header: refused before any crypto
    }
    auto plain = keys.opener[which]->open(*rv, std::span(out).first(rv->body().size()));
    if (round == 0 && (!plain || plain->size() != body.size() ||
                       std::memcmp(plain->data(), body.data(), body.size()) != 0))
      std::abort();
    if (round == 1 && plain) std::abort();  // a tampered record opened
  }
  return 0;
}
