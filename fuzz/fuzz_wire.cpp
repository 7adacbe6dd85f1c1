// Fuzzes the frame splitter and every decoder with a byte stream as it
// would arrive from TLS. Whatever decodes must re-encode to the same bytes
// (the format has exactly one encoding per message).
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "netlib/wire.hpp"

using namespace dialout;

namespace {

template <class M>
void must_round_trip(const Expected<M, WireError>& decoded, const FrameView& frame) {
  if (!decoded) return;
  std::vector<uint8_t> again;
  if (!encode(*decoded, again)) std::abort();
  std::span<const uint8_t> original(frame.payload.data() - kFrameHeaderSize, frame.size());
  if (again.size() != original.size() || !std::equal(again.begin(), again.end(), original.begin())) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> rest(data, size);
  for (int guard = 0; guard < 4096; ++guard) {
    auto f = next_frame(rest);
    if (!f || !f->has_value()) break;
    const FrameView frame = **f;
    if (frame.size() > kMaxFrameSize) std::abort();
    switch (frame.type) {
      case MsgType::Hello: must_round_trip(decode_hello(frame.payload), frame); break;
      case MsgType::Register: must_round_trip(decode_register(frame.payload), frame); break;
      case MsgType::Accept: must_round_trip(decode_accept(frame.payload), frame); break;
      case MsgType::Refuse: must_round_trip(decode_refuse(frame.payload), frame); break;
      case MsgType::Routes: must_round_trip(decode_routes(frame.payload), frame); break;
      case MsgType::Ping: must_round_trip(decode_ping(frame.payload), frame); break;
      case MsgType::Pong: must_round_trip(decode_pong(frame.payload), frame); break;
      case MsgType::PeerGone: must_round_trip(decode_peer_gone(frame.payload), frame); break;
      case MsgType::Restarting: must_round_trip(decode_restarting(frame.payload), frame); break;
      case MsgType::RouteUpdate: must_round_trip(decode_route_update(frame.payload), frame); break;
      case MsgType::RouteResync: must_round_trip(decode_route_resync(frame.payload), frame); break;
      case MsgType::DnsConfig: must_round_trip(decode_dns_config(frame.payload), frame); break;
      case MsgType::Data: {
        auto d = decode_data(frame.payload);
        if (d && d->packet.data() + d->packet.size() != frame.payload.data() + frame.payload.size()) std::abort();
        break;
      }
    }
    rest = rest.subspan(frame.size());
  }
  return 0;
}
