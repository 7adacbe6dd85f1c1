// The datagram record format declared in netlib/wire.hpp, and sealing and
// opening (netlib/datagram_record.hpp).
#include "netlib/datagram_record.hpp"

#include <algorithm>

namespace dialout {
namespace {

uint32_t load_u32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}
uint64_t load_u64(const uint8_t* p) { return uint64_t{load_u32(p)} << 32 | load_u32(p + 4); }
void store_u32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 24);
  p[1] = uint8_t(v >> 16);
  p[2] = uint8_t(v >> 8);
  p[3] = uint8_t(v);
}
void store_u64(uint8_t* p, uint64_t v) {
  store_u32(p, uint32_t(v >> 32));
  store_u32(p + 4, uint32_t(v));
}

bool known_record_type(uint8_t t) { return t >= uint8_t(RecordType::Data) && t <= uint8_t(RecordType::ProbeReply); }

}  // namespace

const char* to_string(RecordType t) {
  switch (t) {
    case RecordType::Data: return "data";
    case RecordType::Keepalive: return "keepalive";
    case RecordType::Probe: return "probe";
    case RecordType::ProbeReply: return "probe reply";
  }
  return "unknown record type";
}

const char* to_string(DatagramCipher c) {
  switch (c) {
    case DatagramCipher::Aes256Gcm: return "AES-256-GCM";
    case DatagramCipher::ChaCha20Poly1305: return "ChaCha20-Poly1305";
  }
  return "unknown cipher";
}

const char* to_string(RecordError e) {
  switch (e) {
    case RecordError::Oversized: return "record larger than 65507 bytes";
    case RecordError::Truncated: return "record shorter than its 32-byte header and tag";
    case RecordError::UnknownType: return "unknown record type";
    case RecordError::BadReserved: return "reserved header bytes not zero";
    case RecordError::ZeroReceiver: return "receiver id 0";
    case RecordError::CounterExhausted: return "record counter 2^64-1";
    case RecordError::BadBodyLength: return "body length impossible for the record type";
    case RecordError::BadPadding: return "probe padding not zero";
  }
  return "unknown record error";
}

const char* to_string(SealError e) {
  switch (e) {
    case SealError::BadBody: return "body length impossible for the record type";
    case SealError::NoRoom: return "buffer too small for the record";
    case SealError::KeyExhausted: return "key exhausted: a new epoch is needed";
    case SealError::CipherFailed: return "cipher failed";
  }
  return "unknown seal error";
}

const char* to_string(OpenError e) {
  switch (e) {
    case OpenError::AuthFailed: return "record does not authenticate";
    case OpenError::NoRoom: return "output is not the body's size";
  }
  return "unknown open error";
}

bool record_body_size_ok(RecordType type, size_t size) {
  if (size > kMaxRecordBody) return false;
  switch (type) {
    case RecordType::Data: return size >= kMinDataRecordBody;
    case RecordType::Keepalive: return size == 0;
    case RecordType::Probe: return size >= kMinProbeBody;
    case RecordType::ProbeReply: return size == kProbeReplyBodySize;
  }
  return false;
}

Expected<RecordView, RecordError> decode_record(std::span<const uint8_t> datagram) {
  if (datagram.size() > kMaxRecordSize) return unexpected(RecordError::Oversized);
  if (datagram.size() < kRecordOverhead) return unexpected(RecordError::Truncated);
  const uint8_t* p = datagram.data();
  if (!known_record_type(p[0])) return unexpected(RecordError::UnknownType);
  if (p[2] != 0 || p[3] != 0) return unexpected(RecordError::BadReserved);
  RecordView v;
  v.header.type = RecordType(p[0]);
  v.header.epoch = p[1];
  v.header.receiver = load_u32(p + 4);
  v.header.counter = load_u64(p + 8);
  if (v.header.receiver == 0) return unexpected(RecordError::ZeroReceiver);
  if (v.header.counter == kRecordCounterNever) return unexpected(RecordError::CounterExhausted);
  if (!record_body_size_ok(v.header.type, datagram.size() - kRecordOverhead))
    return unexpected(RecordError::BadBodyLength);
  v.bytes = datagram;
  return v;
}

void write_record_header(std::span<uint8_t, kRecordHeaderSize> at, const RecordHeader& h) {
  at[0] = uint8_t(h.type);
  at[1] = h.epoch;
  at[2] = 0;
  at[3] = 0;
  store_u32(&at[4], h.receiver);
  store_u64(&at[8], h.counter);
}

void write_data_body_header(std::span<uint8_t, kDataHeaderSize> at, const DataHeader& h) {
  store_u32(&at[0], h.dst);
  store_u32(&at[4], h.src);
  at[8] = h.flags;
  at[9] = 0;
}

Expected<uint64_t, RecordError> decode_probe_body(std::span<const uint8_t> body) {
  if (!record_body_size_ok(RecordType::Probe, body.size())) return unexpected(RecordError::BadBodyLength);
  auto padding = body.subspan(kProbeTokenSize);
  if (std::any_of(padding.begin(), padding.end(), [](uint8_t b) { return b != 0; }))
    return unexpected(RecordError::BadPadding);
  return load_u64(body.data());
}

void write_probe_body(std::span<uint8_t> body, uint64_t token) {
  if (body.size() < kMinProbeBody) return;  // a caller bug; decode would refuse it anyway
  store_u64(body.data(), token);
  std::fill(body.begin() + kProbeTokenSize, body.end(), uint8_t{0});
}

Expected<ProbeReply, RecordError> decode_probe_reply(std::span<const uint8_t> body) {
  if (body.size() != kProbeReplyBodySize) return unexpected(RecordError::BadBodyLength);
  return ProbeReply{load_u64(body.data()), static_cast<uint16_t>(body[8] << 8 | body[9])};
}

void write_probe_reply(std::span<uint8_t, kProbeReplyBodySize> at, const ProbeReply& r) {
  store_u64(&at[0], r.token);
  at[8] = uint8_t(r.probe_size >> 8);
  at[9] = uint8_t(r.probe_size);
}

std::array<uint8_t, kDatagramNonceSize> record_nonce(std::span<const uint8_t, kDatagramNonceSize> iv,
                                                     uint64_t counter) {
  std::array<uint8_t, kDatagramNonceSize> nonce;
  std::copy(iv.begin(), iv.end(), nonce.begin());
  for (size_t i = 0; i < 8; ++i) nonce[kDatagramNonceSize - 1 - i] ^= uint8_t(counter >> (8 * i));
  return nonce;
}

Expected<RecordSealer, std::string> RecordSealer::make(DatagramCipher cipher, const DirectionKey& key, uint32_t epoch,
                                                       uint32_t peer_receiver, const AeadLimits& limits) {
  if (peer_receiver == 0) return unexpected(std::string("receiver id 0"));
  auto aead = AeadContext::make(cipher, key.key, AeadContext::Mode::Seal);
  if (!aead) return unexpected(aead.error());
  return RecordSealer(std::move(*aead), key, epoch, peer_receiver, limits);
}

Expected<size_t, SealError> RecordSealer::seal(RecordType type, std::span<uint8_t> record, size_t body_size) {
  if (!record_body_size_ok(type, body_size)) return unexpected(SealError::BadBody);
  size_t size = kRecordOverhead + body_size;
  if (record.size() < size) return unexpected(SealError::NoRoom);
  if (next_counter_ == kRecordCounterNever || !may_seal(usage_, body_size, limits_))
    return unexpected(SealError::KeyExhausted);
  auto header = record.first<kRecordHeaderSize>();
  write_record_header(header, RecordHeader{type, epoch_on_wire(epoch_), receiver_, next_counter_});
  auto body = record.subspan(kRecordHeaderSize, body_size);
  auto tag = record.subspan(kRecordHeaderSize + body_size).first<kRecordTagSize>();
  auto nonce = record_nonce(iv_, next_counter_);
  // The counter moves on even if OpenSSL failed: a nonce is never offered twice.
  ++next_counter_;
  usage_.add(body_size);
  if (!aead_.seal(nonce, header, body, body, tag)) return unexpected(SealError::CipherFailed);
  return size;
}

Expected<RecordOpener, std::string> RecordOpener::make(DatagramCipher cipher, const DirectionKey& key,
                                                       uint32_t epoch) {
  auto aead = AeadContext::make(cipher, key.key, AeadContext::Mode::Open);
  if (!aead) return unexpected(aead.error());
  return RecordOpener(std::move(*aead), key, epoch);
}

Expected<std::span<uint8_t>, OpenError> RecordOpener::open(const RecordView& record, std::span<uint8_t> out) {
  auto body = record.body();
  if (out.size() != body.size()) return unexpected(OpenError::NoRoom);
  auto nonce = record_nonce(iv_, record.header.counter);
  if (!aead_.open(nonce, record.aad(), body, out, record.tag())) {
    ++auth_failures_;
    return unexpected(OpenError::AuthFailed);
  }
  return out;
}

}  // namespace dialout
