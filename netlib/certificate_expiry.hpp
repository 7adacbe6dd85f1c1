// When a certificate stops being valid (its notAfter), for `dialoutctl
// status`: the relay shows each site's, tund its own. Read once (at the
// handshake, at start), never per request.
#pragma once

#include <openssl/x509.h>

#include <cstdint>
#include <string>

#include "netlib/expected.hpp"

namespace dialout {

// Unix seconds (UTC); an error when the field cannot be read.
Expected<int64_t, std::string> certificate_not_after(const X509* cert);
// Of the first certificate in a PEM file (a chain's leaf).
Expected<int64_t, std::string> certificate_file_not_after(const std::string& path);
// "2027-01-31T12:00:00Z"; "" for 0 (unknown).
std::string format_utc(int64_t unix_seconds);

}  // namespace dialout
