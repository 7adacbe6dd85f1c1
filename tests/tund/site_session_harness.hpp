// Shared by the SiteSession tests: a fake clock, the session, and helpers
// that split its actions back into what a test checks.
#pragma once

#include <gtest/gtest.h>

#include <optional>
#include <vector>

#include "tund/site_session.hpp"

namespace dialout::site_session_test {

using namespace std::chrono_literals;
using Clock = SiteSession::Clock;
using State = SiteSession::State;
using Actions = std::vector<SiteSession::Action>;

constexpr auto kKeepalive = 1000ms;
constexpr auto kDeadAfter = 3000ms;
constexpr auto kHandshake = 2000ms;
constexpr auto kMin = 200ms;
constexpr auto kMax = 10000ms;

inline SiteSessionSettings settings(uint64_t seed = 42) {
  SiteSessionSettings s;
  s.registration.name = "office-a";
  s.registration.prefixes = {*Prefix::parse("10.1.0.0/24")};
  s.keepalive = kKeepalive;
  s.dead_after = kDeadAfter;
  s.handshake_timeout = kHandshake;
  s.reconnect_min = kMin;
  s.reconnect_max = kMax;
  s.seed = seed;
  return s;
}

template <class T>
std::vector<T> all(const Actions& actions) {
  std::vector<T> out;
  for (const auto& a : actions)
    if (auto* p = std::get_if<T>(&a)) out.push_back(*p);
  return out;
}
template <class T>
std::optional<T> one(const Actions& actions) {
  auto v = all<T>(actions);
  if (v.size() != 1) return std::nullopt;
  return v.front();
}

// The frames the session asked to send, split back into messages.
inline std::vector<MsgType> sent_types(const Actions& actions) {
  std::vector<MsgType> out;
  for (const auto& s : all<SiteSession::Send>(actions)) {
    auto f = next_frame(s.frame);
    EXPECT_TRUE(f && f->has_value() && (*f)->size() == s.frame.size()) << "one whole frame per Send";
    if (f && f->has_value()) out.push_back((*f)->type);
  }
  return out;
}
inline FrameView frame_of(const std::vector<uint8_t>& bytes) { return **next_frame(bytes); }
inline std::optional<Register> sent_register(const Actions& actions) {
  for (const auto& s : all<SiteSession::Send>(actions)) {
    auto f = frame_of(s.frame);
    if (f.type == MsgType::Register) return *decode_register(f.payload);
  }
  return std::nullopt;
}

struct Harness {
  explicit Harness(SiteSessionSettings s = settings()) : session(std::move(s)) {}
  SiteSession session;
  Clock::time_point now = Clock::time_point{} + 1h;

  Actions take() {
    Actions out;
    while (auto a = session.next_action()) out.push_back(std::move(*a));
    return out;
  }
  Actions feed(const auto& message) {
    std::vector<uint8_t> bytes;
    EXPECT_TRUE(encode(message, bytes));
    session.on_frame(now, frame_of(bytes));
    return take();
  }
  Actions feed_raw(MsgType type, std::vector<uint8_t> payload) {
    FrameView f{type, payload};
    session.on_frame(now, f);
    return take();
  }
  Actions tick_at(Clock::time_point t) {
    now = t;
    session.tick(now);
    return take();
  }
  // Start (or retry) through ACCEPT; returns the REGISTER sent.
  Register connect(SiteId id = 7) {
    if (session.state() == State::Waiting) session.start(now);
    EXPECT_EQ(session.state(), State::Connecting);
    take();
    session.transport_up(now, false);
    EXPECT_EQ(sent_types(take()), std::vector<MsgType>{MsgType::Hello});
    auto reg = sent_register(feed(Hello{kProtocolVersion, kCapAll}));
    EXPECT_TRUE(reg.has_value());
    feed(Accept{id, {}});
    EXPECT_EQ(session.state(), State::Ready);
    return reg.value_or(Register{});
  }
  // A failure's Close + ReconnectAfter; returns the delay.
  std::chrono::milliseconds fail_and_retry() {
    session.transport_failed(now, "test");
    auto a = take();
    auto r = one<SiteSession::ReconnectAfter>(a);
    EXPECT_TRUE(r.has_value());
    EXPECT_TRUE(one<SiteSession::Close>(a).has_value());
    now += r ? r->delay : 0ms;
    session.retry_due(now);
    EXPECT_TRUE(one<SiteSession::Dial>(take()).has_value());
    return r ? r->delay : 0ms;
  }
};

}  // namespace dialout::site_session_test
