// Drives SiteSession with any sequence of events an intermediary, the
// network and the clock could produce, and checks what it answers: every
// Send is exactly one whole frame the site may send, delays stay within the
// configured bounds, a stopped session says nothing more, Ready is reached
// only through ACCEPT, and no call queues an unbounded number of actions.
//
// Input: a sequence of operations, one byte each, some followed by operands:
//   0 frame: u8 type | u8 length | payload (length bytes)
//   1 tick after u8 * 16 ms     2 transport up     3 transport failed
//   4 retry due                 5 reconnect now    6 bytes received
//   7 start                     8 stop (rare: only when the next byte is 0xff)
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <variant>
#include <vector>

#include "tund/site_session.hpp"

using namespace dialout;
using namespace std::chrono_literals;

namespace {

SiteSessionSettings fuzz_settings() {
  SiteSessionSettings s;
  s.registration.name = "office-a";
  s.registration.prefixes = {*Prefix::parse("10.1.0.0/24")};
  s.keepalive = 100ms;
  s.dead_after = 300ms;
  s.handshake_timeout = 300ms;
  s.reconnect_min = 10ms;
  s.reconnect_max = 1000ms;
  s.restart_hint_max = 2000ms;
  s.restart_window_max = 3000ms;
  s.refused_retry = 4000ms;
  return s;
}

void check_send(const std::vector<uint8_t>& frame) {
  auto f = next_frame(frame);
  if (!f || !f->has_value() || (*f)->size() != frame.size()) std::abort();
  switch ((*f)->type) {
    case MsgType::Hello: if (!decode_hello((*f)->payload)) std::abort(); break;
    case MsgType::Register: if (!decode_register((*f)->payload)) std::abort(); break;
    case MsgType::Ping: if (!decode_ping((*f)->payload)) std::abort(); break;
    case MsgType::Pong: if (!decode_pong((*f)->payload)) std::abort(); break;
    default: std::abort();  // a site sends nothing else on its own
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto settings = fuzz_settings();
  SiteSession s(settings);
  auto now = SiteSession::Clock::time_point{} + 1h;
  std::span<const uint8_t> in(data, size);
  auto take = [&](size_t n) {
    auto out = in.first(std::min(n, in.size()));
    in = in.subspan(out.size());
    return out;
  };
  bool accepted_since_dial = false;
  while (!in.empty()) {
    uint8_t op = take(1)[0] % 9;
    auto before = s.state();
    switch (op) {
      case 0: {
        auto head = take(2);
        if (head.size() < 2) return 0;
        auto payload = take(head[1]);
        s.on_frame(now, FrameView{MsgType(head[0]), payload});
        break;
      }
      case 1: {
        auto d = take(1);
        now += std::chrono::milliseconds(16 * (d.empty() ? 1 : d[0]));
        s.tick(now);
        break;
      }
      case 2: s.transport_up(now, false); break;
      case 3: s.transport_failed(now, "fuzz"); break;
      case 4: s.retry_due(now); break;
      case 5: s.reconnect_now(now, "fuzz"); break;
      case 6: s.received(now); break;
      case 7: s.start(now); break;
      case 8: {
        auto b = take(1);
        if (!b.empty() && b[0] == 0xff) s.stop();
        break;
      }
    }
    size_t actions = 0;
    while (auto a = s.next_action()) {
      if (++actions > 16) std::abort();
      if (before == SiteSession::State::Stopped) std::abort();  // stopped means silent
      if (auto* send = std::get_if<SiteSession::Send>(&*a)) check_send(send->frame);
      if (std::holds_alternative<SiteSession::Dial>(*a)) accepted_since_dial = false;
      if (std::holds_alternative<SiteSession::Accepted>(*a)) accepted_since_dial = true;
      if (auto* r = std::get_if<SiteSession::ReconnectAfter>(&*a)) {
        auto longest = std::max({settings.reconnect_max, settings.restart_hint_max + settings.restart_window_max,
                                 settings.refused_retry + settings.refused_retry / 4});
        if (r->delay < 0ms || r->delay > longest) std::abort();
        if (s.state() != SiteSession::State::Waiting) std::abort();
      }
    }
    if (s.ready() && !accepted_since_dial) std::abort();
  }
  return 0;
}
