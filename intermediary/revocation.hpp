// Is a live session's certificate revoked by the CRL its worker's context
// holds now? A CRL reload only changes what new handshakes are checked
// against; the relay re-checks the sessions already up with this, each
// worker its own (only the owner touches a session's TLS, and each worker
// has its own SSL_CTX).
#pragma once

#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace dialout {

// True if `cert` is listed on a CRL of its issuer in `ctx`'s store.
bool certificate_revoked(SSL_CTX* ctx, X509* cert);

}  // namespace dialout
