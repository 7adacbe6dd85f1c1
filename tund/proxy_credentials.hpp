// The proxy's user name and password (`proxy-credentials = FILE`), read
// from a file so they never appear on a command line, in a config file
// others may read, or in a log line. Used for HTTP Basic (RFC 7617) and
// SOCKS5 username/password (RFC 1929) authentication.
//
// File format: exactly one line `user:password`, optionally ending in one
// newline. The user name is everything before the first ':' (RFC 7617 forbids
// ':' in it), the password everything after, taken literally (no trimming:
// spaces are part of it). Each is 1..255 bytes (RFC 1929's limit) with no
// control characters (carriage returns included). The file must be a
// regular file that other users can neither read, write nor execute
// (chmod 600 or 640).
//
// Messages name the problem and, at most, a byte position; never the user
// name or the password.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "netlib/expected.hpp"

namespace dialout {

struct ProxyCredentials {
  std::string user;
  std::string password;
};

constexpr size_t kMaxProxyCredentialLength = 255;
// Read at most this much of the file; a longer file is refused.
constexpr size_t kMaxProxyCredentialsFileBytes = 1024;

Expected<ProxyCredentials, std::string> parse_proxy_credentials(std::string_view file_text);

// `st_mode` from stat(2) of the file.
Expected<void, std::string> check_proxy_credentials_mode(uint32_t st_mode);

}  // namespace dialout
