#include "tests/support/netns.hpp"

#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include <fmt/format.h>

#include "tund/subprocess.hpp"

namespace dialout::testing {
namespace {

constexpr std::chrono::milliseconds kCommandTimeout{10000};

UniqueFd current_netns() { return UniqueFd(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)); }

}  // namespace

bool have_netns_caps() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (::syscall(SYS_capget, &header, data) != 0) return false;
  auto has = [&](int cap) { return (data[cap / 32].effective >> (cap % 32)) & 1u; };
  return has(CAP_NET_ADMIN) && has(CAP_SYS_ADMIN);
}

void in_fresh_netns(const std::function<void()>& body) {
  std::thread worker([&] {
    ASSERT_EQ(::unshare(CLONE_NEWNET), 0) << std::strerror(errno);
    ASSERT_TRUE(run({"ip", "link", "set", "lo", "up"}));
    body();
  });
  worker.join();
}

NetnsPair::NetnsPair() {
  a_ = current_netns();
  EXPECT_TRUE(a_.valid()) << std::strerror(errno);
  if (::unshare(CLONE_NEWNET) != 0) {
    ADD_FAILURE() << "unshare: " << std::strerror(errno);
    return;
  }
  b_ = current_netns();
  EXPECT_TRUE(b_.valid()) << std::strerror(errno);
  EXPECT_TRUE(run({"ip", "link", "set", "lo", "up"}));
  enter_a();
}

void NetnsPair::enter_a() const { EXPECT_EQ(::setns(a_.get(), CLONE_NEWNET), 0) << std::strerror(errno); }
void NetnsPair::enter_b() const { EXPECT_EQ(::setns(b_.get(), CLONE_NEWNET), 0) << std::strerror(errno); }

std::string NetnsPair::b_path() const { return fmt::format("/proc/{}/fd/{}", ::getpid(), b_.get()); }

::testing::AssertionResult run(const std::vector<std::string>& argv) {
  auto r = run_process(argv, "", kCommandTimeout);
  std::string line = fmt::format("{}", fmt::join(argv, " "));
  if (!r) return ::testing::AssertionFailure() << line << ": " << r.error();
  if (r->exit_code != 0) {
    return ::testing::AssertionFailure() << line << ": exit " << r->exit_code << ": " << r->output;
  }
  return ::testing::AssertionSuccess();
}

std::string run_output(const std::vector<std::string>& argv) {
  auto r = run_process(argv, "", kCommandTimeout);
  std::string line = fmt::format("{}", fmt::join(argv, " "));
  if (!r) {
    ADD_FAILURE() << line << ": " << r.error();
    return {};
  }
  if (r->exit_code != 0) {
    ADD_FAILURE() << line << ": exit " << r->exit_code << ": " << r->output;
    return {};
  }
  return r->output;
}

}  // namespace dialout::testing
