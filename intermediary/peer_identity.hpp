// Who a peer is, as read from its (already verified) client certificate.
//
// Where the attributes live — the one documented place:
//   user name = the subject's commonName (CN), exactly one, required;
//   groups    = every organizationalUnitName (OU) value in the subject, in
//               certificate order, duplicates removed; zero or more.
// e.g. `openssl req -subj "/O=Example/OU=eng/OU=vpn-users/CN=alice"` gives
// user "alice" in groups "eng" and "vpn-users".
//
// Why the subject and not an extension: every CA tool can set subject
// fields, and the CA's signature already vouches for them. Only issue OUs
// from a CA you trust for authorisation: an OU is a grant.
//
// Strict, because these strings select policy sections and appear in logs:
// each value is converted to UTF-8 and must be 1..64 bytes with no control
// characters (C0, DEL, C1 — so no NUL, newline or escape sequences); more
// than one CN is refused as ambiguous; more than 16 distinct OUs is refused
// rather than silently dropping a grant.
#pragma once

#include <openssl/x509.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "netlib/expected.hpp"

namespace dialout {

struct PeerIdentity {
  std::string name;                 // subject CN
  std::vector<std::string> groups;  // subject OUs
  int64_t not_after = 0;            // certificate expiry, Unix seconds (0: unreadable), for status

  bool in_group(std::string_view g) const {
    for (const auto& x : groups) {
      if (x == g) return true;
    }
    return false;
  }
};

inline constexpr size_t kMaxIdentityFieldBytes = 64;  // X.509 upper bound for CN and OU
inline constexpr size_t kMaxPeerGroups = 16;

// The error names the field and what is wrong with it.
Expected<PeerIdentity, std::string> peer_identity_from_certificate(const X509* cert);

}  // namespace dialout
