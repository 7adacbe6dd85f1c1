#include "tests/support/memory_tls_pair.hpp"

#include <openssl/err.h>

namespace dialout {

Expected<MemoryTlsPair, std::string> MemoryTlsPair::connect(TlsContext& client_ctx, TlsContext& server_ctx,
                                                            const std::string& ciphersuites, SSL_SESSION* resume) {
  MemoryTlsPair p;
  p.client.reset(SSL_new(client_ctx.native()));
  p.server.reset(SSL_new(server_ctx.native()));
  if (!p.client || !p.server) return unexpected(std::string("SSL_new"));
  BIO* client_bio = nullptr;
  BIO* server_bio = nullptr;
  if (BIO_new_bio_pair(&client_bio, 0, &server_bio, 0) != 1) return unexpected(std::string("BIO_new_bio_pair"));
  SSL_set_bio(p.client.get(), client_bio, client_bio);
  SSL_set_bio(p.server.get(), server_bio, server_bio);
  if (!ciphersuites.empty() && (SSL_set_ciphersuites(p.client.get(), ciphersuites.c_str()) != 1 ||
                                SSL_set_ciphersuites(p.server.get(), ciphersuites.c_str()) != 1))
    return unexpected("bad ciphersuites " + ciphersuites);
  if (SSL_set1_host(p.client.get(), "intermediary") != 1) return unexpected(std::string("SSL_set1_host"));
  if (resume && SSL_set_session(p.client.get(), resume) != 1) return unexpected(std::string("SSL_set_session"));
  SSL_set_connect_state(p.client.get());
  SSL_set_accept_state(p.server.get());
  bool client_done = false, server_done = false;
  for (int round = 0; round < 32 && !(client_done && server_done); ++round) {
    for (auto [ssl, done] : {std::pair{p.client.get(), &client_done}, std::pair{p.server.get(), &server_done}}) {
      if (*done) continue;
      int r = SSL_do_handshake(ssl);
      if (r == 1) {
        *done = true;
        continue;
      }
      int e = SSL_get_error(ssl, r);
      if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
        char buf[256];
        ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
        return unexpected(std::string("handshake failed: ") + buf);
      }
    }
  }
  if (!client_done || !server_done) return unexpected(std::string("handshake did not finish"));
  return p;
}

MemoryTlsPair::SessionPtr MemoryTlsPair::client_session() {
  unsigned char byte = 0;
  size_t got = 0;
  // Nothing to read but the tickets: the read ends with WANT_READ.
  (void)SSL_read_ex(client.get(), &byte, 1, &got);
  ERR_clear_error();
  return SessionPtr(SSL_get1_session(client.get()));
}

}  // namespace dialout
