// systemd readiness/status notification ("READY=1", "STATUS=...",
// "STOPPING=1") without libsystemd: one datagram to $NOTIFY_SOCKET.
#pragma once

#include <string>
#include <string_view>

#include "netlib/expected.hpp"

namespace dialout {

// Best effort and silent: a no-op when $NOTIFY_SOCKET is unset (not run by
// systemd, or Type=simple), and a failed send must never stop the daemon.
void sd_notify(std::string_view state);

// The same, to an explicit socket ("/path" or "@abstract"), reporting why
// it failed; sd_notify() uses it.
Expected<void, std::string> sd_notify_to(std::string_view socket, std::string_view state);

}  // namespace dialout
