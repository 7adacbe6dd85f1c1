// Giving up what a daemon no longer needs once it has started.
//
// tund keeps only CAP_NET_ADMIN (routes, addresses, proxy neighbours, nft
// for masquerade); the intermediary keeps nothing once its port is bound
// and can switch to an unprivileged user. Raw capset(2)/prctl(2): libcap is
// not among our dependencies, and the few calls needed are stable ABI.
#pragma once

#include <initializer_list>
#include <string>

#include "netlib/expected.hpp"

namespace dialout {

// Drops every capability not listed from the bounding, permitted,
// effective, inheritable and ambient sets, and sets no_new_privs. Children
// (e.g. nft) can then hold at most the listed ones. Works when the process
// already lacks some (under systemd); fails only if a listed capability
// cannot be kept.
Expected<void, std::string> keep_only_capabilities(std::initializer_list<int> keep);

// setgroups/setgid/setuid to `user` (from the password database). Must run
// before keep_only_capabilities({}) because it needs CAP_SETUID/CAP_SETGID.
Expected<void, std::string> switch_to_user(const std::string& user);

// True when the calling thread's effective set holds `cap`.
bool has_capability(int cap);

}  // namespace dialout
