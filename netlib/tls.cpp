#include "netlib/tls.hpp"

#include <arpa/inet.h>
#include <fmt/core.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstring>

namespace dialout {

namespace tls_detail {
void SslCtxFree::operator()(SSL_CTX* p) const { SSL_CTX_free(p); }
void SslFree::operator()(SSL* p) const { SSL_free(p); }
void SessionFree::operator()(SSL_SESSION* p) const { SSL_SESSION_free(p); }
}  // namespace tls_detail

namespace {

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

// Drains OpenSSL's thread-local error queue into one line; the queue must
// not leak into the next, unrelated operation.
std::string drain_errors() {
  std::string out;
  unsigned long e;
  while ((e = ERR_get_error()) != 0) {
    const char* reason = ERR_reason_error_string(e);
    std::string item = reason ? reason : fmt::format("error {:#x}", e);
    if (out.find(item) != std::string::npos) continue;
    if (!out.empty()) out += "; ";
    out += item;
  }
  return out;
}

std::string with_errors(std::string_view what) {
  std::string e = drain_errors();
  return e.empty() ? std::string(what) : fmt::format("{}: {}", what, e);
}

bool is_ip_literal(const std::string& s) {
  unsigned char buf[16];
  return ::inet_pton(AF_INET, s.c_str(), buf) == 1 || ::inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

std::string cn_of(X509* cert) {
  if (cert == nullptr) return {};
  X509_NAME* name = X509_get_subject_name(cert);
  int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (idx < 0) return {};
  ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
  unsigned char* utf8 = nullptr;
  int len = ASN1_STRING_to_UTF8(&utf8, data);
  if (len < 0) return {};
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
  OPENSSL_free(utf8);
  return out;
}

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
int on_new_session(SSL* ssl, SSL_SESSION* sess) {
  auto* cache = static_cast<tls_detail::SessionCache*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
  if (cache == nullptr || SSL_SESSION_is_resumable(sess) != 1) return 0;
  cache->last.reset(sess);
  return 1;  // we took the reference
}

Expected<void, std::string> rotate_ticket_keys(SSL_CTX* ctx) {
  unsigned char keys[80];  // name(16) + HMAC(32) + AES(32), OpenSSL 3 layout
  if (RAND_bytes(keys, sizeof keys) != 1) return unexpected(with_errors("RAND_bytes"));
  if (SSL_CTX_set_tlsext_ticket_keys(ctx, keys, sizeof keys) != 1) {
    return unexpected(with_errors("set ticket keys"));
  }
  return {};
}

}  // namespace

const char* to_string(TlsConnection::Status s) {
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
  SSL_CTX* ctx = c.ctx_.get();
  SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);

  bool has_cert = !files.cert.empty() || !files.key.empty();
  if (server && !has_cert) return unexpected(std::string("server needs cert and key"));
  if (has_cert) {
    if (SSL_CTX_use_certificate_chain_file(ctx, files.cert.c_str()) != 1) {
      return unexpected(with_errors(fmt::format("load certificate {}", files.cert)));
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, files.key.c_str(), SSL_FILETYPE_PEM) != 1) {
      return unexpected(with_errors(fmt::format("load key {}", files.key)));
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
      return unexpected(with_errors(fmt::format("key {} does not match {}", files.key, files.cert)));
    }
  }
  auto store = build_store(files);
  if (!store) return unexpected(store.error());
  SSL_CTX_set_cert_store(ctx, store->release());
  SSL_CTX_set_verify_depth(ctx, 4);

  if (server) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    // Tells clients which CA we accept; also required for resumption when
    // client certificates are verified (session id context).
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(files.ca.c_str())) {
      SSL_CTX_set_client_CA_list(ctx, names);
    }
    static const unsigned char kSidCtx[] = "dialout";
    SSL_CTX_set_session_id_context(ctx, kSidCtx, sizeof kSidCtx - 1);
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
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
    files_ = std::move(o.files_);
    server_ = o.server_;
  }
  return *this;
}

TlsContext::~TlsContext() {
  // Live connections keep the SSL_CTX alive (refcount); make sure a late
  // ticket does not reach the cache we are about to free.
  if (ctx_) SSL_CTX_set_app_data(ctx_.get(), nullptr);
}

Expected<void, std::string> TlsContext::try_reload_crl() {
  if (!ctx_) return unexpected(std::string("empty TLS context"));
  ERR_clear_error();
  auto store = build_store(files_);
  if (!store) return unexpected(store.error());
  // Single-threaded use: no handshake is mid-verification here, so freeing
  // the old store is safe; established connections no longer use it.
  SSL_CTX_set_cert_store(ctx_.get(), store->release());
  if (server_) {
    auto r = rotate_ticket_keys(ctx_.get());
    if (!r) return r;
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

// ---- TlsConnection ----

Expected<TlsConnection, std::string> TlsConnection::accept(TlsContext& ctx, UniqueFd fd) {
  ERR_clear_error();
  TlsConnection c;
  c.fd_ = std::move(fd);
  c.ssl_.reset(SSL_new(ctx.native()));
  if (!c.ssl_) return unexpected(with_errors("SSL_new"));
  if (SSL_set_fd(c.ssl_.get(), c.fd_.get()) != 1) return unexpected(with_errors("SSL_set_fd"));
  SSL_set_accept_state(c.ssl_.get());
  return c;
}

Expected<TlsConnection, std::string> TlsConnection::connect(TlsContext& ctx, UniqueFd fd,
                                                             std::string_view server_name) {
  ERR_clear_error();
  TlsConnection c;
  c.fd_ = std::move(fd);
  c.ssl_.reset(SSL_new(ctx.native()));
  if (!c.ssl_) return unexpected(with_errors("SSL_new"));
  SSL* ssl = c.ssl_.get();
  if (SSL_set_fd(ssl, c.fd_.get()) != 1) return unexpected(with_errors("SSL_set_fd"));
  SSL_set_connect_state(ssl);
  if (!server_name.empty()) {
    std::string name(server_name);
    if (is_ip_literal(name)) {
      // No SNI for addresses (RFC 6066); match the certificate's IP SAN.
      if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str()) != 1) {
        return unexpected(with_errors(fmt::format("bad server address {}", name)));
      }
    } else {
      if (SSL_set_tlsext_host_name(ssl, name.c_str()) != 1 || SSL_set1_host(ssl, name.c_str()) != 1) {
        return unexpected(with_errors(fmt::format("bad server name {}", name)));
      }
    }
  }
  // Offer the last ticket. It is only accepted by a server holding the
  // ticket key (ours, or a peer intermediary sharing it), so it is not
  // tied to the name used the first time.
  auto* cache = static_cast<tls_detail::SessionCache*>(SSL_CTX_get_app_data(ctx.native()));
  if (cache != nullptr && cache->last && SSL_SESSION_is_resumable(cache->last.get()) == 1) {
    SSL_set_session(ssl, cache->last.get());
  }
  return c;
}

TlsConnection::Status TlsConnection::map_error(int ret, const char* op) {
  int err = SSL_get_error(ssl_.get(), ret);
  want_write_ = false;
  switch (err) {
    case SSL_ERROR_WANT_READ:
      return Status::WantRead;
    case SSL_ERROR_WANT_WRITE:
      want_write_ = true;
      return Status::WantWrite;
    case SSL_ERROR_ZERO_RETURN:
      last_error_ = "peer closed the connection";
      return Status::Closed;
    case SSL_ERROR_SYSCALL: {
      int e = errno;
      std::string queued = drain_errors();
      if (!queued.empty()) {
        last_error_ = fmt::format("{}: {}", op, queued);
      } else if (e != 0 && e != EAGAIN) {
        last_error_ = fmt::format("{}: {}", op, std::strerror(e));
      } else {
        last_error_ = fmt::format("{}: connection closed", op);
        return Status::Closed;
      }
      return Status::Error;
    }
    default:
      break;
  }
  unsigned long first = ERR_peek_error();
  long verify = SSL_get_verify_result(ssl_.get());
  std::string queued = drain_errors();
  if (verify != X509_V_OK && !handshake_done()) {
    last_error_ = fmt::format("certificate verify failed: {}", X509_verify_cert_error_string(verify));
    return Status::Error;
  }
  if (ERR_GET_LIB(first) == ERR_LIB_SSL && ERR_GET_REASON(first) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
    // A peer that died; for the caller this is the end of the stream.
    last_error_ = fmt::format("{}: peer closed without close_notify", op);
    return Status::Closed;
  }
  last_error_ = fmt::format("{}: {}", op, queued.empty() ? "TLS error" : queued);
  return Status::Error;
}

TlsConnection::Status TlsConnection::handshake() {
  ERR_clear_error();
  errno = 0;
  int r = SSL_do_handshake(ssl_.get());
  if (r == 1) {
    want_write_ = false;
    return Status::Done;
  }
  return map_error(r, "handshake");
}

Expected<size_t, TlsConnection::Status> TlsConnection::read(std::span<uint8_t> buf) {
  if (buf.empty()) {
    last_error_ = "read into an empty buffer";
    return unexpected(Status::Error);
  }
  ERR_clear_error();
  errno = 0;
  size_t n = 0;
  int r = SSL_read_ex(ssl_.get(), buf.data(), buf.size(), &n);
  if (r == 1 && n > 0) {
    want_write_ = false;
    return n;
  }
  return unexpected(map_error(r, "read"));
}

Expected<size_t, TlsConnection::Status> TlsConnection::write(std::span<const uint8_t> buf) {
  if (buf.empty()) return size_t{0};
  ERR_clear_error();
  errno = 0;
  size_t n = 0;
  int r = SSL_write_ex(ssl_.get(), buf.data(), buf.size(), &n);
  if (r == 1) {
    want_write_ = false;
    return n;
  }
  return unexpected(map_error(r, "write"));
}

void TlsConnection::shutdown() {
  if (!ssl_ || !handshake_done()) return;
  ERR_clear_error();
  SSL_shutdown(ssl_.get());
  ERR_clear_error();
}

std::string TlsConnection::peer_identity() const {
  if (!ssl_ || SSL_get_verify_result(ssl_.get()) != X509_V_OK) return {};
  return cn_of(SSL_get0_peer_certificate(ssl_.get()));
}

}  // namespace dialout
