// Network-namespace fixtures for tests that touch the kernel's networking.
// Namespaces are per thread: a test body runs on a fresh thread that
// unshares CLONE_NEWNET, so nothing touches the host's namespace, and
// everything (links, routes, nft tables, sysctls) disappears when the
// thread and the fds it opened are gone. Child processes (ip, nft) started
// from that thread inherit its namespace.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "netlib/unique_fd.hpp"

namespace dialout::testing {

// CAP_NET_ADMIN for the work, CAP_SYS_ADMIN for unshare(CLONE_NEWNET).
bool have_netns_caps();

#define REQUIRE_NETNS_CAPS()                                                  \
  do {                                                                        \
    if (!::dialout::testing::have_netns_caps()) {                             \
      GTEST_SKIP() << "needs CAP_NET_ADMIN and CAP_SYS_ADMIN";                \
    }                                                                         \
  } while (0)

// Runs body on a new thread inside a new, empty network namespace (with lo
// up) and joins it. Fatal assertions inside body end only body.
void in_fresh_netns(const std::function<void()>& body);

// Two namespaces for one test thread: "a" is the thread's namespace when
// created (made by in_fresh_netns), "b" a new one. Switches the calling
// thread between them; sockets keep the namespace they were made in.
class NetnsPair {
 public:
  NetnsPair();  // on failure valid() is false and a test failure was recorded
  bool valid() const { return a_.valid() && b_.valid(); }
  void enter_a() const;
  void enter_b() const;
  // A path naming namespace b for `ip link set X netns <path>`.
  std::string b_path() const;

 private:
  UniqueFd a_, b_;
};

// Runs argv (no shell) in the calling thread's namespace; success when it
// exits 0, otherwise the failure says what it printed.
::testing::AssertionResult run(const std::vector<std::string>& argv);
// Same, returning what it printed (empty on failure, recorded as a failure).
std::string run_output(const std::vector<std::string>& argv);

}  // namespace dialout::testing
