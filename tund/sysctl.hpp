// Reads and writes kernel settings under /proc/sys. The files are
// per network namespace (of the calling thread), which the tests rely on.
#pragma once

#include <string>

#include "netlib/expected.hpp"

namespace dialout {

// key is the dotted-free path below /proc/sys, e.g.
// "net/ipv6/conf/eth0/proxy_ndp" (interface names may contain dots, which
// is why the sysctl(8) dotted form is not used). The value is returned
// without its trailing newline.
Expected<std::string, std::string> read_sysctl(const std::string& key);
Expected<void, std::string> write_sysctl(const std::string& key, const std::string& value);

}  // namespace dialout
