#include "netlib/privileges.hpp"

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace dialout {
namespace {

// Runs body in a forked child (dropping capabilities is irreversible) and
// returns its exit status.
template <class Body>
int in_child(Body body) {
  pid_t pid = fork();
  if (pid == 0) _exit(body());
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
}

TEST(Privileges, KeepsOnlyTheListedCapability) {
  if (!has_capability(CAP_NET_ADMIN) || !has_capability(CAP_SYS_ADMIN)) GTEST_SKIP() << "needs root";
  int rc = in_child([] {
    if (!keep_only_capabilities({CAP_NET_ADMIN})) return 1;
    if (!has_capability(CAP_NET_ADMIN)) return 2;
    if (has_capability(CAP_SYS_ADMIN) || has_capability(CAP_DAC_OVERRIDE) || has_capability(CAP_SETUID)) return 3;
    if (prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN, 0, 0, 0) != 0) return 4;  // gone from the bounding set too
    if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) return 5;
    return 0;
  });
  EXPECT_EQ(rc, 0);
}

TEST(Privileges, DropsEverythingAndSwitchesUser) {
  if (!has_capability(CAP_SETUID)) GTEST_SKIP() << "needs root";
  int rc = in_child([] {
    if (!switch_to_user("nobody")) return 1;
    if (!keep_only_capabilities({})) return 2;
    if (getuid() == 0 || geteuid() == 0) return 3;
    if (has_capability(CAP_NET_BIND_SERVICE)) return 4;
    return 0;
  });
  EXPECT_EQ(rc, 0);
}

TEST(Privileges, RefusesToKeepWhatItDoesNotHold) {
  if (!has_capability(CAP_SETUID)) GTEST_SKIP() << "needs root";
  int rc = in_child([] {
    if (!keep_only_capabilities({})) return 1;
    auto again = keep_only_capabilities({CAP_NET_ADMIN});
    return again.has_value() ? 2 : 0;
  });
  EXPECT_EQ(rc, 0);
}

TEST(Privileges, UnknownUserIsAnError) {
  auto r = switch_to_user("no-such-user-dialout");
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().find("not found"), std::string::npos);
}

}  // namespace
}  // namespace dialout
