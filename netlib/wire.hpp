// The whole dialout wire format: every frame that travels inside the TLS
// stream between a site (tund) and the intermediary.
//
// Protocol version history:
//   1 — first version: hello, register, accept, refuse, routes, ping/pong,
//       peer gone, restarting, data (with optional virtio-net header);
//       REGISTER flag kRegisterRoamed.
//     Later additions within version 1 (old peers show them as "unknown reason"):
//       REFUSE reason 13 (Closed, by an operator: temporary).
//     Later within version 1, each behind a HELLO capability both ends must
//     set (an old peer never sees them): ROUTE_UPDATE and ROUTE_RESYNC
//     (kCapRouteDeltas), the 8-byte RESTARTING (kCapRestartWindow),
//     DNS_CONFIG (kCapDnsConfig).
//
// Byte order: network (big-endian) for every integer, except the embedded
// virtio-net header, which is passed through exactly as the TUN device
// produced it (little-endian, see netlib/vnet_header.hpp).
//
// Frame (every message):
//   0      1      2      3
//   +------+------+------+------+------------------+
//   | type |  payload length    | payload ...      |
//   |  u8  |  u24               | (length bytes)   |
//   +------+------+------+------+------------------+
// The length is checked against the type's maximum (kMaxPayload for data,
// kMaxControlPayload for control) as soon as the 4 header bytes are in,
// before anything is buffered for it.
//
// Encoded prefix (inside REGISTER, ACCEPT, ROUTES):
//   u8 family (4 or 6) | u8 length (≤ 32 / ≤ 128) | address (4 or 16 bytes)
//   Host bits must be zero.
//
// HELLO (0x01), both directions, site first; payload exactly 8 bytes:
//   u16 version | u16 reserved (0) | u32 capabilities (kCap* bits)
//   The intermediary answers with its own HELLO, or REFUSE(BadVersion).
//
// REGISTER (0x02), site → intermediary, once per connection after HELLO:
//   u8 name length (1..63) | name | u8 flags (kRegister* bits) |
//   u8 prefix count (0..kMaxPrefixes) | prefixes
//   Every connection of a site registers the same name and prefixes; the
//   intermediary binds them all to one SiteId.
//
// ACCEPT (0x03), intermediary → site:
//   u32 site id (≠ 0) | u8 address count (0..2) | prefixes
//   Addresses are those assigned to the site (laptop mode), else none.
//
// REFUSE (0x04), intermediary → site, then the intermediary closes:
//   u16 reason (RefuseReason) | u8 text length | text (UTF-8, for logs)
//   A receiver keeps a reason value it does not know (newer intermediaries
//   may add some) and treats it as temporary. Values 11 (PrefixOverlaps) and
//   12 (TooManyAddresses) came later within version 1; older sites log them
//   as "unknown reason" and retry, which is what they mean.
//
// ROUTES (0x05), intermediary → site, after ACCEPT and after every change:
//   u16 entry count | entries
//   entry: u32 site id | u8 name length | name | u8 prefix count | prefixes
//   Always the full set of sites this site may reach (not a delta), so a
//   lost or reordered update can never leave a stale route behind.
//
// PING (0x06) / PONG (0x07), either direction; payload exactly 8 bytes:
//   u64 token (PONG echoes the PING's token)
//
// PEER_GONE (0x08), intermediary → site; payload exactly 4 bytes:
//   u32 site id that has no open connection any more
//
// RESTARTING (0x09), intermediary → site; payload 4 or 8 bytes:
//   u32 milliseconds after which reconnecting is expected to succeed |
//   [u32 window ms: reconnect at a uniformly random moment within this many
//    milliseconds after that, so a fleet does not return all at once]
//   The 8-byte form only to sites that sent kCapRestartWindow (older ones
//   accept exactly 4 bytes); a missing window means 0, and the 8-byte form
//   never carries 0 (one encoding per message).
//
// ROUTE_UPDATE (0x0B), intermediary → site, instead of ROUTES when both set
// kCapRouteDeltas:
//   u32 seq | u8 kind (1 snapshot, 2 delta) | u8 reserved (0) |
//   u16 part | u16 part count (1..kMaxUpdateParts; part < count) |
//   u16 entry count | entries (as in ROUTES) | u16 removed count | u32 site ids (≠ 0)
//   One update (snapshot or delta) may be split over `count` frames with
//   the same seq and kind, sent in part order; the site applies it only when
//   the last part is in, so it never installs half of one. A snapshot
//   replaces the whole table (removed count 0) and sets the site's seq to
//   its seq; a delta adds or replaces entries by site id, removes ids, and
//   its seq is the previous one + 1 (wrapping). Any gap or out-of-order part:
//   the site drops what it holds of the update and sends ROUTE_RESYNC.
//
// ROUTE_RESYNC (0x0C), site → intermediary; payload exactly 4 bytes:
//   u32 seq of the last update the site applied (0: none)
//   Asks for a fresh snapshot.
//
// DNS_CONFIG (0x0D), intermediary → site, only when both set kCapDnsConfig:
//   u8 server count (0..kMaxDnsServers) | servers |
//   u8 domain count (0..kMaxDnsDomains) | domains
//   server: u8 family (4 or 6) | address (4 or 16 bytes)
//   domain: u8 length (1..253) | name (netlib/dns_config.hpp: lower case,
//           no trailing dot)
//   The resolvers behind the tunnel and the domains they answer for (split
//   DNS; the site uses them for nothing else). Sent right after every ACCEPT
//   (both counts 0 when the policy gives the site none, so a site always
//   knows where it stands) and again whenever a policy reload changes it.
//   Servers and domains are both present or both absent; no repeats; the
//   rules of netlib/dns_config.hpp (valid_dns_config) hold.
//
// DATA (0x0A), both directions:
//   u32 destination site id | u32 source site id | u8 flags | u8 reserved (0) |
//   [10-byte virtio-net header if flags & kDataVnet] | IP datagram
//   Sites send source 0; the intermediary overwrites it with the sender's
//   authenticated id. Destination 0 asks the intermediary to route by the
//   datagram's destination address. The IP datagram is at most 65535 bytes
//   (a TSO/USO "superpacket" travels whole).
//
// =====================================================================
// DATAGRAM RECORDS (the UDP path, issue 12). Not frames, and not inside
// TLS: each UDP datagram is exactly one record, sealed with AEAD keys
// exported from the site's authenticated TLS session (key schedule below,
// netlib/datagram_keys.hpp; flow in docs/protocol.md "Datagram path").
// Nothing here changes the frames above or kProtocolVersion.
//
// Record (the whole UDP payload):
//   0        1        2        3
//   +--------+--------+--------+--------+
//   |  type  | epoch  |  reserved (0)   |
//   +--------+--------+--------+--------+
//   |      receiver id (u32, != 0)      |
//   +--------+--------+--------+--------+
//   |  counter (u64, at most 2^64 - 2)  |
//   +                                   +
//   |                                   |
//   +--------+--------+--------+--------+
//   |  sealed body (as long as the plaintext body) ...
//   +--------+--------+--------+--------+
//   |  AEAD tag (16 bytes)              |
//   +--------+--------+--------+--------+
//   The 16 header bytes travel in the clear and are the AEAD's associated
//   data, so none of them can be altered. `type` is a RecordType (values
//   below 0x40: never mistaken for a QUIC packet, whose fixed bit is 0x40).
//   `epoch` is the low 8 bits of the key epoch that sealed the record (a
//   receiver holds at most the epochs next to its current one, so 8 bits
//   name it). `receiver id` is chosen by the receiving end and announced
//   over TLS; it lets the intermediary find the session in O(1) before any
//   cryptography. `counter` counts the sender's records in this direction
//   and epoch from 0; nonce = per-direction IV XOR (0^32 || counter), as
//   TLS 1.3 builds its record nonces (RFC 8446 5.3), so a nonce is never
//   reused under a key. 2^64 - 1 is never sent (wrap guard); senders rekey
//   long before (netlib/aead_limits.hpp).
//   Whole record: kRecordOverhead (32) to kMaxRecordSize (65507, the
//   largest IPv4 UDP payload) bytes. decode_record() checks the maximum
//   first, then the header, then the body length the type allows, all
//   before any cryptography; it allocates nothing.
//
// Bodies (after opening), by type:
//   DATA (0x01): exactly a DATA frame's payload (see DATA above):
//     u32 destination site id | u32 source site id | u8 flags | u8 reserved |
//     [10-byte virtio-net header if flags & kDataVnet] | IP datagram
//     decode_data() parses it; the intermediary stamps the source as for
//     DATA. At least kDataHeaderSize + 1 bytes.
//   KEEPALIVE (0x02): empty. Needs no answer; holds a NAT binding open.
//   PROBE (0x03): u64 token | padding (zero bytes, at least 2)
//     The sender pads the record to the size it is testing (path MTU);
//     the receiver answers every authenticated PROBE with a PROBE_REPLY.
//     At least 10 bytes, so that no reply is larger than its probe.
//   PROBE_REPLY (0x04), exactly 10 bytes:
//     u64 token (the probe's) | u16 size of the probe record as received
//   A reply is never larger than its probe, and nothing unauthenticated is
//   ever answered: no amplification, no oracle.
//
// Key schedule (both ends, per TLS session and key epoch):
//   material = SSL_export_keying_material(label "EXPORTER-dialout-datagram",
//              context = u32 epoch | u8 cipher, 88 bytes)
//   material = client->server key (32) | server->client key (32) |
//              client->server IV (12)  | server->client IV (12)
//   The site is the TLS client. Cipher ids (DatagramCipher): 1 AES-256-GCM,
//   2 ChaCha20-Poly1305; both use 32-byte keys, 12-byte nonces, 16-byte tags.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "netlib/dns_config.hpp"
#include "netlib/expected.hpp"
#include "netlib/ip_address.hpp"
#include "netlib/vnet_header.hpp"  // kVnetHeaderSize: the embedded offload header

namespace dialout {

inline constexpr uint16_t kProtocolVersion = 1;

using SiteId = uint32_t;

enum class MsgType : uint8_t {
  Hello = 0x01,
  Register = 0x02,
  Accept = 0x03,
  Refuse = 0x04,
  Routes = 0x05,
  Ping = 0x06,
  Pong = 0x07,
  PeerGone = 0x08,
  Restarting = 0x09,
  Data = 0x0A,
  RouteUpdate = 0x0B,
  RouteResync = 0x0C,
  DnsConfig = 0x0D,
};

inline constexpr size_t kFrameHeaderSize = 4;
inline constexpr size_t kDataHeaderSize = 10;
inline constexpr size_t kMaxIpPacket = 65535;
inline constexpr size_t kMaxPayload = kDataHeaderSize + kVnetHeaderSize + kMaxIpPacket;
inline constexpr size_t kMaxControlPayload = 65535;
inline constexpr size_t kMaxFrameSize = kFrameHeaderSize + kMaxPayload;
inline constexpr size_t kMaxNameLength = 63;
inline constexpr size_t kMaxPrefixes = 64;

// HELLO capabilities.
inline constexpr uint32_t kCapVnetHeader = 1u << 0;  // accepts DATA with a virtio-net header
inline constexpr uint32_t kCapRouteDeltas = 1u << 1;    // ROUTE_UPDATE / ROUTE_RESYNC instead of ROUTES
inline constexpr uint32_t kCapRestartWindow = 1u << 2;  // accepts the 8-byte RESTARTING
inline constexpr uint32_t kCapDnsConfig = 1u << 3;      // DNS_CONFIG after ACCEPT and on change
// What this build implements end to end.
inline constexpr uint32_t kCapAll = kCapVnetHeader | kCapRouteDeltas | kCapRestartWindow | kCapDnsConfig;

// ROUTE_UPDATE: at most this many frames per update (bounds what a site buffers).
inline constexpr uint16_t kMaxUpdateParts = 1024;
inline constexpr size_t kRouteUpdateFixedSize = 14;  // every field but entries and ids

// REGISTER flags.
inline constexpr uint8_t kRegisterWantAddress = 1u << 0;  // laptop: assign me an address
// "My own address changed: my connections from any other address are dead."
// The intermediary closes them at once instead of hashing flows onto them
// until the dead-peer timeout.
inline constexpr uint8_t kRegisterRoamed = 1u << 1;
inline constexpr uint8_t kRegisterFlags = kRegisterWantAddress | kRegisterRoamed;

// DATA flags.
inline constexpr uint8_t kDataVnet = 1u << 0;

enum class RefuseReason : uint16_t {
  BadVersion = 1,
  NameNotAllowed = 2,
  PrefixNotAllowed = 3,
  NameTaken = 4,
  PrefixTaken = 5,
  Malformed = 6,
  TooManySessions = 7,
  PoolExhausted = 8,
  OutOfOrder = 9,
  Internal = 10,
  // A prefix lies inside or around another identity's registered prefix
  // (the policy's `nest` allows it for chosen prefixes). Temporary: it clears
  // when the other site goes away, and a victim refused because a rogue came
  // first must keep trying.
  PrefixOverlaps = 11,
  // The identity holds --max-addresses-per-identity pool addresses, live or
  // kept for reconnects. Temporary: released leases expire after the grace.
  TooManyAddresses = 12,
  // An operator closed the session (`dialoutctl kill`). Temporary: the
  // site reconnects with backoff; its rights are checked again then.
  Closed = 13,
};
const char* to_string(RefuseReason);
// What a site can expect from trying again after a refusal:
//   Temporary    it clears by itself (a restart, a full pool, an old session
//                still timing out): retry with the usual backoff.
//   NeedsChange  it clears only when something else changes — the policy
//                (NameNotAllowed, PrefixNotAllowed) or another site leaving
//                (NameTaken, PrefixTaken): say once what to change, retry slowly.
//   Fatal        no retry can help this binary (BadVersion).
// A reason this build does not know is Temporary (see REFUSE above).
enum class RefusalKind : uint8_t { Temporary, NeedsChange, Fatal };
RefusalKind refusal_kind(RefuseReason);
// Not Temporary: a retry soon would be refused again.
inline bool is_permanent(RefuseReason r) { return refusal_kind(r) != RefusalKind::Temporary; }
// For NeedsChange reasons, what the site's operator can change (one line, for logs).
const char* remedy(RefuseReason);

enum class WireError : uint8_t {
  UnknownType,
  Oversized,
  BadLength,
  BadName,
  BadPrefix,
  BadReserved,
  TooManyEntries,
  ZeroId,
  BadDns,  // a DNS_CONFIG field breaks netlib/dns_config.hpp's rules
};
const char* to_string(WireError);

struct Hello {
  uint16_t version = kProtocolVersion;
  uint32_t capabilities = 0;
};
struct Register {
  std::string name;
  uint8_t flags = 0;
  std::vector<Prefix> prefixes;
};
struct Accept {
  SiteId id = 0;
  std::vector<Prefix> addresses;
};
struct Refuse {
  RefuseReason reason = RefuseReason::Internal;
  std::string text;
};
struct RouteEntry {
  SiteId id = 0;
  std::string name;
  std::vector<Prefix> prefixes;
};
struct Routes {
  std::vector<RouteEntry> entries;
};
// Bytes one entry takes inside ROUTES or ROUTE_UPDATE.
inline size_t encoded_size(const RouteEntry& e) {
  size_t n = 4 + 1 + e.name.size() + 1;
  for (const auto& p : e.prefixes) n += 2 + p.addr.size();
  return n;
}
enum class RouteUpdateKind : uint8_t { Snapshot = 1, Delta = 2 };
struct RouteUpdate {
  uint32_t seq = 0;
  RouteUpdateKind kind = RouteUpdateKind::Snapshot;
  uint16_t part = 0;
  uint16_t parts = 1;
  std::vector<RouteEntry> entries;  // added or replaced
  std::vector<SiteId> removed;      // deltas only
};
struct RouteResync {
  uint32_t have_seq = 0;
};
struct Ping {
  uint64_t token = 0;
};
struct Pong {
  uint64_t token = 0;
};
struct PeerGone {
  SiteId id = 0;
};
struct Restarting {
  uint32_t reconnect_after_ms = 0;
  uint32_t window_ms = 0;  // sent only when non-zero (the 8-byte form)
};
struct DataHeader {
  SiteId dst = 0;
  SiteId src = 0;
  uint8_t flags = 0;
};

// One complete frame inside a receive buffer (no copy).
struct FrameView {
  MsgType type;
  std::span<const uint8_t> payload;
  size_t size() const { return kFrameHeaderSize + payload.size(); }
};

// Splits the next frame off the front of `buffered`. nullopt: need more bytes.
// An error means the stream is unusable (the peer is broken or hostile).
Expected<std::optional<FrameView>, WireError> next_frame(std::span<const uint8_t> buffered);

// Control decoders: exact lengths, every field checked.
Expected<Hello, WireError> decode_hello(std::span<const uint8_t> payload);
Expected<Register, WireError> decode_register(std::span<const uint8_t> payload);
Expected<Accept, WireError> decode_accept(std::span<const uint8_t> payload);
Expected<Refuse, WireError> decode_refuse(std::span<const uint8_t> payload);
Expected<Routes, WireError> decode_routes(std::span<const uint8_t> payload);
Expected<Ping, WireError> decode_ping(std::span<const uint8_t> payload);
Expected<Pong, WireError> decode_pong(std::span<const uint8_t> payload);
Expected<PeerGone, WireError> decode_peer_gone(std::span<const uint8_t> payload);
Expected<Restarting, WireError> decode_restarting(std::span<const uint8_t> payload);
Expected<RouteUpdate, WireError> decode_route_update(std::span<const uint8_t> payload);
Expected<RouteResync, WireError> decode_route_resync(std::span<const uint8_t> payload);
Expected<DnsConfig, WireError> decode_dns_config(std::span<const uint8_t> payload);

// DATA: the header, and where the vnet header and the IP datagram start.
struct DataView {
  DataHeader header;
  std::span<const uint8_t> vnet;  // empty unless header.flags & kDataVnet
  std::span<const uint8_t> packet;
};
Expected<DataView, WireError> decode_data(std::span<const uint8_t> payload);

// Control encoders append one whole frame to `out`. They fail only when the
// message is too large or holds an invalid name/prefix (a caller bug).
Expected<void, WireError> encode(const Hello&, std::vector<uint8_t>& out);
Expected<void, WireError> encode(const Register&, std::vector<uint8_t>& out);
Expected<void, WireError> encode(const Accept&, std::vector<uint8_t>& out);
Expected<void, WireError> encode(const Refuse&, std::vector<uint8_t>& out);
Expected<void, WireError> encode(const Routes&, std::vector<uint8_t>& out);
Expected<void, WireError> encode(const Ping&, std::vector<uint8_t>& out);
Expected<void, WireError> encode(const Pong&, std::vector<uint8_t>& out);
Expected<void, WireError> encode(const PeerGone&, std::vector<uint8_t>& out);
Expected<void, WireError> encode(const Restarting&, std::vector<uint8_t>& out);
Expected<void, WireError> encode(const RouteUpdate&, std::vector<uint8_t>& out);
Expected<void, WireError> encode(const RouteResync&, std::vector<uint8_t>& out);
Expected<void, WireError> encode(const DnsConfig&, std::vector<uint8_t>& out);

// DATA is built in place so a packet read straight into a buffer needs no
// copy: reserve kDataFrameOverhead bytes in front of the (vnet header +)
// packet, then write the headers there. `body_size` = vnet header + packet.
inline constexpr size_t kDataFrameOverhead = kFrameHeaderSize + kDataHeaderSize;
void write_data_headers(std::span<uint8_t, kDataFrameOverhead> at, const DataHeader&, size_t body_size);
// The intermediary rewrites the source id of a frame it forwards, in place.
void stamp_data_source(std::span<uint8_t> frame, SiteId src);

// ---- Datagram records (see DATAGRAM RECORDS in the comment at the top) ----
// Implemented in netlib/datagram_record.cpp.

enum class RecordType : uint8_t {
  Data = 0x01,
  Keepalive = 0x02,
  Probe = 0x03,
  ProbeReply = 0x04,
};
const char* to_string(RecordType);

// AEAD of the datagram path; the id goes into the exporter context and,
// as the bit cipher_bit(id), into cipher offers.
enum class DatagramCipher : uint8_t {
  Aes256Gcm = 1,
  ChaCha20Poly1305 = 2,
};
const char* to_string(DatagramCipher);
constexpr uint8_t cipher_bit(DatagramCipher c) { return uint8_t(1u << (uint8_t(c) - 1)); }
inline constexpr uint8_t kCipherBitsAll = cipher_bit(DatagramCipher::Aes256Gcm) |
                                          cipher_bit(DatagramCipher::ChaCha20Poly1305);

inline constexpr size_t kRecordHeaderSize = 16;
inline constexpr size_t kRecordTagSize = 16;
inline constexpr size_t kRecordOverhead = kRecordHeaderSize + kRecordTagSize;
inline constexpr size_t kMaxRecordSize = 65507;
inline constexpr size_t kMaxRecordBody = kMaxRecordSize - kRecordOverhead;
// A counter value no sender may use (the wrap guard).
inline constexpr uint64_t kRecordCounterNever = UINT64_MAX;
inline constexpr size_t kProbeTokenSize = 8;
inline constexpr size_t kProbeReplyBodySize = 10;
inline constexpr size_t kMinProbeBody = kProbeReplyBodySize;  // a reply never outgrows its probe
inline constexpr size_t kMinDataRecordBody = kDataHeaderSize + 1;

enum class RecordError : uint8_t {
  Oversized,         // more than kMaxRecordSize bytes
  Truncated,         // fewer than kRecordOverhead bytes
  UnknownType,       // type not a RecordType
  BadReserved,       // reserved bytes not zero
  ZeroReceiver,      // receiver id 0
  CounterExhausted,  // counter 2^64 - 1
  BadBodyLength,     // body length impossible for the type
  BadPadding,        // PROBE padding not all zero (after opening)
};
const char* to_string(RecordError);

struct RecordHeader {
  RecordType type = RecordType::Keepalive;
  uint8_t epoch = 0;  // low 8 bits of the key epoch
  uint32_t receiver = 0;
  uint64_t counter = 0;
  bool operator==(const RecordHeader&) const = default;
};

// One record inside a receive buffer (no copy).
struct RecordView {
  RecordHeader header;
  std::span<const uint8_t> bytes;  // the whole record
  std::span<const uint8_t> aad() const { return bytes.first(kRecordHeaderSize); }
  std::span<const uint8_t> body() const {
    return bytes.subspan(kRecordHeaderSize, bytes.size() - kRecordOverhead);
  }
  std::span<const uint8_t, kRecordTagSize> tag() const { return bytes.last<kRecordTagSize>(); }
};

// Whether a (plaintext) body of `size` bytes is possible for `type`.
bool record_body_size_ok(RecordType type, size_t size);
// Checks everything that can be checked without keys (see the layout).
Expected<RecordView, RecordError> decode_record(std::span<const uint8_t> datagram);
void write_record_header(std::span<uint8_t, kRecordHeaderSize> at, const RecordHeader&);

// DATA record bodies start with the DATA payload header (no frame header).
void write_data_body_header(std::span<uint8_t, kDataHeaderSize> at, const DataHeader&);

struct ProbeReply {
  uint64_t token = 0;
  uint16_t probe_size = 0;  // the probe record's size as received
  bool operator==(const ProbeReply&) const = default;
};
// PROBE body: the token, padding checked to be zero.
Expected<uint64_t, RecordError> decode_probe_body(std::span<const uint8_t> body);
// Writes the token and zero padding over the whole of `body` (>= kMinProbeBody bytes).
void write_probe_body(std::span<uint8_t> body, uint64_t token);
Expected<ProbeReply, RecordError> decode_probe_reply(std::span<const uint8_t> body);
void write_probe_reply(std::span<uint8_t, kProbeReplyBodySize> at, const ProbeReply&);

}  // namespace dialout
