// Two real TLS 1.3 endpoints (contexts from TestPki) joined by an
// in-memory BIO pair and driven on the calling thread: a full handshake
// with certificates, no sockets, no waiting.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "netlib/expected.hpp"
#include "netlib/tls.hpp"

namespace dialout {

struct MemoryTlsPair {
  struct SslFree {
    void operator()(SSL* p) const { SSL_free(p); }
  };
  struct SessionFree {
    void operator()(SSL_SESSION* p) const { SSL_SESSION_free(p); }
  };
  using SslPtr = std::unique_ptr<SSL, SslFree>;
  using SessionPtr = std::unique_ptr<SSL_SESSION, SessionFree>;

  SslPtr client;
  SslPtr server;

  // Handshakes to completion. `ciphersuites`: TLS 1.3 suites for both ends
  // (empty: OpenSSL's default). `resume`: a session the client offers.
  static Expected<MemoryTlsPair, std::string> connect(TlsContext& client_ctx, TlsContext& server_ctx,
                                                      const std::string& ciphersuites = {},
                                                      SSL_SESSION* resume = nullptr);
  // Lets the client read what the server sent after the handshake (TLS 1.3
  // session tickets) and returns the client's resumable session.
  SessionPtr client_session();
};

}  // namespace dialout
