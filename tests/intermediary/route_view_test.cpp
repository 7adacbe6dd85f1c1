#include "intermediary/route_view.hpp"

#include <gtest/gtest.h>

#include <string>

#include "intermediary/policy.hpp"
#include "tund/route_sync.hpp"

namespace dialout {
namespace {

using Bytes = std::vector<uint8_t>;

RouteEntry laptop(SiteId id) {
  IpAddr a = *IpAddr::parse("10.200.0.0");
  a.bytes[2] = static_cast<uint8_t>(id >> 8);
  a.bytes[3] = static_cast<uint8_t>(id);
  return RouteEntry{id, "laptop-" + std::to_string(id), {*Prefix::make(a, 32)}};
}

// Every frame in `bytes`, decoded; fails the test on anything else.
std::vector<RouteUpdate> frames(const Bytes& bytes) {
  std::vector<RouteUpdate> out;
  std::span<const uint8_t> rest(bytes);
  while (!rest.empty()) {
    auto f = next_frame(rest);
    EXPECT_TRUE(f.has_value() && f->has_value());
    if (!f || !f->has_value()) break;
    EXPECT_EQ((*f)->type, MsgType::RouteUpdate);
    EXPECT_LE((*f)->payload.size(), kMaxControlPayload);
    auto u = decode_route_update((*f)->payload);
    EXPECT_TRUE(u.has_value());
    if (u) out.push_back(*u);
    rest = rest.subspan((*f)->size());
  }
  return out;
}

TEST(RouteView, FiveThousandRouteSnapshotSplitsAndReassembles) {
  std::vector<RouteEntry> all;
  for (SiteId id = 1; id <= 5000; ++id) all.push_back(laptop(id));
  RouteView view;
  Bytes out;
  ASSERT_TRUE(view.snapshot(all, out));
  auto parts = frames(out);
  ASSERT_GT(parts.size(), 1u);  // one ROUTES frame held about 2,500: this needs several
  RouteSync sync;
  for (size_t i = 0; i < parts.size(); ++i) {
    EXPECT_EQ(parts[i].part, i);
    EXPECT_EQ(parts[i].parts, parts.size());
    EXPECT_EQ(parts[i].seq, 1u);
    auto want = i + 1 == parts.size() ? RouteSync::Outcome::Installed : RouteSync::Outcome::Pending;
    EXPECT_EQ(sync.apply(parts[i]), want) << i;
    if (want == RouteSync::Outcome::Pending) {
      EXPECT_TRUE(sync.table().empty()) << "never half a snapshot";
    }
  }
  ASSERT_EQ(sync.table().size(), 5000u);
  EXPECT_EQ(sync.table().at(4321).name, "laptop-4321");
  EXPECT_EQ(sync.seq(), view.seq());
}

TEST(RouteView, LargeDeltaSplitsToo) {
  RouteView view;
  Bytes out;
  ASSERT_TRUE(view.snapshot({}, out));
  RouteSync sync;
  for (auto& u : frames(out)) sync.apply(u);
  for (SiteId id = 1; id <= 6000; ++id) EXPECT_TRUE(view.update(laptop(id), true));
  out.clear();
  ASSERT_TRUE(view.flush(out));
  auto parts = frames(out);
  ASSERT_GT(parts.size(), 1u);
  for (auto& u : parts) EXPECT_EQ(u.kind, RouteUpdateKind::Delta);
  for (size_t i = 0; i + 1 < parts.size(); ++i) EXPECT_EQ(sync.apply(parts[i]), RouteSync::Outcome::Pending);
  EXPECT_TRUE(sync.table().empty()) << "never half a delta";
  EXPECT_EQ(sync.apply(parts.back()), RouteSync::Outcome::Installed);
  EXPECT_EQ(sync.table().size(), 6000u);
}

TEST(RouteView, OnlyChangesAreSentAndRemovesFollow) {
  RouteView view;
  Bytes out;
  ASSERT_TRUE(view.snapshot(std::vector<RouteEntry>{laptop(1), laptop(2)}, out));
  EXPECT_FALSE(view.update(laptop(1), true)) << "same entry: no change";
  EXPECT_FALSE(view.remove(99)) << "never in the view";
  EXPECT_FALSE(view.update(laptop(98), false)) << "invisible and absent";
  out.clear();
  ASSERT_TRUE(view.flush(out));
  EXPECT_TRUE(out.empty());
  RouteEntry moved = laptop(2);
  moved.prefixes.push_back(*Prefix::parse("10.9.0.0/24"));
  EXPECT_TRUE(view.update(moved, true));
  EXPECT_TRUE(view.update(laptop(1), false)) << "no longer reachable: removed";
  ASSERT_TRUE(view.flush(out));
  auto parts = frames(out);
  ASSERT_EQ(parts.size(), 1u);
  EXPECT_EQ(parts[0].seq, 2u);
  ASSERT_EQ(parts[0].entries.size(), 1u);
  EXPECT_EQ(parts[0].entries[0].prefixes.size(), 2u);
  EXPECT_EQ(parts[0].removed, std::vector<SiteId>{1});
}

TEST(RouteView, ReconcileQueuesOnlyTheDifference) {
  RouteView view;
  Bytes out;
  ASSERT_TRUE(view.snapshot(std::vector<RouteEntry>{laptop(1), laptop(2), laptop(3)}, out));
  view.reconcile(std::vector<RouteEntry>{laptop(1), laptop(3)});
  view.reconcile(std::vector<RouteEntry>{laptop(1), laptop(3), laptop(4)});
  out.clear();
  ASSERT_TRUE(view.flush(out));
  auto parts = frames(out);
  ASSERT_EQ(parts.size(), 1u);
  ASSERT_EQ(parts[0].entries.size(), 1u);
  EXPECT_EQ(parts[0].entries[0].id, 4u);
  EXPECT_EQ(parts[0].removed, std::vector<SiteId>{2});
  view.reconcile(std::vector<RouteEntry>{laptop(1), laptop(3), laptop(4)});
  EXPECT_FALSE(view.has_pending());
}

// The case: HQ may reach every laptop, laptops reach only HQ. One
// laptop joining changes HQ's view by one entry and no laptop's view.
TEST(RouteView, LaptopJoiningSendsOneEntryToHqOnly) {
  auto policy = Policy::parse(
      "[identity hq]\nregister = hq\nreach = *\n"
      "[group laptops]\nregister = laptop-*\nreach = hq\n",
      "fleet");
  ASSERT_TRUE(policy) << policy.error().to_string();
  struct Session {
    PeerIdentity who;
    SiteId id;
    RouteView view;
  };
  std::vector<Session> sessions;
  const RouteEntry hq{100000, "hq", {*Prefix::parse("10.0.0.0/16")}};
  sessions.push_back({{"hq", {}}, hq.id, {}});
  for (SiteId id = 1; id <= 5000; ++id) sessions.push_back({{"u" + std::to_string(id), {"laptops"}}, id, {}});
  // Snapshots as each registered: built from the same policy answers.
  Bytes out;
  for (auto& s : sessions) {
    std::vector<RouteEntry> visible;
    if (s.id != hq.id && policy->may_reach(s.who, hq.name)) visible.push_back(hq);
    if (s.id == hq.id) {
      for (SiteId id = 1; id <= 5000; ++id) visible.push_back(laptop(id));
    }
    ASSERT_TRUE(s.view.snapshot(visible, out));
  }
  EXPECT_EQ(sessions[0].view.size(), 5000u);

  const RouteEntry joined = laptop(5001);
  size_t told = 0;
  for (auto& s : sessions) {
    bool visible = s.id != joined.id && policy->may_reach(s.who, joined.name);
    s.view.update(joined, visible);
    out.clear();
    ASSERT_TRUE(s.view.flush(out));
    if (out.empty()) continue;
    ++told;
    EXPECT_EQ(s.who.name, "hq");
    auto parts = frames(out);
    ASSERT_EQ(parts.size(), 1u);
    EXPECT_EQ(parts[0].kind, RouteUpdateKind::Delta);
    ASSERT_EQ(parts[0].entries.size(), 1u);
    EXPECT_EQ(parts[0].entries[0].id, joined.id);
    EXPECT_TRUE(parts[0].removed.empty());
  }
  EXPECT_EQ(told, 1u);
}

TEST(RouteView, SplitPlanFillsFramesAndRefusesTooMany) {
  std::vector<SiteId> ids(20000);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<SiteId>(i + 1);
  Bytes out;
  ASSERT_TRUE(encode_split(7, RouteUpdateKind::Delta, {}, ids, out));
  auto parts = frames(out);
  ASSERT_EQ(parts.size(), 2u);  // (65535 - 14) / 4 = 16380 ids in the first
  EXPECT_EQ(parts[0].removed.size(), 16380u);
  EXPECT_EQ(parts[1].removed.size(), 20000u - 16380u);
  // More than kMaxUpdateParts frames: refused whole, nothing appended.
  std::vector<SiteId> huge(size_t{kMaxUpdateParts} * 16380 + 1, 1);
  out.clear();
  auto r = encode_split(8, RouteUpdateKind::Delta, {}, huge, out);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), WireError::TooManyEntries);
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace dialout
