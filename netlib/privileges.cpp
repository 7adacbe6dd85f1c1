#include "netlib/privileges.hpp"

#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <vector>

#include <fmt/core.h>

namespace dialout {
namespace {

struct CapSets {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
};

bool get_caps(CapSets& c) { return syscall(SYS_capget, &c.header, c.data) == 0; }
bool set_caps(CapSets& c) { return syscall(SYS_capset, &c.header, c.data) == 0; }

int last_cap() {
  std::ifstream f("/proc/sys/kernel/cap_last_cap");
  int n = 40;
  if (f) f >> n;
  return n;
}

std::string errno_text() { return std::strerror(errno); }

bool kept(std::initializer_list<int> keep, int cap) {
  for (int k : keep)
    if (k == cap) return true;
  return false;
}

// True when capset(2) would change nothing that matters: permitted and
// effective are exactly `wanted`, and inheritable holds it (the ambient set
// needs that). Extra inheritable bits grant nothing under no_new_privs.
bool nothing_to_change(const CapSets& have, const CapSets& wanted) {
  for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; ++i) {
    const auto& h = have.data[i];
    const auto& w = wanted.data[i];
    if (h.permitted != w.permitted || h.effective != w.effective || (h.inheritable & w.inheritable) != w.inheritable)
      return false;
  }
  return true;
}

// The bounding set caps what any later exec can regain. EPERM (no
// CAP_SETPCAP, e.g. already confined by systemd) leaves it to the
// permitted-set drop, which needs no privilege.
void drop_bounding_set(std::initializer_list<int> keep) {
  for (int cap = 0; cap <= last_cap(); ++cap) {
    if (!kept(keep, cap) && prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1) (void)prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
  }
}

}  // namespace

bool has_capability(int cap) {
  CapSets c;
  if (!get_caps(c)) return false;
  return (c.data[cap / 32].effective >> (cap % 32)) & 1u;
}

Expected<void, std::string> keep_only_capabilities(std::initializer_list<int> keep) {
  drop_bounding_set(keep);
  CapSets c;
  if (!get_caps(c)) return unexpected("capget: " + errno_text());
  CapSets wanted;
  for (int cap : keep) {
    uint32_t bit = 1u << (cap % 32);
    if (!(c.data[cap / 32].permitted & bit))
      return unexpected(fmt::format("capability {} is required but not held (run as root or grant it)", cap));
    wanted.data[cap / 32].permitted |= bit;
    wanted.data[cap / 32].effective |= bit;
    wanted.data[cap / 32].inheritable |= bit;  // the ambient set needs it
  }
  for (int cap = 0; cap <= last_cap(); ++cap) {
    if (!kept(keep, cap) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0) == 1)
      (void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, cap, 0, 0);
  }
  // Under the unit there is nothing left to drop, and capset(2) is not
  // even allowed there (SystemCallFilter=~@privileged): call it only when
  // something changes.
  if (!nothing_to_change(c, wanted) && !set_caps(wanted)) return unexpected("capset: " + errno_text());
  for (int cap : keep) {
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0) != 1 &&
        prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0)
      return unexpected(fmt::format("ambient capability {}: {}", cap, errno_text()));
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return unexpected("no_new_privs: " + errno_text());
  return {};
}

Expected<void, std::string> switch_to_user(const std::string& user, std::initializer_list<int> keep) {
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  if (getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &found) != 0 || found == nullptr)
    return unexpected(fmt::format("user '{}' not found", user));
  // While CAP_SETPCAP is still effective (the uid change clears the
  // effective set); it leaves the permitted and effective sets alone.
  drop_bounding_set(keep);
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) return unexpected("keepcaps: " + errno_text());
  if (setgroups(0, nullptr) != 0) return unexpected("setgroups: " + errno_text());
  if (setgid(pw.pw_gid) != 0) return unexpected(fmt::format("setgid {}: {}", pw.pw_gid, errno_text()));
  if (setuid(pw.pw_uid) != 0) return unexpected(fmt::format("setuid {}: {}", pw.pw_uid, errno_text()));
  (void)prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
  if (pw.pw_uid != 0 && setuid(0) == 0) return unexpected("could regain root after switching user");
  // PR_SET_KEEPCAPS kept the whole permitted set: keep only the listed ones.
  CapSets c;
  if (!get_caps(c)) return unexpected("capget: " + errno_text());
  CapSets wanted;
  for (int cap : keep) {
    uint32_t bit = 1u << (cap % 32);
    if (!(c.data[cap / 32].permitted & bit))
      return unexpected(fmt::format("capability {} was lost switching to '{}'", cap, user));
    wanted.data[cap / 32].permitted |= bit;
    wanted.data[cap / 32].effective |= bit;
  }
  if (!set_caps(wanted)) return unexpected("capset: " + errno_text());
  return {};
}

}  // namespace dialout
