#include "tund/resolver.hpp"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>

#include "tests/support/in_process.hpp"

namespace dialout {
namespace {

using namespace std::chrono_literals;

// A look-up that answers only when the test lets it, and counts calls.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  int allowed = 0, started = 0;
  std::vector<std::string> hosts;
  Resolver::Result operator()(const std::string& host) {
    std::unique_lock lock(mu);
    ++started;
    hosts.push_back(host);
    cv.wait(lock, [&] { return allowed > 0; });
    --allowed;
    if (host == "bad.test") return unexpected(std::string("Name or service not known"));
    return Resolver::Addresses{*IpAddr::parse("192.0.2.1"), *IpAddr::parse("2001:db8::1")};
  }
  void allow(int n = 1) {
    std::lock_guard lock(mu);
    allowed += n;
    cv.notify_all();
  }
  int started_count() {
    std::lock_guard lock(mu);
    return started;
  }
};

struct Answers {
  std::vector<std::pair<std::string, Resolver::Result>> got;
  Resolver::OnResult sink() {
    return [this](const std::string& h, Resolver::Result r) { got.emplace_back(h, std::move(r)); };
  }
};

TEST(Resolver, AnswersOnTheLoopWithoutBlockingIt) {
  EventLoop loop;
  auto gate = std::make_shared<Gate>();
  Answers answers;
  Resolver r(loop, answers.sink(), [gate](const std::string& h) { return (*gate)(h); });
  r.request("relay.test");
  ASSERT_TRUE(run_loop_until(loop, [&] { return gate->started_count() == 1; }, 5s, 1ms));
  loop.run_once(0ms);
  EXPECT_TRUE(answers.got.empty()) << "the loop runs while the look-up hangs";
  gate->allow();
  ASSERT_TRUE(run_loop_until(loop, [&] { return answers.got.size() == 1; }, 5s, 1ms));
  EXPECT_EQ(answers.got[0].first, "relay.test");
  ASSERT_TRUE(answers.got[0].second);
  EXPECT_EQ(answers.got[0].second->size(), 2u);

  r.request("bad.test");
  gate->allow();
  ASSERT_TRUE(run_loop_until(loop, [&] { return answers.got.size() == 2; }, 5s, 1ms));
  ASSERT_FALSE(answers.got[1].second);
  EXPECT_EQ(answers.got[1].second.error(), "Name or service not known");
}

TEST(Resolver, OneRunsAndOneWaitsTheNewestRequestWins) {
  EventLoop loop;
  auto gate = std::make_shared<Gate>();
  Answers answers;
  Resolver r(loop, answers.sink(), [gate](const std::string& h) { return (*gate)(h); });
  r.request("a.test");
  ASSERT_TRUE(run_loop_until(loop, [&] { return gate->started_count() == 1; }, 5s, 1ms));
  for (int i = 0; i < 50; ++i) r.request("b.test");
  r.request("c.test");
  gate->allow(10);
  ASSERT_TRUE(run_loop_until(loop, [&] { return answers.got.size() == 2; }, 5s, 1ms));
  for (int i = 0; i < 5; ++i) loop.run_once(1ms);
  EXPECT_EQ(r.lookups(), 2u) << "the burst while one ran became one more look-up";
  EXPECT_EQ(answers.got[1].first, "c.test");
}

TEST(Resolver, GoingAwayDoesNotWaitForAHangingLookup) {
  EventLoop loop;
  auto gate = std::make_shared<Gate>();
  Answers answers;
  auto r = std::make_unique<Resolver>(loop, answers.sink(), [gate](const std::string& h) { return (*gate)(h); });
  r->request("slow.test");
  ASSERT_TRUE(run_loop_until(loop, [&] { return gate->started_count() == 1; }, 5s, 1ms));
  auto before = std::chrono::steady_clock::now();
  r.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - before, 1s);
  gate->allow();  // the detached thread finishes on its own; its answer goes nowhere
  for (int i = 0; i < 5; ++i) loop.run_once(1ms);
  EXPECT_TRUE(answers.got.empty());
}

TEST(Resolver, SystemLookupOfANumericAddressNeedsNoNameServer) {
  auto r = Resolver::system_lookup("127.0.0.1");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(*r, Resolver::Addresses{*IpAddr::parse("127.0.0.1")});
}

}  // namespace
}  // namespace dialout
