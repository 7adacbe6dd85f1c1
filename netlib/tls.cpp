#include "netlib/tls.hpp"

#include "netlib/certificate_expiry.hpp"

#include "netlib/alpn.hpp"
#include "netlib/tls_detail.hpp"

#include <fmt/core.h>
#include <openssl/err.h>
#include <openssl/params.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

namespace dialout {

namespace tls_detail {
void SslCtxFree::operator()(SSL_CTX* p) const { SSL_CTX_free(p); }
void SslFree::operator()(SSL* p) const { SSL_free(p); }
void SessionFree::operator()(SSL_SESSION* p) const { SSL_SESSION_free(p); }
}  // namespace tls_detail

namespace {

using tls_detail::cn_of;
using tls_detail::drain_errors;
using tls_detail::with_errors;

struct StoreFree {
  void operator()(X509_STORE* p) const { X509_STORE_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};
struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
struct CrlFree {
  void operator()(X509_CRL* p) const { X509_CRL_free(p); }
};
using StorePtr = std::unique_ptr<X509_STORE, StoreFree>;

// Trust anchors plus (optionally) CRLs, built fresh each time so a reload
// never mutates a store a connection might be using.
Expected<StorePtr, std::string> build_store(const TlsFiles& f) {
  StorePtr store(X509_STORE_new());
  if (!store) return unexpected(with_errors("X509_STORE_new"));
  if (f.ca.empty()) return unexpected(std::string("no CA file given"));
  if (X509_STORE_load_file(store.get(), f.ca.c_str()) != 1) {
    return unexpected(with_errors(fmt::format("load CA {}", f.ca)));
  }
  if (!f.crl.empty()) {
    std::unique_ptr<BIO, BioFree> bio(BIO_new_file(f.crl.c_str(), "r"));
    if (!bio) return unexpected(with_errors(fmt::format("open CRL {}", f.crl)));
    int count = 0;
    for (;;) {
      std::unique_ptr<X509_CRL, CrlFree> crl(PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr));
      if (!crl) break;
      if (X509_STORE_add_crl(store.get(), crl.get()) != 1) {
        return unexpected(with_errors(fmt::format("add CRL from {}", f.crl)));
      }
      ++count;
    }
    ERR_clear_error();  // the end-of-file "no start line" is expected
    if (count == 0) return unexpected(fmt::format("load CRL {}: no CRL found", f.crl));
    X509_STORE_set_flags(store.get(), X509_V_FLAG_CRL_CHECK);
  }
  return store;
}

// Client side: keep the newest ticket (TLS 1.3 sends them after the
// handshake, so they arrive during SSL_read).
// A copy, not the connection's own object: SSL_free on a connection that
// ended without close_notify (a dead link, a roam — exactly when we want to
// resume) marks its current session not resumable, which would poison the
// cached ticket.
int on_new_session(SSL* ssl, SSL_SESSION* sess) {
  auto* cache = static_cast<tls_detail::SessionCache*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
  if (cache == nullptr || SSL_SESSION_is_resumable(sess) != 1) return 0;
  if (SSL_SESSION* copy = SSL_SESSION_dup(sess)) cache->last.reset(copy);
  return 0;  // the connection keeps its reference
}

// Our certificate chain and key into `ctx`, checked to belong together;
// errors name the file.
Expected<void, std::string> use_own_certificate(SSL_CTX* ctx, const TlsFiles& files) {
  if (SSL_CTX_use_certificate_chain_file(ctx, files.cert.c_str()) != 1)
    return unexpected(with_errors(fmt::format("load certificate {}", files.cert)));
  if (SSL_CTX_use_PrivateKey_file(ctx, files.key.c_str(), SSL_FILETYPE_PEM) != 1)
    return unexpected(with_errors(fmt::format("load key {}", files.key)));
  if (SSL_CTX_check_private_key(ctx) != 1)
    return unexpected(with_errors(fmt::format("key {} does not match {}", files.key, files.cert)));
  return {};
}

// Server side: seal new tickets with the ring's current key, open those of
// the current or the previous key, refuse the rest (0: a full handshake).
// The ring is the context's app data.
int on_ticket_key(SSL* ssl, unsigned char key_name[16], unsigned char* iv, EVP_CIPHER_CTX* cipher,
                  EVP_MAC_CTX* mac, int enc) {
  const auto* ring = static_cast<const TicketKeyRing*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
  if (ring == nullptr) return 0;
  const TicketKey* key = nullptr;
  if (enc == 1) {
    key = &ring->current;
    std::copy(key->name.begin(), key->name.end(), key_name);
    if (RAND_bytes(iv, EVP_MAX_IV_LENGTH) != 1) return -1;
  } else {
    key = ring->find(std::span<const uint8_t>(key_name, 16));
    if (key == nullptr) return 0;
  }
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, const_cast<uint8_t*>(key->hmac.data()), key->hmac.size()),
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_construct_end()};
  if (EVP_MAC_CTX_set_params(mac, params) != 1) return -1;
  int ok = enc == 1 ? EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key->aes.data(), iv)
                    : EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key->aes.data(), iv);
  if (ok != 1) return -1;
  // 2 on opening: resume, and send a fresh ticket under the current key.
  // Without it OpenSSL sends none after a TLS 1.3 resumption, and the
  // client's only ticket is spent (SSL_free marks a session that ended
  // without close_notify unresumable): every other reconnect would be a
  // full handshake.
  return enc == 1 ? 1 : 2;
}

// One CA signs the intermediary's and the sites' certificates, so the
// extended key usage is what tells them apart: a site certificate whose CN
// or SAN is the intermediary's name must not serve as the intermediary's,
// nor the intermediary's log in as a site. OpenSSL's purpose check (set
// below) refuses a certificate whose EKU lacks the usage, but passes one
// without the extension at all; this requires it to be present.
int require_peer_eku(int preverify_ok, X509_STORE_CTX* store) {
  if (preverify_ok != 1 || X509_STORE_CTX_get_error_depth(store) != 0) return preverify_ok;
  X509* leaf = X509_STORE_CTX_get_current_cert(store);
  auto* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  if (leaf == nullptr || ssl == nullptr) return preverify_ok;
  const uint32_t wanted = SSL_is_server(ssl) ? XKU_SSL_CLIENT : XKU_SSL_SERVER;
  if ((X509_get_extension_flags(leaf) & EXFLAG_XKUSAGE) == 0 || (X509_get_extended_key_usage(leaf) & wanted) == 0) {
    X509_STORE_CTX_set_error(store, X509_V_ERR_INVALID_PURPOSE);
    return 0;
  }
  return 1;
}

// Server: picks kAlpnProtocol if the client offers it; otherwise no ALPN
// at all (NOACK), never a refusal.
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned inlen,
                void*) {
  unsigned char* chosen = nullptr;
  unsigned char chosen_len = 0;
  if (SSL_select_next_proto(&chosen, &chosen_len, kAlpnWireList.data(), unsigned(kAlpnWireList.size()), in, inlen) !=
      OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_NOACK;
  *out = chosen;
  *outlen = chosen_len;
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace

const char* to_string(IoStatus s) {
  switch (s) {
    case TlsConnection::Status::Done: return "done";
    case TlsConnection::Status::WantRead: return "want-read";
    case TlsConnection::Status::WantWrite: return "want-write";
    case TlsConnection::Status::Closed: return "closed";
    case TlsConnection::Status::Error: return "error";
  }
  return "?";
}

// ---- TlsContext ----

Expected<TlsContext, std::string> TlsContext::server(const TlsFiles& files) { return make(files, true); }
Expected<TlsContext, std::string> TlsContext::client(const TlsFiles& files) { return make(files, false); }

Expected<TlsContext, std::string> TlsContext::make(const TlsFiles& files, bool server) {
  ERR_clear_error();
  TlsContext c;
  c.server_ = server;
  c.files_ = files;
  c.ctx_.reset(SSL_CTX_new(server ? TLS_server_method() : TLS_client_method()));
  if (!c.ctx_) return unexpected(with_errors("SSL_CTX_new"));
  c.bio_method_ = tls_detail::make_bio_method();
  if (!c.bio_method_) return unexpected(with_errors("BIO_meth_new"));
  SSL_CTX* ctx = c.ctx_.get();
  SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);

  bool has_cert = !files.cert.empty() || !files.key.empty();
  if (server && !has_cert) return unexpected(std::string("server needs cert and key"));
  if (has_cert) {
    if (auto ok = use_own_certificate(ctx, files); !ok) return unexpected(ok.error());
    if (auto t = dialout::certificate_not_after(SSL_CTX_get0_certificate(ctx))) c.not_after_ = *t;
  }
  auto store = build_store(files);
  if (!store) return unexpected(store.error());
  SSL_CTX_set_cert_store(ctx, store->release());
  SSL_CTX_set_verify_depth(ctx, 4);
  // Explicit rather than libssl's default for the role (the same today).
  if (SSL_CTX_set_purpose(ctx, server ? X509_PURPOSE_SSL_CLIENT : X509_PURPOSE_SSL_SERVER) != 1)
    return unexpected(with_errors("set certificate purpose"));

  if (server) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, require_peer_eku);
    // Tells clients which CA we accept; also required for resumption when
    // client certificates are verified (session id context).
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(files.ca.c_str())) {
      SSL_CTX_set_client_CA_list(ctx, names);
    }
    static const unsigned char kSidCtx[] = "dialout";
    SSL_CTX_set_session_id_context(ctx, kSidCtx, sizeof kSidCtx - 1);
    // Confirms our ALPN id when a site offers it; a client offering none
    // (an older site) still gets in: the id matters before TLS starts, to an
    // intermediary sharing its port (intermediary/port_share.hpp).
    SSL_CTX_set_alpn_select_cb(ctx, select_alpn, nullptr);
    // Resumption is by stateless tickets only (the ticket-key ring): an
    // internal cache would hold every session (client certificate
    // included) for nothing, and OpenSSL walks it every 255 handshakes.
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  } else {
    // Every site offers the id: a port-sharing intermediary tells sites
    // from browsers by it in the ClientHello (intermediary/client_hello.hpp).
    // Returns 0 on success, unlike most of libssl.
    if (SSL_CTX_set_alpn_protos(ctx, kAlpnWireList.data(), unsigned(kAlpnWireList.size())) != 0)
      return unexpected(with_errors("set ALPN protocols"));
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, require_peer_eku);
    c.cache_ = std::make_unique<tls_detail::SessionCache>();
    SSL_CTX_set_app_data(ctx, c.cache_.get());
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, on_new_session);
  }
  ERR_clear_error();
  return c;
}

TlsContext& TlsContext::operator=(TlsContext&& o) noexcept {
  if (this != &o) {
    if (ctx_) SSL_CTX_set_app_data(ctx_.get(), nullptr);
    ctx_ = std::move(o.ctx_);
    cache_ = std::move(o.cache_);
    ticket_keys_ = std::move(o.ticket_keys_);
    not_after_ = o.not_after_;
    bio_method_ = std::move(o.bio_method_);
    files_ = std::move(o.files_);
    server_ = o.server_;
    io_mode_ = o.io_mode_;
    read_buffer_ = o.read_buffer_;
  }
  return *this;
}

TlsContext::~TlsContext() {
  // Live connections keep the SSL_CTX alive (refcount); make sure a late
  // ticket does not reach the cache we are about to free.
  if (ctx_) SSL_CTX_set_app_data(ctx_.get(), nullptr);
}

Expected<void, std::string> TlsContext::try_reload_crl() {
  if (!server_) return try_reload_crl(TicketKeyRing{});
  auto key = random_ticket_key();
  if (!key) return unexpected(key.error());
  return try_reload_crl(TicketKeyRing{*key, std::nullopt, 0});
}

Expected<void, std::string> TlsContext::try_reload_crl(const TicketKeyRing& keys) {
  if (!ctx_) return unexpected(std::string("empty TLS context"));
  ERR_clear_error();
  auto store = build_store(files_);
  if (!store) return unexpected(store.error());
  // Single-threaded use: no handshake is mid-verification here, so freeing
  // the old store is safe; established connections no longer use it.
  SSL_CTX_set_cert_store(ctx_.get(), store->release());
  if (server_) return set_ticket_keys(keys);
  return {};
}

Expected<void, std::string> TlsContext::try_reload_certificate() {
  if (!ctx_) return unexpected(std::string("empty TLS context"));
  if (files_.cert.empty() && files_.key.empty()) return {};
  ERR_clear_error();
  std::unique_ptr<SSL_CTX, tls_detail::SslCtxFree> scratch(
      SSL_CTX_new(server_ ? TLS_server_method() : TLS_client_method()));
  if (!scratch) return unexpected(with_errors("SSL_CTX_new"));
  if (auto ok = use_own_certificate(scratch.get(), files_); !ok) return ok;
  // The files loaded: now into the live context (read again: a file
  // replaced in between fails here and says so).
  if (auto ok = use_own_certificate(ctx_.get(), files_); !ok) return ok;
  if (auto t = dialout::certificate_not_after(SSL_CTX_get0_certificate(ctx_.get()))) not_after_ = *t;
  ERR_clear_error();
  return {};
}

Expected<TicketKey, std::string> TlsContext::random_ticket_key() {
  std::array<uint8_t, TicketKey::kBytes> bytes{};
  if (RAND_bytes(bytes.data(), int(bytes.size())) != 1) return unexpected(with_errors("RAND_bytes"));
  return TicketKey::from_bytes(bytes);
}

Expected<void, std::string> TlsContext::set_ticket_keys(const TicketKeyRing& ring) {
  if (!ctx_) return unexpected(std::string("empty TLS context"));
  if (!server_) return unexpected(std::string("ticket keys are a server's"));
  if (!ticket_keys_) {
    ticket_keys_ = std::make_unique<TicketKeyRing>(ring);
    SSL_CTX_set_app_data(ctx_.get(), ticket_keys_.get());
    if (SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx_.get(), on_ticket_key) != 1)
      return unexpected(with_errors("set ticket key callback"));
  } else {
    *ticket_keys_ = ring;  // on the context's own thread: no handshake runs now
  }
  return {};
}

Expected<std::string, std::string> TlsContext::certificate_cn(const std::string& path) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_file(path.c_str(), "r"));
  if (!bio) return unexpected(with_errors(fmt::format("open {}", path)));
  std::unique_ptr<X509, X509Free> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return unexpected(with_errors(fmt::format("read certificate {}", path)));
  return cn_of(cert.get());
}

}  // namespace dialout
