// Giving up what a daemon no longer needs once it has started.
//
// tund keeps only CAP_NET_ADMIN (routes, addresses, proxy neighbours, nft
// for masquerade) and can switch to an unprivileged user keeping it; the
// intermediary keeps nothing once its port is bound and can switch to an
// unprivileged user. Raw capset(2)/prctl(2): libcap is not among our
// dependencies, and the few calls needed are stable ABI.
#pragma once

#include <initializer_list>
#include <string>

#include "netlib/expected.hpp"

namespace dialout {

// Drops every capability not listed from the bounding, permitted,
// effective and inheritable sets, makes the listed ones exactly the
// inheritable and ambient sets, and sets no_new_privs. A program run from
// here (nft) then holds exactly the listed ones, also when this process is
// not uid 0 (systemd's DynamicUser, or after switch_to_user): without the
// ambient set a non-root exec gets no capability at all. no_new_privs still
// stops set-uid and file-capability gains. Works when the process already
// lacks some (under systemd); fails only if a listed capability cannot be
// kept.
Expected<void, std::string> keep_only_capabilities(std::initializer_list<int> keep);

// setgroups/setgid/setuid to `user` (from the password database), keeping
// the capabilities in `keep` across the switch (PR_SET_KEEPCAPS) and
// dropping the rest of the bounding set first. Needs CAP_SETUID,
// CAP_SETGID and CAP_SETPCAP (root); follow it with
// keep_only_capabilities(keep). Refuses a user that could regain root.
Expected<void, std::string> switch_to_user(const std::string& user, std::initializer_list<int> keep = {});

// True when the calling thread's effective set holds `cap`.
bool has_capability(int cap);

}  // namespace dialout
