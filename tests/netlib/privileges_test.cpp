#include "netlib/privileges.hpp"

#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <string>

#include <gtest/gtest.h>

#include "tund/masquerade.hpp"
#include "tund/netlink.hpp"
#include "tund/subprocess.hpp"

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

constexpr uid_t kNobody = 65534;

// The effective capabilities of a program run from here (what nft gets),
// from its /proc/self/status; ~0 when that cannot be read.
uint64_t child_effective_caps() {
  auto r = run_process({"/bin/cat", "/proc/self/status"}, "", std::chrono::seconds(5));
  if (!r || r->exit_code != 0) return ~0ull;
  auto at = r->output.find("CapEff:");
  if (at == std::string::npos) return ~0ull;
  return std::stoull(r->output.substr(at + 7), nullptr, 16);
}

bool holds(uint64_t caps, int cap) { return (caps >> cap) & 1u; }

// What tund does after setup, checked in this (child) process: routes over
// netlink and the nft child, both in a network namespace of its own so the
// host is untouched. 0 when both work, else a code naming the step.
int route_and_nft_work() {
  auto nl = Netlink::open();
  if (!nl) return 20;
  auto lo = nl->ifindex("lo");
  if (!lo || !nl->set_link(*lo, true, std::nullopt)) return 21;
  if (!nl->add_route(*lo, *Prefix::parse("10.99.0.0/24"), 50)) return 22;
  if (!nl->del_route(*lo, *Prefix::parse("10.99.0.0/24"), 50)) return 23;
  auto m = Masquerade::install("dlcap0");
  if (!m) return 24;
  auto listed = run_process({"/usr/sbin/nft", "list", "tables"}, "", std::chrono::seconds(5));
  if (!listed || listed->output.find("dialout_dlcap0") == std::string::npos) return 25;
  if (!m->remove()) return 26;  // the exit path: under systemd this is what failed
  listed = run_process({"/usr/sbin/nft", "list", "tables"}, "", std::chrono::seconds(5));
  if (!listed || listed->output.find("dialout_dlcap0") != std::string::npos) return 27;
  return 0;
}

// The unit's SystemCallFilter=@system-service ~@privileged with
// SystemCallErrorNumber=EPERM, as far as it concerns us: capset(2) fails
// with EPERM (it is in @privileged). Inherited by children, like systemd's.
bool forbid_capset_like_the_unit() {
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_capset, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog program{static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
  return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 && prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program, 0, 0) == 0;
}

bool can_test_caps() {
  return has_capability(CAP_SETUID) && has_capability(CAP_SYS_ADMIN) && has_capability(CAP_NET_ADMIN) &&
         ::access("/usr/sbin/nft", X_OK) == 0;
}

// systemd's DynamicUser= with AmbientCapabilities=CAP_NET_ADMIN: a non-root
// uid holding CAP_NET_ADMIN in its permitted, effective, inheritable and
// ambient sets, under the unit's seccomp filter. keep_only_capabilities must
// leave the capability to exec'd children (nft removing the masquerade
// tables at exit), not clear it, and must not fail on the filter: there is
// nothing left to drop.
TEST(Privileges, UnderTheUnitTheNftChildKeepsNetAdmin) {
  if (!can_test_caps()) GTEST_SKIP() << "needs root and /usr/sbin/nft";
  int rc = in_child([] {
    if (::unshare(CLONE_NEWNET) != 0) return 1;
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0 || setgroups(0, nullptr) != 0) return 2;
    if (setresgid(kNobody, kNobody, kNobody) != 0 || setresuid(kNobody, kNobody, kNobody) != 0) return 3;
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2]{};
    data[0].permitted = data[0].effective = data[0].inheritable = 1u << CAP_NET_ADMIN;
    if (syscall(SYS_capset, &header, data) != 0) return 4;
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_ADMIN, 0, 0) != 0) return 5;
    if (!holds(child_effective_caps(), CAP_NET_ADMIN)) return 6;  // the set-up is right
    if (!forbid_capset_like_the_unit()) return 10;
    if (!keep_only_capabilities({CAP_NET_ADMIN})) return 7;
    if (getuid() != kNobody || !has_capability(CAP_NET_ADMIN)) return 8;
    if (!holds(child_effective_caps(), CAP_NET_ADMIN)) return 9;
    return route_and_nft_work();
  });
  EXPECT_EQ(rc, 0) << "7: keep_only_capabilities failed; 9: an exec'd child lost CAP_NET_ADMIN; 2x: see "
                       "route_and_nft_work";
}

// tund --user outside systemd: root switches to an unprivileged account
// keeping CAP_NET_ADMIN, for itself (netlink) and for nft.
TEST(Privileges, SwitchesUserKeepingNetAdminForItselfAndItsChildren) {
  if (!can_test_caps()) GTEST_SKIP() << "needs root and /usr/sbin/nft";
  int rc = in_child([] {
    if (::unshare(CLONE_NEWNET) != 0) return 1;
    if (!switch_to_user("nobody", {CAP_NET_ADMIN})) return 2;
    if (!keep_only_capabilities({CAP_NET_ADMIN})) return 3;
    if (getuid() != kNobody || geteuid() != kNobody || getgid() != kNobody) return 4;
    if (!has_capability(CAP_NET_ADMIN)) return 5;
    if (has_capability(CAP_SETUID) || has_capability(CAP_SYS_ADMIN) || has_capability(CAP_DAC_OVERRIDE)) return 6;
    if (prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN, 0, 0, 0) != 0 || prctl(PR_CAPBSET_READ, CAP_SETUID, 0, 0, 0) != 0)
      return 7;  // gone from the bounding set too
    if (setuid(0) == 0) return 8;
    if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) return 9;
    const uint64_t child = child_effective_caps();
    if (child != (1ull << CAP_NET_ADMIN)) return 10;  // exactly CAP_NET_ADMIN
    return route_and_nft_work();
  });
  EXPECT_EQ(rc, 0) << "see the codes in the test body and route_and_nft_work";
}

TEST(Privileges, WithoutKeepingNetAdminRouteChangesFail) {
  if (!can_test_caps()) GTEST_SKIP() << "needs root and /usr/sbin/nft";
  // The control for the test above: the same steps without the capability
  // fail, so its success is the capability's doing.
  int rc = in_child([] {
    if (::unshare(CLONE_NEWNET) != 0) return 1;
    if (!switch_to_user("nobody")) return 2;
    if (!keep_only_capabilities({})) return 3;
    if (child_effective_caps() != 0) return 4;
    return route_and_nft_work() == 21 ? 0 : 5;  // setting lo up is refused
  });
  EXPECT_EQ(rc, 0);
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
